"""Demo data: two regions of Kazakhstan, a dozen offices and the demo accounts.

Names are real-looking and coordinates are the real districts; addresses are illustrative.
Loading twice adds nothing the second time.
"""
from __future__ import annotations

from .auth import service as auth_service
from .auth.models import Role
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
    logins = ", ".join(u[0] for u in USERS)
    return (f"Demo ready ({added} records added): {len(REGIONS)} regions, {len(OFFICES)} "
            f"offices, {visits} new visits.\n"
            f"Users {logins}; password for each: {DEMO_PASSWORD}")


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
    from .demo_visits import visit_body

    if db.session.scalar(sa.select(sa.func.count(Visit.id))):
        return 0
    version = db.session.scalar(sa.select(FormVersion).join(FormVersion.form)
                                .where(SurveyForm.key == "service-centre-visit")
                                .order_by(FormVersion.version.desc()))
    if version is None:
        return 0
    rng = random.Random(20261123)
    form = visit_service.compiled(version)
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
