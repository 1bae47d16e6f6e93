"""Demo data: two regions of Kazakhstan, a dozen offices, the demo accounts, visits in every
state, photos on some of them (drawn at demo time with real EXIF by server/demo_photos.py, stored
through the media service) and recommendations in each status.

Names are real-looking and coordinates are the real districts; addresses are illustrative.
Loading twice adds nothing the second time; each part adds only what is missing.
"""
from __future__ import annotations

import os
import random
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from . import demo_photos
from .auth import service as auth_service
from .auth.models import Role
from .extensions import db
from .offices import service as office_service

DEMO_PASSWORD = "demo-password"

REGIONS = [
    ("AST", {"kk": "Астана қаласы", "ru": "город Астана", "en": "Astana city",
             "uz": "Astana shahri"}),
    ("ALA", {"kk": "Алматы қаласы", "ru": "город Алматы", "en": "Almaty city",
             "uz": "Olmaota shahri"}),
]


def _centre(city_kk, city_ru, city_en, city_uz, district_kk, district_ru, district_en,
            district_uz) -> dict:
    return {
        "kk": f"{city_kk} {district_kk} ауданы бойынша халыққа қызмет көрсету орталығы",
        "ru": f"Центр обслуживания населения {district_ru} района {city_ru}",
        "en": f"Public Service Centre, {district_en} district, {city_en}",
        "uz": f"{city_uz} {district_uz} tumani aholiga xizmat koʻrsatish markazi",
    }


_AST = ("Астана қаласы", "г. Астаны", "Astana", "Astana shahri")
_ALA = ("Алматы қаласы", "г. Алматы", "Almaty", "Olmaota shahri")

OFFICES = [
    # code, region, kind, name, address, lat, lon
    ("AST-CON-ESIL", "AST", "service_centre",
     _centre(*_AST, "Есіл", "Есильского", "Esil", "Esil"),
     "Астана, проспект Мангилик Ел, 55", 51.1283, 71.4304),
    ("AST-CON-SARYARKA", "AST", "service_centre",
     _centre(*_AST, "Сарыарқа", "Сарыаркинского", "Saryarka", "Saryarqa"),
     "Астана, улица Бейбитшилик, 25", 51.1801, 71.4098),
    ("AST-CON-ALMATY", "AST", "service_centre",
     _centre(*_AST, "Алматы", "Алматинского", "Almaty", "Almati"),
     "Астана, проспект Тауелсиздик, 34", 51.1394, 71.4869),
    ("AST-CON-BAIKONUR", "AST", "service_centre",
     _centre(*_AST, "Байқоңыр", "Байконурского", "Baikonur", "Boyqoʻngʻir"),
     "Астана, улица Жанибека Тархана, 9", 51.1734, 71.4402),
    ("AST-CON-NURA", "AST", "service_centre",
     _centre(*_AST, "Нұра", "Нуринского", "Nura", "Nura"),
     "Астана, улица Кабанбай батыра, 48", 51.0902, 71.4187),
    ("AST-RAGS-1", "AST", "registry",
     {"kk": "Астана қаласының азаматтық хал актілерін тіркеу бөлімі",
      "ru": "Отдел регистрации актов гражданского состояния г. Астаны",
      "en": "Civil Registry Office of Astana",
      "uz": "Astana shahri fuqarolik holati dalolatnomalarini qayd etish boʻlimi"},
     "Астана, улица Сарайшык, 5", 51.1262, 71.4331),
    ("ALA-CON-ALMALY", "ALA", "service_centre",
     _centre(*_ALA, "Алмалы", "Алмалинского", "Almaly", "Olmali"),
     "Алматы, улица Толе би, 155", 43.2551, 76.9286),
    ("ALA-CON-AUEZOV", "ALA", "service_centre",
     _centre(*_ALA, "Әуезов", "Ауэзовского", "Auezov", "Auezov"),
     "Алматы, микрорайон Аксай-2, 65", 43.2334, 76.8597),
    ("ALA-CON-BOSTANDYK", "ALA", "service_centre",
     _centre(*_ALA, "Бостандық", "Бостандыкского", "Bostandyk", "Boʻstonliq"),
     "Алматы, проспект Аль-Фараби, 17", 43.2203, 76.9148),
    ("ALA-CON-MEDEU", "ALA", "service_centre",
     _centre(*_ALA, "Медеу", "Медеуского", "Medeu", "Medeu"),
     "Алматы, улица Пушкина, 2", 43.2563, 76.9652),
    ("ALA-CON-TURKSIB", "ALA", "service_centre",
     _centre(*_ALA, "Түрксіб", "Турксибского", "Turksib", "Turksib"),
     "Алматы, улица Сейфуллина, 54", 43.3302, 76.9601),
    ("ALA-RAGS-1", "ALA", "registry",
     {"kk": "Алматы қаласының азаматтық хал актілерін тіркеу бөлімі",
      "ru": "Отдел регистрации актов гражданского состояния г. Алматы",
      "en": "Civil Registry Office of Almaty",
      "uz": "Olmaota shahri fuqarolik holati dalolatnomalarini qayd etish boʻlimi"},
     "Алматы, улица Абылай хана, 91", 43.2382, 76.9451),
]

