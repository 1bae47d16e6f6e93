"""Export test data: two versions of a small form, two regions, and visits inserted in bulk
with core insert() (20,000 in a few seconds). Add and flush, never commit: the test decides."""
from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from server.extensions import db
from server.forms.models import FormVersion, SurveyForm
from server.media.models import MediaObject
from server.visits.models import Answer, Flag, Visit, VisitEvidence
from tests import factories

MID_H2 = datetime(2026, 9, 15, 5, 0, tzinfo=timezone.utc)   # 2026H2 in Asia/Almaty
MID_H1 = datetime(2026, 3, 16, 5, 0, tzinfo=timezone.utc)   # 2026H1
_seq = itertools.count(1)


def labels(en: str, ru: str, kk: str | None = None, uz: str | None = None) -> dict:
    return {"en": en, "ru": ru, "kk": kk or f"{ru} (kk)", "uz": uz or f"{en} (uz)"}


def definition(version: int) -> dict:
    """Version 1: A1 yes/no, A2 a choice, A3 a photo; B1 a number, B2 several choices, B3
    text. Version 2 drops B3 and adds C1, a position."""
    access = [
        {"id": "A1", "type": "yes_no", "label": labels("Ramp?", "Пандус?", "Пандус бар ма?",
                                                        "Pandus bormi?")},
        {"id": "A2", "type": "single_choice", "label": labels("Door", "Дверь"),
         "choices": [{"id": "wide", "label": labels("Wide", "Широкая", "Кең", "Keng")},
                     {"id": "narrow", "label": labels("Narrow", "Узкая", "Тар",
                                                      "Torʻ")}]},
        {"id": "A3", "type": "photo", "label": labels("Entrance photo", "Фото входа")}]
    queue = [
        {"id": "B1", "type": "integer", "label": labels("Minutes", "Минуты")},
        {"id": "B2", "type": "multi_choice", "label": labels("Seen", "Видели"),
         "choices": [{"id": "x", "label": labels("Ex", "Икс")},
                     {"id": "y", "label": labels("Why", "Игрек")}]}]
    if version == 1:
        queue.append({"id": "B3", "type": "text", "label": labels("Notes", "Заметки")})
    sections = [{"id": "access", "title": labels("Access", "Доступ"), "weight": 50,
                 "questions": access},
                {"id": "queue", "title": labels("Queue", "Очередь"), "weight": 50,
                 "questions": queue}]
    if version == 2:
        sections.append({"id": "place", "title": labels("Place", "Место"), "weight": 0,
                         "questions": [{"id": "C1", "type": "geopoint",
                                        "label": labels("Where", "Где")}]})
    return {"key": "export-form", "version": version, "languages": ["kk", "ru", "en", "uz"],
            "title": labels("Export form", "Форма"), "sections": sections}


def publish(version: int, *, when: datetime) -> FormVersion:
    form = db.session.scalar(sa.select(SurveyForm).where(SurveyForm.key == "export-form"))
    if form is None:
        form = SurveyForm(key="export-form")
        db.session.add(form)
    body = definition(version)
    row = FormVersion(form=form, version=version, definition=body, source="tests",
                      sha256=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
                      published_at=when)
    db.session.add(row)
    db.session.flush()
    return row


V1_ANSWERS = {"A1": "yes", "A2": "narrow", "A3": None, "B1": 12, "B2": ["x", "y"],
              "B3": "Всё хорошо. Hammasi yaxshi, oʻzbekcha."}
V2_ANSWERS = {"A1": "no", "A2": "wide", "A3": None, "B1": 3, "B2": ["y"],
              "C1": {"lat": 51.1283, "lon": 71.4304, "accuracy": 12}}


def media(n: int = 1) -> list[tuple[int, str]]:
    """`n` stored photos (rows only); their (id, sha256)."""
    out = []
    for _ in range(n):
        sha = hashlib.sha256(f"photo {next(_seq)}".encode()).hexdigest()
        row = MediaObject(sha256=sha, size=10, content_type="image/jpeg", kind="photo",
                          storage_backend="local", storage_key=f"originals/{sha}")
        db.session.add(row)
        db.session.flush()
        out.append((row.id, sha))
    return out


