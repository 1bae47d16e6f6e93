"""Report test data: approved (or not) visits with their section scores and critical findings,
inserted directly. Add and flush, never commit: the test decides (the `commit` fixture)."""
from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from server.extensions import db
from server.forms.models import FormVersion, SurveyForm
from server.offices.models import Office, Region
from server.reports import summaries
from server.visits.models import Visit, VisitFinding, VisitSectionScore
from tests import factories

TZ = ZoneInfo("Asia/Almaty")
_seq = itertools.count(1)
SECTIONS = ("queue", "integrity")
CRITICAL = ("D01", "D03")


def local(*args) -> datetime:
    """A moment given in the offices' local time (Asia/Almaty), as aware UTC."""
    return datetime(*args, tzinfo=TZ).astimezone(timezone.utc)


MID_H2 = local(2026, 9, 15, 10, 0)   # inside 2026H2
MID_H1 = local(2026, 3, 16, 11, 0)   # inside 2026H1


def definition(key: str) -> dict:
    """A small form definition: two sections, two critical questions, titles in 4 languages."""
    return {"key": key, "version": 1, "languages": ["kk", "ru", "en", "uz"],
            "title": factories.names("Report form"),
            "sections": [
                {"id": "queue", "title": factories.names("Queue"), "weight": 50, "questions": [
                    {"id": "B01", "type": "yes_no", "label": factories.names("Ticket given")}]},
                {"id": "integrity", "title": factories.names("Integrity"), "weight": 50,
                 "questions": [
                     {"id": "D01", "type": "yes_no", "critical": ". == 'yes'",
                      "label": factories.names("Bribe asked")},
                     {"id": "D03", "type": "yes_no", "critical": ". == 'yes'",
                      "label": factories.names("Fixer approached")}]}]}


class World:
    """One form version, one inspector, a home region; offices and visits on demand.

    Keeps ids and codes only, so one World serves several `commit(...)` calls."""

    def __init__(self):
        n = next(_seq)
        body = definition(f"report-form-{n}")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        form = SurveyForm(key=body["key"])
        version = FormVersion(form=form, version=1, definition=body, sha256=digest,
                              source="tests")
        db.session.add_all([form, version])
        inspector = factories.user(role="inspector", login=f"report-insp-{n}")
        self.region = factories.region(code=f"REG{n}").code
        db.session.flush()
        self.version_id, self.inspector_id = version.id, inspector.id

    def office(self, code: str, *, kind: str = "service_centre", region: str | None = None,
               name: dict | str | None = None, active: bool = True) -> Office:
        """An office in the home region (or the region with code `region`, made if new)."""
        if isinstance(name, str):
            name = {lang: name for lang in ("kk", "ru", "en", "uz")}
        code_of_region = region or self.region
        region_row = (db.session.query(Region).filter_by(code=code_of_region).one_or_none()
                      or factories.region(code=code_of_region))
        return factories.office(code=code, kind=kind, region=region_row,
                                name=name or factories.names(f"Office {code}"), active=active)

    def visit(self, office: Office | str, score: float | None, *, when: datetime = MID_H2,
              status: str = "approved", sections: dict | None = None,
              findings: tuple | list = ()) -> Visit:
        """One visit; its section scores and findings as rows, as the intake writes them."""
        if isinstance(office, str):
            office = db.session.query(Office).filter_by(code=office).one()
        visit = Visit(uuid=uuid.uuid4(), office_id=office.id, form_version_id=self.version_id,
                      inspector_id=self.inspector_id, started_at=when,
                      ended_at=when + timedelta(minutes=40), status=status, score=score,
                      score_uncapped=score, section_scores=sections or {},
                      critical=list(findings), device={})
        db.session.add(visit)
        db.session.flush()
        for section_id, value in (sections or {}).items():
            db.session.add(VisitSectionScore(visit_id=visit.id, section_id=section_id,
                                             score=value))
        for question_id in findings:
            db.session.add(VisitFinding(visit_id=visit.id, question_id=question_id))
        db.session.flush()
        if status == "approved":  # as review_visit does when it approves
            summaries.add_visit(visit.id)
        return visit

    def visits(self, office: Office | str, scores, **kw) -> list[Visit]:
        """One visit per score, a day apart, starting at `when` (default mid-2026H2)."""
        when = kw.pop("when", MID_H2)
        return [self.visit(office, score, when=when + timedelta(days=i), **kw)
                for i, score in enumerate(scores)]
