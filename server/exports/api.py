"""GET /api/v1/exports/visits: every answer of the filtered visits as a file."""
from __future__ import annotations

import os

from flask import Response, request, stream_with_context

from ..auth.access import require_role, require_user
from ..auth.models import Role
from ..rest import Blueprint
from ..i18n import page_language
from . import writers
from .schemas import ExportArgs
from .service import Export

blp = Blueprint("exports", __name__, url_prefix="/api/v1",
                description="Exports of every answer: CSV, XLSX, JSON; wide or long.")

TYPES = {"csv": "text/csv",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "json": "application/json"}


def _filename(args: dict) -> str:
    period = args["period"].label if args.get("period") is not None else "all"
    period = period.replace("..", "_")
    return f"adal-visits-{period}-{args['shape']}.{args['format']}"


@blp.route("/exports/visits")
@require_role(Role.SUPERVISOR, Role.ADMIN)
@blp.arguments(ExportArgs, location="query")
@blp.alt_response(200, description="The file, as an attachment: text/csv, XLSX or JSON.",
                  content_type="application/octet-stream", success=True)
def export_visits(args):
    """Every answer of the visits you may see that match the filters (those of the visits
    table), sorted as asked: format=csv|xlsx|json, shape=wide (a row per visit) or long (a row
    per answer), lang= for names and choice labels. Supervisors get only their regions;
    inspectors may not export (403). Answers are shown as corrected by supervisors. Streamed:
    memory stays flat whatever the number of visits."""
    fmt, shape = args.pop("format"), args.pop("shape")
    lang = args.pop("lang", None) or page_language()
    export = Export(user=require_user(), filters=args, lang=lang, media_base=request.url_root)
    headers = {"Content-Disposition":
               f'attachment; filename="{_filename({**args, "format": fmt, "shape": shape})}"',
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if fmt == "xlsx":
        path = writers.xlsx_file(export, shape, directory=None)
        headers["Content-Length"] = str(os.path.getsize(path))
        return Response(writers.file_chunks(path), mimetype=TYPES[fmt], headers=headers,
                        direct_passthrough=True)
    stream = writers.csv_stream if fmt == "csv" else writers.json_stream
    return Response(stream_with_context(stream(export, shape)), mimetype=TYPES[fmt],
                    headers=headers)