def insert_visits(*, count: int, office_id: int, inspector_id: int, version_id: int,
                  answers: dict, status: str = "submitted", when: datetime = MID_H2,
                  score: float | None = 75.0, flags: tuple = (), evidence: dict | None = None,
                  na: tuple = (), notes: dict | None = None) -> list[tuple[int, str]]:
    """`count` visits with the same answers, a minute apart; core inserts. (id, uuid) each."""
    conn = db.session.connection()
    first = (conn.scalar(sa.select(sa.func.max(Visit.id))) or 0) + 1
    ids = list(range(first, first + count))
    rows = []
    for vid in ids:
        start = when + timedelta(minutes=vid - first)
        rows.append({"id": vid, "uuid": uuid.uuid4(), "office_id": office_id,
                     "form_version_id": version_id, "inspector_id": inspector_id,
                     "started_at": start, "ended_at": start + timedelta(minutes=30),
                     "status": status, "score": score, "score_uncapped": score,
                     "section_scores": {"access": score, "queue": 50.0} if score else {},
                     "critical": [], "device": {}, "revision": 1, "submitted_at": start,
                     "updated_at": start, "position_start": None, "position_end": None})
    conn.execute(Visit.__table__.insert(), rows)
    if conn.dialect.name == "postgresql":  # explicit ids: move the sequence past them
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('visits', 'id'), "
                             "(SELECT max(id) FROM visits))"))
    answer_rows = [{"visit_id": vid, "question_id": qid, "value": None if qid in na else value,
                    "not_applicable": qid in na, "note": (notes or {}).get(qid, "")}
                   for vid in ids for qid, value in answers.items()]
    if answer_rows:
        conn.execute(Answer.__table__.insert(), answer_rows)
    if flags:
        conn.execute(Flag.__table__.insert(), [{"visit_id": vid, "kind": kind,
                                              "severity": "warning", "detail": {}}
                                             for vid in ids for kind in flags])
    if evidence:
        conn.execute(VisitEvidence.__table__.insert(), [
            {"visit_id": vid, "question_id": qid, "media_id": media_id}
            for vid in ids for qid, media_ids in evidence.items() for media_id in media_ids])
    db.session.flush()
    return [(vid, str(row["uuid"])) for vid, row in zip(ids, rows)]


class World:
    """Regions NORTH (offices N-1, N-2) and SOUTH (S-1), an inspector, a supervisor of NORTH
    only, an unrestricted supervisor, an admin, and the form's two versions. Ids and tokens."""

    def __init__(self):
        north, south = factories.region(code="NORTH"), factories.region(code="SOUTH")
        self.n1 = factories.office(code="N-1", region=north, name=labels(
            "Centre one", "Центр один", "Бірінші орталық", "Birinchi markaz")).id
        self.n2 = factories.office(code="N-2", region=north, kind="registry").id
        self.s1 = factories.office(code="S-1", region=south).id
        self.inspector = factories.user(role="inspector", login="insp-x").id
        self.v1 = publish(1, when=MID_H1).id
        self.v2 = publish(2, when=MID_H2).id
        users = {"north": factories.user(role="supervisor", login="sup-north",
                                         regions=["NORTH"]),
                 "supervisor": factories.user(role="supervisor", login="sup-all"),
                 "admin": factories.user(role="admin", login="adm-x"),
                 "inspector": db.session.get(factories.User, self.inspector)}
        self.headers = {name: {"Authorization": f"Bearer {factories.token_for(user)}"}
                        for name, user in users.items()}


VISIT_COLUMNS = ("id", "uuid", "office_id", "form_version_id", "inspector_id", "started_at",
                 "ended_at", "device", "status", "score", "score_uncapped", "section_scores",
                 "critical", "revision", "submitted_at", "updated_at")
ANSWER_COLUMNS = ("visit_id", "question_id", "value", "not_applicable", "note")


def _sqlite_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def bulk_visits(*, count: int, office_id: int, inspector_id: int, version_id: int,
                answers: dict, status: str = "submitted", when: datetime = MID_H2,
                score: float = 70.0) -> None:
    """Like insert_visits, for tens of thousands: the driver's own bulk path (COPY on
    PostgreSQL, executemany on SQLite) with values already in the database's form. Commits."""
    conn = db.session.connection()
    first = (conn.scalar(sa.select(sa.func.max(Visit.id))) or 0) + 1
    sections = json.dumps({"access": score, "queue": 50.0})
    postgres = conn.dialect.name == "postgresql"
    visits, answer_rows = [], []
    for vid in range(first, first + count):
        start = when + timedelta(minutes=vid - first)
        end = start + timedelta(minutes=30)
        times = (start, end) if postgres else (_sqlite_time(start), _sqlite_time(end))
        key = uuid.uuid4()
        visits.append((vid, key if postgres else key.hex, office_id, version_id, inspector_id,
                       *times, "{}", status, score, score, sections, "[]", 1, times[0],
                       times[0]))
        answer_rows.extend((vid, qid, json.dumps(value, ensure_ascii=False), False, "")
                           for qid, value in answers.items())
    db.session.commit()
    raw = db.engine.raw_connection()
    try:
        if postgres:
            with raw.driver_connection.cursor() as cur:
                for table, columns, data in (("visits", VISIT_COLUMNS, visits),
                                             ("answers", ANSWER_COLUMNS, answer_rows)):
                    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in data:
                            copy.write_row(row)
                cur.execute("SELECT setval(pg_get_serial_sequence('visits', 'id'), "
                            "(SELECT max(id) FROM visits))")
            raw.driver_connection.commit()
        else:
            cur = raw.cursor()
            cur.executemany(f"INSERT INTO visits ({', '.join(VISIT_COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(VISIT_COLUMNS))})", visits)
            cur.executemany(f"INSERT INTO answers ({', '.join(ANSWER_COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(ANSWER_COLUMNS))})", answer_rows)
            raw.commit()
    finally:
        raw.close()
