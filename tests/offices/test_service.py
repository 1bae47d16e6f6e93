"""server.offices.service inside an app context: rules, audit events, queries."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.auth.models import User
from server.errors import Conflict, ValidationFailed
from server.extensions import db
from server.offices import service
from server.offices.models import Office
from tests import factories

from .helpers import office_body


def audit(action: str) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.seq)).all()


def codes(query: sa.Select) -> list[str]:
    return [o.code for o in db.session.scalars(query)]


@pytest.fixture
def admin(app):
    """An admin user id; services get the user object from it inside the test's context."""
    with app.app_context():
        user = factories.user(role="admin")
        db.session.commit()
        return user.id


def actor(user_id: int) -> User:
    return db.session.get(User, user_id)


# --- regions --------------------------------------------------------------------------------

def test_create_region_adds_it_and_logs_it(app, admin):
    with app.app_context():
        region = service.create_region(code="ALA", name=factories.names("Almaty"),
                                       actor=actor(admin))
        assert service.get_region("ALA") is region
        [event] = audit("region_created")
        assert (event.object_id, event.payload) == ("ALA", {"name": factories.names("Almaty")})


def test_create_region_refuses_a_taken_code(app):
    with app.app_context():
        factories.region(code="ALA")
        with pytest.raises(Conflict) as err:
            service.create_region(code="ALA", name=factories.names("B"), actor=None)
        assert err.value.code == "duplicate_code"


def test_update_region_logs_old_and_new_name(app):
    with app.app_context():
        region = factories.region(code="ALA", name=factories.names("Alma-Ata"))
        service.update_region(region=region, name=factories.names("Almaty"), actor=None)
        assert region.name == factories.names("Almaty")
        assert audit("region_updated")[0].payload == {
            "name": {"old": factories.names("Alma-Ata"), "new": factories.names("Almaty")}}


def test_update_region_with_the_same_name_logs_nothing(app):
    with app.app_context():
        region = factories.region(code="ALA", name=factories.names("Almaty"))
        service.update_region(region=region, name=factories.names("Almaty"), actor=None)
        assert audit("region_updated") == []


def test_regions_are_listed_by_code(app):
    with app.app_context():
        for code in ("ZHA", "ALA", "AST"):
            factories.region(code=code)
        found = [r.code for r in db.session.scalars(service.list_regions_query())]
        assert found == ["ALA", "AST", "ZHA"]


# --- create_office --------------------------------------------------------------------------

def test_create_office_stores_every_field(app):
    with app.app_context():
        factories.region(code="AST")
        data = {**office_body(), "active": False}
        office = service.create_office(data=data, actor=None)
        db.session.expire_all()
        stored = service.get_office("AST-1")
        assert stored.id == office.id
        assert (stored.name, stored.region.code, stored.kind, stored.address, stored.lat,
                stored.lon, stored.active) == (data["name"], "AST", "service_centre",
                                               data["address"], 51.1283, 71.4304, False)


def test_create_office_logs_the_data_and_the_actor(app, admin):
    with app.app_context():
        factories.region(code="AST")
        service.create_office(data=office_body(), actor=actor(admin))
        [event] = audit("office_created")
        assert (event.object_type, event.object_id, event.actor_id) == ("office", "AST-1", admin)
        assert event.payload == office_body()


def test_create_office_refuses_a_taken_code(app):
    with app.app_context():
        factories.office(code="AST-1", region=factories.region(code="AST"))
        with pytest.raises(Conflict) as err:
            service.create_office(data=office_body(), actor=None)
        assert err.value.code == "duplicate_code"


def test_create_office_refuses_an_unknown_region(app):
    with app.app_context():
        with pytest.raises(ValidationFailed) as err:
            service.create_office(data=office_body(region="NOPE"), actor=None)
        assert err.value.status == 422
        assert "region" in err.value.errors


def test_a_code_taken_concurrently_is_a_conflict_not_a_crash(app, monkeypatch):
    # Another transaction inserts the code between our look-up and our insert.
    with app.app_context():
        factories.office(code="AST-1", region=factories.region(code="AST"))
        db.session.commit()
        monkeypatch.setattr(service, "get_office", lambda code: None)
        with pytest.raises(Conflict) as err:
            service.create_office(data=office_body(), actor=None)
        assert err.value.code == "duplicate_code"
        db.session.rollback()


