"""/api/v1/regions and /api/v1/offices: read by every signed-in user, changed by admins."""
from __future__ import annotations

import re
from typing import TypeVar

from flask import request
from flask.views import MethodView

from ..auth.access import ANY_ROLE, require_role, require_user
from ..auth.models import Role
from ..db import get_or_404, paginate, unit_of_work
from ..errors import AppError, NotFound
from ..extensions import db
from ..rest import Blueprint, PageArgs, page_args, page_of, request_body
from ..validators import CODE_PATTERN
from . import service
from .models import Office, Region
from .schemas import (ImportResult, OfficeIn, OfficeOut, OfficePatch, OfficeQuery, RegionIn,
                      RegionOut, RegionPatch)

T = TypeVar("T", Office, Region)

blp = Blueprint("offices", __name__, url_prefix="/api/v1",
                description="Regions and the offices inspectors visit.")


@blp.record_once
def _install_sql_functions(state) -> None:
    """The office search needs adal_fold() on SQLite connections (see service.UnicodeLower)."""
    with state.app.app_context():
        service.register_sqlite_functions(db.engine)


def _by_code(model: type[T], code: str) -> T:
    """The row with this code, or 404. A code the schemas would never accept is a 404 without
    asking the database: PostgreSQL refuses a NUL in a text parameter with an error (a 500)."""
    if not re.match(CODE_PATTERN, code):  # re.match, as the code validator does
        raise NotFound(f"No {model.__name__.lower()} with code={code!r}.")
    return get_or_404(model, code=code)


@blp.route("/regions")
class Regions(MethodView):
    @require_role(*ANY_ROLE)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(RegionOut))
    def get(self, args):
        """List regions."""
        return paginate(service.list_regions_query(), **page_args(args))

    @require_role(Role.ADMIN)
    @blp.arguments(RegionIn)
    @blp.response(201, RegionOut)
    def post(self, data):
        """Add a region."""
        with unit_of_work():
            return service.create_region(**data, actor=require_user())


@blp.route("/regions/<code>")
class RegionItem(MethodView):
    @require_role(*ANY_ROLE)
    @blp.response(200, RegionOut)
    def get(self, code):
        """One region."""
        return _by_code(Region, code)

    @require_role(Role.ADMIN)
    @blp.arguments(RegionPatch)
    @blp.response(200, RegionOut)
    def patch(self, data, code):
        """Rename a region."""
        with unit_of_work():
            return service.update_region(region=_by_code(Region, code), name=data["name"],
                                         actor=require_user())


@blp.route("/offices")
class Offices(MethodView):
    @require_role(*ANY_ROLE)
    @blp.arguments(OfficeQuery, location="query")
    @blp.response(200, page_of(OfficeOut))
    def get(self, args):
        """List offices, filtered by region, kind, active flag or a search text."""
        paging = page_args(args)
        return paginate(service.list_offices_query(**args), **paging)

    @require_role(Role.ADMIN)
    @blp.arguments(OfficeIn)
    @blp.response(201, OfficeOut)
    def post(self, data):
        """Add an office."""
        with unit_of_work():
            return service.create_office(data=data, actor=require_user())


@blp.route("/offices/<code>")
class OfficeItem(MethodView):
    @require_role(*ANY_ROLE)
    @blp.response(200, OfficeOut)
    def get(self, code):
        """One office."""
        return _by_code(Office, code)

    @require_role(Role.ADMIN)
    @blp.arguments(OfficePatch)
    @blp.response(200, OfficeOut)
    def patch(self, data, code):
        """Change an office; the code stays."""
        with unit_of_work():
            return service.update_office(office=_by_code(Office, code), changes=data,
                                         actor=require_user())


@blp.route("/offices/import", methods=["POST"])
@require_role(Role.ADMIN)
@blp.response(201, ImportResult)
@blp.doc(requestBody={"content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object",
                                       "properties": {"file": {"type": "string",
                                                               "format": "binary"}}}}}})
def import_offices():
    """Create offices from a CSV file (raw body or multipart field 'file'): all rows or none."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise AppError("Send the CSV in the multipart field 'file'.", code="csv_missing",
                           status=400)
        # The file name goes on the audit log: printable characters only.
        name = "".join(ch for ch in upload.filename or "" if ch.isprintable())
        raw, source = upload.read(), name or "upload"
    else:
        raw, source = request_body(request), "request body"
    with unit_of_work():
        offices = service.import_offices(raw=raw, actor=require_user(), source=source[:200])
        return {"created": len(offices), "codes": [o.code for o in offices]}
