"""The planning page: offices by region, coverage, assignments (list, create, CSV)."""
from __future__ import annotations

import io

import sqlalchemy as sa

from server.assignments.models import Assignment
from server.extensions import db
from server.offices.models import Office
from tests import factories

from .helpers import page_token, sign_in

PLANNING = "/console/planning"


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Assignment.id)))


def test_planning_lists_offices_coverage_and_assignments(sup, world):
    html = sup.get(PLANNING + "?lang=en").get_data(as_text=True)
    assert 'id="offices"' in html and world["office"] in html and world["other_office"] in html
    assert 'id="coverage"' in html and "0</strong> / 3" in html  # no approved visits yet
    assert 'id="assignments"' in html and "insp" in html
    assert "service-centre-visit v1" in html


def test_planning_for_inspectors_and_signed_out(client, world):
    assert client.get(PLANNING).status_code == 302
    sign_in(client, "insp")
    assert client.get(PLANNING, headers={"Accept": "text/html"}).status_code == 403


def test_create_an_assignment_from_the_form(sup, world, app):
    before = _count(app)
    resp = sup.post("/console/planning/assignments", data={
        "csrf_token": page_token(sup, PLANNING), "office": world["other_office"],
        "inspector": "insp2", "form": "service-centre-visit/v1",
        "window_start": "2030-01-10T09:00", "window_end": "2030-01-20T18:00"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert _count(app) == before + 1
    html = sup.get(PLANNING + "?inspector=insp2&lang=en").get_data(as_text=True)
    assert "10 Jan 2030" in html  # the window's start, as the page's language writes dates


def test_a_refused_assignment_shows_every_reason_and_keeps_the_input(sup, world, app):
    before = _count(app)
    resp = sup.post("/console/planning/assignments?lang=en", data={
        "csrf_token": page_token(sup, PLANNING), "office": "NOPE-1",
        "inspector": "<script>x</script>", "form": "service-centre-visit/v1",
        "window_start": "2030-01-10T09:00", "window_end": "2030-01-20T18:00"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Unknown office" in html and "No inspector with login" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert _count(app) == before


def test_assignment_post_without_csrf_is_refused(sup, world, app):
    before = _count(app)
    resp = sup.post("/console/planning/assignments", data={
        "office": world["other_office"], "inspector": "insp2", "form": "service-centre-visit/v1",
        "window_start": "2030-01-10T09:00", "window_end": "2030-01-20T18:00"})
    assert resp.status_code == 400
    assert _count(app) == before


def test_csv_upload_creates_all_rows(sup, world, app):
    before = _count(app)
    csv = ("office,inspector,form_key,form_version,window_start,window_end\n"
           f"{world['other_office']},insp2,service-centre-visit,1,2030-02-01T09:00:00+05:00,"
           "2030-02-10T18:00:00+05:00\n"
           f"{world['office']},insp2,service-centre-visit,1,2030-02-01T09:00:00+05:00,"
           "2030-02-10T18:00:00+05:00\n")
    resp = sup.post("/console/planning/assignments.csv", content_type="multipart/form-data",
                    data={"csrf_token": page_token(sup, PLANNING),
                          "file": (io.BytesIO(csv.encode()), "plan.csv")})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert "created=2" in resp.headers["Location"]
    assert _count(app) == before + 2


def test_csv_with_a_bad_row_lists_it_and_creates_nothing(sup, world, app):
    before = _count(app)
    csv = ("office,inspector,form_key,form_version,window_start,window_end\n"
           f"{world['other_office']},insp2,service-centre-visit,1,2030-02-01T09:00:00+05:00,"
           "2030-02-10T18:00:00+05:00\n"
           "NOPE-1,insp2,service-centre-visit,1,2030-02-01T09:00:00+05:00,"
           "2030-02-10T18:00:00+05:00\n")
    resp = sup.post("/console/planning/assignments.csv?lang=en",
                    content_type="multipart/form-data",
                    data={"csrf_token": page_token(sup, PLANNING),
                          "file": (io.BytesIO(csv.encode()), "plan.csv")})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "line 3" in html and "nothing was created" in html
    assert _count(app) == before


def test_csv_upload_without_a_file(sup, world):
    resp = sup.post("/console/planning/assignments.csv", content_type="multipart/form-data",
                    data={"csrf_token": page_token(sup, PLANNING)})
    assert resp.status_code == 422


def test_office_name_with_script_in_planning_is_text(sup, world, app, commit):
    commit(lambda: factories.office(code="XSS-1", name={
        k: "<img src=x onerror=alert(1)>" for k in ("kk", "ru", "en", "uz")}))
    html = sup.get(PLANNING).get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


# Inspectors' conflict lists

def _conflicts(app, login="insp") -> list[str]:
    from server.auth.models import User
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.login == login))
        return sorted(o.code for o in user.conflict_offices)


def _audit_count(app, action) -> int:
    from server.audit.models import AuditEvent
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(AuditEvent.seq)).where(
            AuditEvent.action == action))