def test_a_region_code_taken_concurrently_is_a_conflict(app, monkeypatch):
    with app.app_context():
        factories.region(code="AST")
        db.session.commit()
        monkeypatch.setattr(service, "get_region", lambda code: None)
        with pytest.raises(Conflict) as err:
            service.create_region(code="AST", name=factories.names("A"), actor=None)
        assert err.value.code == "duplicate_code"
        db.session.rollback()


# --- update_office --------------------------------------------------------------------------

def test_update_office_applies_the_changes(app):
    with app.app_context():
        office = factories.office(code="AST-1", address="Old", active=True)
        service.update_office(office=office, changes={"address": "New", "active": False},
                              actor=None)
        db.session.expire_all()
        stored = service.get_office("AST-1")
        assert (stored.address, stored.active) == ("New", False)


def test_update_office_logs_each_changed_field(app, admin):
    with app.app_context():
        office = factories.office(code="AST-1", lat=51.1, lon=71.4, address="Same")
        service.update_office(office=office, changes={"lat": 43.2, "lon": 76.9, "address": "Same"},
                              actor=actor(admin))
        [event] = audit("office_updated")
        assert (event.object_id, event.actor_id) == ("AST-1", admin)
        assert event.payload == {"lat": {"old": 51.1, "new": 43.2},
                                 "lon": {"old": 71.4, "new": 76.9}}


def test_update_office_logs_a_new_name_whole(app):
    with app.app_context():
        office = factories.office(code="AST-1", name=factories.names("Old"))
        service.update_office(office=office, changes={"name": factories.names("New")}, actor=None)
        assert audit("office_updated")[0].payload == {
            "name": {"old": factories.names("Old"), "new": factories.names("New")}}


def test_update_office_moves_it_to_another_region(app):
    with app.app_context():
        office = factories.office(code="AST-1", region=factories.region(code="AST"))
        factories.region(code="ALA")
        service.update_office(office=office, changes={"region": "ALA"}, actor=None)
        assert office.region.code == "ALA"
        assert audit("office_updated")[0].payload == {"region": {"old": "AST", "new": "ALA"}}


def test_update_office_refuses_an_unknown_region(app):
    with app.app_context():
        office = factories.office(code="AST-1")
        with pytest.raises(ValidationFailed) as err:
            service.update_office(office=office, changes={"region": "NOPE"}, actor=None)
        assert "region" in err.value.errors


def test_update_office_without_changes_logs_nothing(app):
    with app.app_context():
        office = factories.office(code="AST-1", kind="registry")
        service.update_office(office=office, changes={"kind": "registry"}, actor=None)
        service.update_office(office=office, changes={}, actor=None)
        assert audit("office_updated") == []


# --- list_offices_query ---------------------------------------------------------------------

@pytest.fixture
def offices(app):
    """Three offices in two regions, committed."""
    with app.app_context():
        ast, ala = factories.region(code="AST"), factories.region(code="ALA")
        factories.office(code="AST-1", region=ast, kind="service_centre", active=True,
                         name={"kk": "Есіл ХҚКО", "ru": "ЦОН Есильского района",
                               "en": "PSC Esil district", "uz": "Esil XKM"})
        factories.office(code="AST-2", region=ast, kind="tax_office", active=False,
                         name={"kk": "Салық басқармасы", "ru": "Налоговое управление",
                               "en": "Tax office", "uz": "Soliq boshqarmasi"})
        factories.office(code="ALA-1", region=ala, kind="service_centre", active=True,
                         name={"kk": "Алмалы ХҚКО", "ru": "ЦОН Алмалинского района",
                               "en": "PSC Almaly district", "uz": "Olmali XKM"})
        db.session.commit()