USERS = [
    # login, role, display name, languages, conflict offices
    ("admin", Role.ADMIN, "Demo Admin", ["en", "ru"], []),
    ("supervisor", Role.SUPERVISOR, "Demo Supervisor", ["ru", "kk"], []),
    ("inspector1", Role.INSPECTOR, "Inspector One", ["kk", "ru"], ["ALA-CON-MEDEU"]),
    ("inspector2", Role.INSPECTOR, "Inspector Two", ["ru"], []),
    ("inspector3", Role.INSPECTOR, "Inspector Three", ["uz", "ru"], []),
]


def load_demo() -> str:
    """Add whatever part of the demo is missing; returns what to tell the person who ran it."""
    added = 0
    for code, name in REGIONS:
        if office_service.get_region(code) is None:
            office_service.create_region(code=code, name=name, actor=None)
            added += 1
    for code, region, kind, name, address, lat, lon in OFFICES:
        if office_service.get_office(code) is None:
            office_service.create_office(
                data={"code": code, "region": region, "kind": kind, "name": name,
                      "address": address, "lat": lat, "lon": lon, "active": True}, actor=None)
            added += 1
    for login, role, display, languages, conflicts in USERS:
        if auth_service.get_user(login) is None:
            auth_service.create_user(login=login, role=role, password=DEMO_PASSWORD,
                                     display_name=display, languages=languages,
                                     conflict_offices=conflicts)
            added += 1
    visits = _demo_visits()
    # The media service commits on its own (and rolls back what is pending first): commit the
    # demo so far before it runs.
    db.session.commit()
    photo_visits = _demo_photo_visits()
    recommendations = _demo_recommendations()
    added += photo_visits + recommendations
    logins = ", ".join(u[0] for u in USERS)
    return (f"Demo ready ({added} records added): {len(REGIONS)} regions, {len(OFFICES)} "
            f"offices, {visits + photo_visits} new visits ({photo_visits} with photos), "
            f"{recommendations} new recommendations.\n"
            + f"Users {logins}; password for each: {DEMO_PASSWORD}")


# Office quality in the demo: how often its visits find things right (makes a ranking spread).
QUALITY = {"AST-CON-ESIL": 0.95, "AST-CON-SARYARKA": 0.8, "AST-CON-ALMATY": 0.6,
           "AST-CON-BAIKONUR": 0.4, "ALA-CON-ALMALY": 0.85, "ALA-CON-AUEZOV": 0.5,
           "ALA-CON-BOSTANDYK": 0.7, "ALA-CON-TURKSIB": 0.3}
INSPECTORS = ("inspector1", "inspector2", "inspector3")


