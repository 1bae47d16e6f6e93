"""/api/v1/forms: the published checklists, whole or in one language."""
from __future__ import annotations

from ..auth.access import ANY_ROLE, require_role
from ..db import paginate
from ..errors import ValidationFailed
from ..rest import Blueprint, page_args, page_of
from . import service
from .schemas import FormQuery, FormSummary, VersionOut, VersionQuery

blp = Blueprint("forms", __name__, url_prefix="/api/v1",
                description="Survey forms (checklists) and their published versions.")


@blp.route("/forms")
@require_role(*ANY_ROLE)
@blp.arguments(FormQuery, location="query")
@blp.response(200, page_of(FormSummary))
def list_forms(args):
    """Every form with its title (from the newest version) and its published version numbers."""
    return paginate(service.list_forms_query(), **page_args(args))


# A number past the 32-bit column is no version (a 404), not a database overflow (a 500).
@blp.route("/forms/<key>/versions/<int(max=2147483647):number>")
@require_role(*ANY_ROLE)
@blp.arguments(VersionQuery, location="query")
@blp.response(200, VersionOut)
def get_version(args, key, number):
    """One version's whole definition; with ?lang= every label is that language's text."""
    version = service.get_version(key, number)
    definition = version.definition
    lang = args.get("lang")
    if lang is not None:
        if lang not in definition["languages"]:
            raise ValidationFailed(
                f"This form is written in {', '.join(definition['languages'])}.",
                code="language_not_in_form", errors={"query": {"lang": ["Not in this form."]}})
        definition = service.localize(definition, lang)
    return {**definition, "sha256": version.sha256, "published_at": version.published_at,
            "retired": version.retired_at is not None}