@pytest.mark.parametrize("filters, expected", [
    ({}, ["ALA-1", "AST-1", "AST-2"]),
    ({"region": "AST"}, ["AST-1", "AST-2"]),
    ({"region": "NOPE"}, []),
    ({"kind": "tax_office"}, ["AST-2"]),
    ({"active": False}, ["AST-2"]),
    ({"active": True}, ["ALA-1", "AST-1"]),
    ({"region": "AST", "active": True}, ["AST-1"]),
    ({"q": "ala-"}, ["ALA-1"]),
    ({"q": "Налоговое"}, ["AST-2"]),
    ({"q": "цон"}, ["ALA-1", "AST-1"]),
    ({"q": "ЕСИЛЬСКОГО"}, ["AST-1"]),
    ({"q": "салық"}, ["AST-2"]),
    ({"q": "soliq"}, ["AST-2"]),
    ({"q": "district"}, ["ALA-1", "AST-1"]),
    ({"q": "kk"}, []),
    ({"q": '"'}, []),
    ({"q": "%"}, []),
    ({"q": "\\"}, []),
    ({"q": "цон", "region": "ALA"}, ["ALA-1"]),
])
def test_list_offices_query_filters(app, offices, filters, expected):
    with app.app_context():
        assert codes(service.list_offices_query(**filters)) == expected


def test_search_reads_an_underscore_literally(app):
    with app.app_context():
        factories.office(code="AST_1")
        factories.office(code="AST-2")
        assert codes(service.list_offices_query(q="t_")) == ["AST_1"]


def test_search_reads_a_backslash_literally(app):
    with app.app_context():
        factories.office(code="AST-1", name=factories.names("C:\\Temp"))
        factories.office(code="AST-2", name=factories.names("C:Temp"))
        assert codes(service.list_offices_query(q=":\\t")) == ["AST-1"]


# --- import_offices -------------------------------------------------------------------------

CSV = ("code,name_kk,name_ru,name_en,name_uz,region,kind\n"
       "AST-1,Бір,Один,One,Bir,AST,other\n"
       "AST-2,Екі,Два,Two,Ikki,AST,other\n").encode()


def test_import_offices_creates_every_row(app):
    with app.app_context():
        factories.region(code="AST")
        created = service.import_offices(raw=CSV, actor=None, source="t.csv")
        assert [o.code for o in created] == ["AST-1", "AST-2"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Office)) == 2


def test_import_offices_logs_one_event(app, admin):
    with app.app_context():
        factories.region(code="AST")
        service.import_offices(raw=CSV, actor=actor(admin), source="t.csv")
        [event] = audit("offices_imported")
        assert event.payload == {"source": "t.csv", "codes": ["AST-1", "AST-2"]}
        assert event.actor_id == admin


def test_import_offices_adds_nothing_when_a_row_is_bad(app):
    with app.app_context():
        factories.region(code="AST")
        with pytest.raises(ValidationFailed) as err:
            service.import_offices(raw=CSV.replace(b"AST-2,", b"AST-1,"), actor=None, source="t")
        assert err.value.code == "csv_invalid_rows"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Office)) == 0
        assert audit("offices_imported") == []


def test_import_reports_the_database_clash_of_a_row_with_other_faults(app):
    with app.app_context():
        factories.office(code="AST-1", region=factories.region(code="AST"))
        bad = CSV.replace(b"AST-1,\xd0\x91", b"AST-1,\x07")
        with pytest.raises(ValidationFailed) as err:
            service.import_offices(raw=bad, actor=None, source="t")
        problems = err.value.errors["line 2"]
        assert any(p.startswith("name.kk:") for p in problems)
        assert any("already exists" in p for p in problems)


def test_import_reports_a_malformed_region_once(app):
    with app.app_context():
        factories.region(code="AST")
        with pytest.raises(ValidationFailed) as err:
            service.import_offices(raw=CSV.replace(b",AST,other\nAST-2", b",A S,other\nAST-2"),
                                   actor=None, source="t")
        assert err.value.errors == {"line 2": [err.value.errors["line 2"][0]]}
        assert err.value.errors["line 2"][0].startswith("region: ")


def test_import_checks_many_codes_against_the_database(app):
    with app.app_context():
        region = factories.region(code="AST")
        factories.office(code="AST-1234", region=region)
        rows = "".join(f"AST-{n},k,r,e,u,AST,other\n" for n in range(1, 1301))
        raw = b"code,name_kk,name_ru,name_en,name_uz,region,kind\n" + rows.encode()
        with pytest.raises(ValidationFailed) as err:
            service.import_offices(raw=raw, actor=None, source="t")
        assert list(err.value.errors) == ["line 1235"]