def _demo_visits() -> int:
    """Assignments and visits in every state, once: approved ones for the ranking (this and the
    previous half-year), some waiting, one returned, flagged ones; open assignments for today."""
    import random
    from datetime import timedelta

    import sqlalchemy as sa
    from flask import current_app

    from .assignments import service as assignment_service
    from .db import utcnow
    from .extensions import db
    from .forms.models import FormVersion, SurveyForm
    from .periods import half_year_of
    from .review import service as review_service
    from .visits import service as visit_service
    from .visits.models import Visit
    from .visits.schemas import VisitIn
    from .visits.submission import compiled
    from .demo_visits import visit_body

    if db.session.scalar(sa.select(sa.func.count(Visit.id))):
        return 0
    version = db.session.scalar(sa.select(FormVersion).join(FormVersion.form)
                                .where(SurveyForm.key == "service-centre-visit")
                                .order_by(FormVersion.version.desc()))
    if version is None:
        return 0
    rng = random.Random(20261123)
    form = compiled(version)
    supervisor = auth_service.get_user("supervisor")
    now = utcnow()
    current = half_year_of(now, current_app.config["TIMEZONE"])
    previous = current.previous(current_app.config["TIMEZONE"])
    schema, count, turn = VisitIn(), 0, 0

    def visit(office_code, started, *, minutes=40, shift=0.0, decision="approve", comment=""):
        nonlocal count, turn
        office = office_service.get_office(office_code)
        login = INSPECTORS[turn % len(INSPECTORS)]
        turn += 1
        if office in auth_service.get_user(login).conflict_offices:
            login = INSPECTORS[turn % len(INSPECTORS)]
            turn += 1
        inspector = auth_service.get_user(login)
        assignment = assignment_service.create_assignment(data={
            "office": office_code, "inspector": login, "form_key": "service-centre-visit",
            "form_version": version.version, "window_start": started - timedelta(days=2),
            "window_end": started + timedelta(days=5)}, actor=supervisor)
        body = visit_body(form=form, assignment_id=assignment.id, started=started,
                          minutes=minutes, position=(office.lat + shift, office.lon), rng=rng,
                          quality=QUALITY.get(office_code, 0.7))
        submitted, _ = visit_service.submit_visit(inspector=inspector, data=schema.load(body),
                                                  body=body, lang="en")
        if decision:
            review_service.review_visit(visit=submitted, reviewer=supervisor, decision=decision,
                                        comment=comment, revision=1)
        count += 1

    span = min(now - current.start, timedelta(days=120))
    for code in QUALITY:
        for i in range(3):
            visit(code, current.start + span * (0.15 + 0.25 * i) + timedelta(hours=10))
    for code in ("AST-CON-ESIL", "AST-CON-ALMATY", "ALA-CON-ALMALY", "ALA-CON-TURKSIB"):
        for i in range(3):
            visit(code, previous.start + timedelta(days=30 + 40 * i, hours=11))
    recent = now - timedelta(days=2, hours=3)
    visit("AST-RAGS-1", recent, decision=None)
    visit("ALA-RAGS-1", recent, decision=None)
    visit("AST-CON-NURA", recent, decision=None, shift=0.05)           # 5.5 km away: flagged
    visit("ALA-CON-MEDEU", recent, decision=None, minutes=4)          # too short: flagged
    visit("AST-CON-NURA", recent - timedelta(days=3), decision="return",
          comment="Please add what the staff said about the fee (C06).")
    for login in INSPECTORS:
        inspector = auth_service.get_user(login)
        offices = [code for code in ("AST-CON-NURA", "AST-RAGS-1", "ALA-CON-MEDEU",
                                     "ALA-RAGS-1", "ALA-CON-BOSTANDYK")
                   if office_service.get_office(code) not in inspector.conflict_offices]
        for code in offices[:2]:
            assignment_service.create_assignment(data={
                "office": code, "inspector": login, "form_key": "service-centre-visit",
                "form_version": version.version, "window_start": now - timedelta(days=1),
                "window_end": now + timedelta(days=14)}, actor=supervisor)
    db.session.flush()
    return count


# --- photos and recommendations --------------------------------------------------------------