def test_planning_lists_inspectors_with_their_conflict_lists(sup, world, app):
    html = sup.get(PLANNING + "?lang=en").get_data(as_text=True)
    assert 'id="inspectors-table"' in html
    assert 'id="inspector-insp"' in html and 'id="inspector-insp2"' in html
    assert 'id="inspector-sup"' not in html  # only inspectors have conflict lists here


def test_a_supervisor_edits_a_conflict_list_and_it_is_audit_logged(sup, world, app):
    before = _audit_count(app, "user_updated")
    resp = sup.post("/console/planning/inspectors/insp/conflicts", data={
        "csrf_token": page_token(sup, PLANNING),
        "offices": f"{world['office']}, {world['other_office']},{world['office']}"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert "saved=insp" in resp.headers["Location"]
    assert _conflicts(app) == sorted([world["office"], world["other_office"]])
    assert _audit_count(app, "user_updated") == before + 1
    html = sup.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="conflicts-saved"' in html
    # The planning rules use the list: an assignment to a conflicting office is refused.
    refused = sup.post("/console/planning/assignments?lang=en", data={
        "csrf_token": page_token(sup, PLANNING), "office": world["other_office"],
        "inspector": "insp", "form": "service-centre-visit/v1",
        "window_start": "2030-01-10T09:00", "window_end": "2030-01-20T18:00"})
    assert refused.status_code in (409, 422)
    # Emptying the list removes every office.
    resp = sup.post("/console/planning/inspectors/insp/conflicts", data={
        "csrf_token": page_token(sup, PLANNING), "offices": ""})
    assert resp.status_code == 302 and _conflicts(app) == []


def test_refused_conflict_lists_change_nothing(sup, world, app):
    before = _audit_count(app, "user_updated")
    token = page_token(sup, PLANNING)
    resp = sup.post("/console/planning/inspectors/insp/conflicts?lang=en", data={
        "csrf_token": token, "offices": f"{world['office']}, NOPE-1, <b>x</b>"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Unknown or outside your regions: NOPE-1" in html and "<b>x</b>" not in html
    resp = sup.post("/console/planning/inspectors/insp/conflicts?lang=en", data={
        "csrf_token": token, "offices": "AST\x00-1"})
    assert resp.status_code == 422 and "AST\\x00-1" in resp.get_data(as_text=True)
    resp = sup.post("/console/planning/inspectors/sup/conflicts?lang=ru", data={
        "csrf_token": token, "offices": world["office"]})
    assert resp.status_code == 422 and "не проверяющий" in resp.get_data(as_text=True)
    resp = sup.post("/console/planning/inspectors/nobody/conflicts", data={
        "csrf_token": token, "offices": world["office"]}, headers={"Accept": "text/html"})
    assert resp.status_code == 404
    assert sup.post("/console/planning/inspectors/insp/conflicts",
                    data={"offices": world["office"]}).status_code == 400  # no CSRF token
    assert _conflicts(app) == [] and _conflicts(app, "sup") == []
    assert _audit_count(app, "user_updated") == before


def test_a_regional_supervisor_keeps_other_regions_offices(client, world, app, commit):
    def build():
        far = factories.office(code="FAR-1")
        home = db.session.scalar(sa.select(Office).where(Office.code == world["office"]))
        regional = factories.user(role="supervisor", login="regsup",
                                  regions=[home.region.code])
        return far.code, regional.login
    far, regional = commit(build)
    sign_in(client, "adm")
    assert client.post("/console/planning/inspectors/insp/conflicts", data={
        "csrf_token": page_token(client, PLANNING), "offices": far}).status_code == 302
    client.post("/logout", data={"csrf_token": page_token(client, PLANNING)})
    sign_in(client, regional)
    token = page_token(client, PLANNING)
    resp = client.post("/console/planning/inspectors/insp/conflicts?lang=en",
                       data={"csrf_token": token, "offices": far})
    assert resp.status_code == 422  # an office outside the supervisor's regions
    resp = client.post("/console/planning/inspectors/insp/conflicts",
                       data={"csrf_token": token, "offices": world["office"]})
    assert resp.status_code == 302
    assert _conflicts(app) == sorted([far, world["office"]])  # FAR-1 stays
