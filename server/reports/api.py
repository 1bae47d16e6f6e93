"""/api/v1/reports (supervisors and admins), /api/v1/public/reports and /api/v1/opendata (anyone)."""
from __future__ import annotations

import base64
import re

from flask import Response, current_app, request, stream_with_context, url_for

from ..auth.access import require_role, require_user
from ..auth.models import Role
from ..db import get_or_404, paginate, unit_of_work
from ..errors import NotFound
from ..extensions import db
from ..idempotency import idempotent, remember
from ..offices.models import Office
from ..rest import Blueprint, page_args, page_of
from ..validators import CODE_PATTERN
from ..i18n import page_language
from . import export, published, service, stream
from .office import office_report
from .ranking import ranking
from .models import PublishedReport
from .schemas import (OfficeReportOut, OfficeReportQuery, OpenDataQuery, PublishedOut,
                      PublishedQuery, PublishIn, RankingOut, RankingQuery)

blp = Blueprint("reports", __name__, url_prefix="/api/v1",
                description="Office rankings and reports; published snapshots and open data.")

STAFF = (Role.SUPERVISOR, Role.ADMIN)
PUBLIC = {"security": []}
FILE_FORMATS = {"csv": (stream.ranking_csv, export.CSV_TYPE),
                "xlsx": (stream.ranking_xlsx, export.XLSX_TYPE)}


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/reports/ranking")
@require_role(*STAFF)
@blp.arguments(RankingQuery, location="query")
@blp.response(200, RankingOut)
def get_ranking(args):
    """Offices ranked by mean score within their kind for a period, with intervals, bands,
    sections, critical findings and change. format=csv (UTF-8 with BOM) or format=xlsx sends
    the same ranking as an attachment, headers in `lang`."""
    scope = service.resolve_scope(user=require_user(), region=args.get("region"))
    fmt, lang = args["format"], args.get("lang")
    report = ranking(period=args["period"], kind=args.get("kind"), scope=scope,
                             lang=lang if fmt == "json" else None,
                             min_visits=args.get("min_visits"))
    if fmt == "json":
        # The service's dict is already what RankingOut gives (test_summaries checks it):
        # serialised as it is, without dumping 5,000 items through the schema again.
        return current_app.json.response(report)
    render, mimetype = FILE_FORMATS[fmt]
    name = f"adal-ranking-{report['period']}-{report['kind'] or 'all'}-{report['region'] or 'all'}"
    # Streamed: row by row (stream.py); the request context stays for the translations.
    return _attachment(stream_with_context(render(report, lang or page_language())), mimetype,
                       f"{name}.{fmt}")


@blp.route("/reports/offices/<code>")
@require_role(*STAFF)
@blp.arguments(OfficeReportQuery, location="query")
@blp.response(200, OfficeReportOut)
def get_office_report(args, code):
    """One office in a period: scores, sections, critical findings, change, the trend over
    the last four periods and the share of its recommendations carried out."""
    if not re.match(CODE_PATTERN, code):  # never send text PostgreSQL refuses (NUL) to it
        raise NotFound(f"No office with code={code[:40]!r}.")
    office = get_or_404(Office, code=code)
    service.check_office_scope(user=require_user(), office=office)
    return office_report(office=office, period=args["period"], lang=args.get("lang"))


def _published_view(report: PublishedReport) -> dict:
    return {"slug": report.slug, "period": report.data.get("period", report.period),
            "kind": report.kind,
            "region": report.region, "sha256": report.sha256,
            "published_at": report.published_at,
            "url": url_for("reports.get_public_report", slug=report.slug),
            "page": url_for("report_pages.public_report", slug=report.slug)}


def _replay_published(record) -> dict:
    return _published_view(db.session.get(PublishedReport, record.resource_ids[0]))


@blp.route("/reports/publish", methods=["POST"])
@require_role(*STAFF)
@blp.arguments(PublishIn)
@blp.response(201, PublishedOut)
@idempotent(_replay_published)
def publish_report(data):
    """Freeze the ranking of a period (kind and region optional) with its SHA-256; the public
    URL serves exactly that snapshot from then on. Idempotency-Key supported."""
    user = require_user()
    with unit_of_work():
        scope = service.resolve_scope(user=user, region=data.get("region"), location="json")
        report = published.publish_report(period=data["period"], kind=data.get("kind"),
                                        scope=scope, actor=user,
                                        min_visits=data.get("min_visits"))
        remember("published_report", [report.id])
        view = _published_view(report)
    return view, 201, {"Location": view["url"]}


@blp.route("/reports/published")
@require_role(*STAFF)
@blp.arguments(PublishedQuery, location="query")
@blp.response(200, page_of(PublishedOut))
def list_published(args):
    """Published reports, newest first; filter by period."""
    paging = page_args(args)
    page = paginate(published.published_reports_query(period=args.get("period")), **paging)
    page["items"] = [_published_view(report) for report in page["items"]]
    return page


@blp.route("/public/reports/<slug>")
@blp.doc(**PUBLIC)
@blp.response(200, RankingOut, description="The frozen snapshot, byte for byte as hashed: its "
              "SHA-256 is in ETag and Repr-Digest.")
def get_public_report(slug):
    """A published report, exactly as frozen (no sign-in). A snapshot that no longer matches
    its hash is never served: 500 snapshot_corrupt."""
    report = published.get_published(slug)
    body = published.verified_snapshot(report).encode("utf-8")
    digest = base64.b64encode(bytes.fromhex(report.sha256)).decode()
    response = Response(body, mimetype="application/json",
                        headers={"Repr-Digest": f"sha-256=:{digest}:",
                                 "Cache-Control": "public, max-age=300"})
    response.set_etag(report.sha256)
    return response.make_conditional(request)


@blp.route("/opendata/visits.csv")
@blp.doc(**PUBLIC)
@blp.arguments(OpenDataQuery, location="query")
@blp.alt_response(200, description="CSV, one row per approved visit; anonymous.",
                  content_type="text/csv", success=True)
def get_opendata_visits(args):
    """Approved visits of a published period as CSV (no sign-in): office, day, scores,
    findings; never the inspector, the time of day, media or the visit's id. 404 unless a
    report of the period is published."""
    sections, rows = published.opendata_visits(period=args["period"])
    return _attachment(export.opendata_csv(sections, rows), export.CSV_TYPE,
                       f"adal-visits-{args['period'].label}.csv")