# (office, inspector, minutes, photos): visits waiting for review, with photos drawn at demo time
# (server/demo_photos.py) for the questions they answer. A photo is (question, scene, caption,
# oddity): None is taken at the office (a few tens of metres off its position) during the visit;
# "far" about 4 km away and "early" three days before the visit, so that those visits carry the
# "photo far from the office" and "photo time outside the visit" flags.
PHOTO_VISITS = [
    ("AST-CON-SARYARKA", "inspector2", 38, (
        ("A01", "ramp", "A01 Entrance: ramp with a handrail", None),
        ("A04", "door", "A04 Entrance door, clear width", None),
        ("B01", "queue_screen", "B01 Queue display in the hall", None))),
    ("ALA-CON-BOSTANDYK", "inspector3", 42, (
        ("E02", "fee_board", "E02 Services, fees and deadlines", None),
        ("D05", "hotline", "D05 Anti-corruption notice", "early"))),
    ("AST-CON-BAIKONUR", "inspector1", 35, (
        ("A01", "ramp", "A01 Entrance: ramp", "far"),
        ("F02", "waiting_area", "F02 Waiting area", None))),
]
FAR_M = 4200


def _store_photo(inspector, raw: bytes, filename: str) -> str:
    """One photo through the media service, as the app's tus upload ends: upload row, spool file
    (fsynced), then finalise_upload, which sniffs, analyses (EXIF, thumbnails) and stores it."""
    from .media import completion as media_completion
    from .media import service as media_service

    upload = media_service.create_upload(owner=inspector, length=len(raw), metadata={
        "filename": filename, "filetype": "image/jpeg"})
    upload_id = upload.id
    db.session.commit()
    with media_service.upload_lock(upload_id) as spool:
        with open(spool.path, "r+b") as out:
            out.truncate(0)
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        done = media_completion.finalise_upload(upload_id=upload_id, actor=inspector)
    return done.media.sha256


def _photo_shot(*, office, started, minutes: int, index: int, count: int, oddity: str | None,
                rng: random.Random, tz: ZoneInfo) -> demo_photos.Shot:
    """Where and when one demo photo was taken: spread over the visit, next to the office."""
    taken = started + timedelta(minutes=minutes * (index + 1) / (count + 1),
                                seconds=rng.randint(0, 59))
    if oddity == "early":
        taken -= timedelta(days=3)
    metres = FAR_M if oddity == "far" else rng.uniform(10, 60)
    lat, lon = demo_photos.offset_position(office.lat, office.lon, metres, rng.uniform(0, 360))
    return demo_photos.Shot(taken=taken.astimezone(tz).replace(microsecond=0), lat=lat, lon=lon,
                            accuracy_m=float(rng.randint(4, 15)))


def _demo_photo_visits() -> int:
    """Visits with photo evidence, once (none are added while any visit has evidence)."""
    from flask import current_app

    from .assignments import service as assignment_service
    from .db import utcnow
    from .demo_visits import visit_body
    from .forms.models import FormVersion, SurveyForm
    from .visits import service as visit_service
    from .visits.models import VisitEvidence
    from .visits.schemas import VisitIn
    from .visits.submission import compiled

    if db.session.scalar(sa.select(sa.func.count(VisitEvidence.visit_id))):
        return 0
    version = db.session.scalar(sa.select(FormVersion).join(FormVersion.form)
                                .where(SurveyForm.key == "service-centre-visit")
                                .order_by(FormVersion.version.desc()))
    supervisor = auth_service.get_user("supervisor")
    if version is None or supervisor is None:
        return 0
    form = compiled(version)
    rng = random.Random(20261202)          # the visits' answers
    photo_rng = random.Random(20261204)    # where and when the photos were taken, their scenes
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    yesterday = utcnow().astimezone(tz).date() - timedelta(days=1)
    made = 0
    for n, (code, login, minutes, photos) in enumerate(PHOTO_VISITS):
        inspector = auth_service.get_user(login)
        office = office_service.get_office(code)
        if inspector is None or office is None or office in inspector.conflict_offices:
            continue
        # yesterday at 10:00, 12:00, 14:00 in the offices' time zone: office hours
        started = datetime.combine(yesterday, time(10 + 2 * n), tzinfo=tz).astimezone(timezone.utc)
        assignment = assignment_service.create_assignment(data={
            "office": code, "inspector": login, "form_key": "service-centre-visit",
            "form_version": version.version, "window_start": started - timedelta(days=2),
            "window_end": started + timedelta(days=5)}, actor=supervisor)
        body = visit_body(form=form, assignment_id=assignment.id, started=started,
                          minutes=minutes, position=(office.lat, office.lon), rng=rng,
                          quality=0.6)
        db.session.commit()  # the media service commits on its own: nothing may be pending
        by_question = {a["question"]: a for a in body["answers"]}
        for i, (question, scene, caption, oddity) in enumerate(photos):
            shot = _photo_shot(office=office, started=started, minutes=minutes, index=i,
                               count=len(photos), oddity=oddity, rng=photo_rng, tz=tz)
            seed = photo_rng.getrandbits(32)
            answer = by_question.get(question)
            if answer is None:  # skip logic hid the question in this visit
                continue
            raw = demo_photos.draw_photo(scene=scene, caption=caption, shot=shot, seed=seed,
                                         value=answer["value"])
            sha = _store_photo(inspector, raw, f"IMG_{shot.taken:%Y%m%d_%H%M%S}.jpg")
            answer.setdefault("evidence", []).append(sha)
        visit_service.submit_visit(inspector=inspector, data=VisitIn().load(body), body=body,
                                   lang="en")
        db.session.commit()
        made += 1
    current_app.logger.debug("demo: %s visits with photos", made)
    return made


REC_TEXTS = [
    # office, (status path), text
    ("AST-CON-BAIKONUR", (),
     "Fix the ramp at the entrance: its slope is over 8 %, and add handrails on both sides."),
    ("AST-CON-ALMATY", ("in_progress",),
     "Put the opening hours and the list of free services on the wall at the entrance."),
    ("ALA-CON-TURKSIB", ("reported_done",),
     "Repair the queue ticket machine and its display."),
    ("ALA-CON-AUEZOV", ("reported_done", "verified"),
     "Open the accessible toilet to visitors; it was locked and used as a store room."),
    ("AST-CON-ALMATY", (),
     "Stop asking for documents the service standard does not list."),
]
# not_done is left out: it needs a recommendation past its due date, and the service refuses a
# due date in the past at creation, as it should.


def _demo_recommendations() -> int:
    """Recommendations in every status, once (none are added while any exists); the first ones
    come from a finding of an approved demo visit to the office."""
    from .recommendations import service as rec_service
    from .recommendations.models import Recommendation
    from .visits.models import Visit, VisitStatus

    if db.session.scalar(sa.select(sa.func.count(Recommendation.id))):
        return 0
    supervisor = auth_service.get_user("supervisor")
    if supervisor is None:
        return 0
    today = rec_service.local_today()
    made = 0
    for n, (code, path, text) in enumerate(REC_TEXTS):
        office = office_service.get_office(code)
        if office is None:
            continue
        source = db.session.scalar(sa.select(Visit).where(
            Visit.office_id == office.id, Visit.status == VisitStatus.APPROVED.value)
            .order_by(Visit.submitted_at.desc()).limit(1))
        question = None
        if source is not None and source.critical:
            question = source.critical[0]
        elif source is not None:
            lost = visit_service_lost(source)
            question = lost[0] if lost else None
        rec = rec_service.create_recommendation(
            actor=supervisor, office=code, text=text,
            due_date=today + timedelta(days=30 + 15 * n),
            visit=source.uuid if source is not None else None, question=question)
        for status in path:
            comment = {"verified": "Seen on a later visit: open and clean.",
                       "reported_done": "The office wrote that it is done."}.get(status, "")
            rec_service.change_status(actor=supervisor, rec=rec, status=status, comment=comment)
        made += 1
    db.session.flush()
    return made


def visit_service_lost(visit) -> list[str]:
    """The questions where the visit lost points, most first."""
    from .visits.reading import visit_view

    return [item["question"] for item in visit_view(visit)["lost_points"]]
