"""The admin page: users, form publishing from YAML, the audit log and its verification."""
from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.auth.models import ApiToken, User
from server.config import PROJECT_ROOT
from server.extensions import db
from server.forms.models import FormVersion

from .helpers import page_token, sign_in

ADMIN = "/console/admin"


def _adm(client):
    sign_in(client, "adm")
    return client


def test_admin_page_for_admins_only(client, world):
    assert client.get(ADMIN).status_code == 302
    sign_in(client, "sup")
    assert client.get(ADMIN, headers={"Accept": "text/html"}).status_code == 403
    assert "/console/admin" not in client.get("/console/queue").get_data(as_text=True)


def test_admin_page_lists_users_forms_and_audit(client, world):
    html = _adm(client).get(ADMIN + "?lang=en").get_data(as_text=True)
    for login in ("insp", "sup", "adm"):
        assert f'<td class="code">{login}</td>' in html
    assert "service-centre-visit" in html
    assert 'id="chain-status"' in html and "The chain of hashes is intact" in html
    assert "form_published" in html


def test_a_tampered_audit_log_shows_where_it_breaks(client, world, app):
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq))
        event.payload = {**event.payload, "tampered": True}
        db.session.commit()
    html = _adm(client).get(ADMIN + "?lang=en").get_data(as_text=True)
    assert "The chain of hashes is broken at event 1" in html


def test_create_and_deactivate_a_user(client, world, app):
    _adm(client)
    resp = client.post("/console/admin/users", data={
        "csrf_token": page_token(client, ADMIN), "login": "newsup", "role": "supervisor",
        "password": "a long enough password 1", "display_name": "<b>New</b>"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    html = client.get(ADMIN).get_data(as_text=True)
    assert "&lt;b&gt;New&lt;/b&gt;" in html
    resp = client.post("/console/admin/users/newsup/deactivate",
                       data={"csrf_token": page_token(client, ADMIN)})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.login == "newsup")).active is False


def test_a_refused_user_shows_the_errors(client, world, app):
    _adm(client)
    resp = client.post("/console/admin/users?lang=en", data={
        "csrf_token": page_token(client, ADMIN), "login": "insp", "role": "inspector",
        "password": "a long enough password 1"})
    assert resp.status_code == 409
    assert "is taken" in resp.get_data(as_text=True)


def test_the_last_admin_cannot_be_deactivated(client, world, app):
    _adm(client)
    resp = client.post("/console/admin/users/adm/deactivate?lang=en",
                       data={"csrf_token": page_token(client, ADMIN)})
    assert resp.status_code == 409 and "last active admin" in resp.get_data(as_text=True)


def test_a_new_token_is_shown_once(client, world, app):
    _adm(client)
    resp = client.post("/console/admin/users/insp/token",
                       data={"csrf_token": page_token(client, ADMIN)})
    assert resp.status_code == 200
    assert 'id="token-secret"' in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ApiToken.id)).where(
            ApiToken.label == "console")) == 1


def test_admin_posts_without_csrf_are_refused(client, world, app):
    _adm(client)
    assert client.post("/console/admin/users/insp/deactivate").status_code == 400
    assert client.post("/console/admin/users", data={"login": "x", "role": "admin",
                                                     "password": "p" * 20}).status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.login == "insp")).active


def test_publish_a_form_version_from_yaml(client, world, app):
    _adm(client)
    text = (Path(PROJECT_ROOT) / "survey_forms" / "service_centre_visit.v1.yaml").read_text()
    text = text.replace("version: 1\n", "version: 2\n", 1)
    resp = client.post("/console/admin/forms?lang=en", content_type="multipart/form-data",
                       data={"csrf_token": page_token(client, ADMIN),
                             "file": (io.BytesIO(text.encode()), "v2.yaml")})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    assert "Form published: service-centre-visit v2" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(FormVersion.id))) == 2


def test_a_bad_form_file_lists_its_problems_and_publishes_nothing(client, world, app):
    _adm(client)
    bad = b"key: broken\nversion: 1\ntitle: {en: '<script>x</script>'}\nsections: []\n"
    resp = client.post("/console/admin/forms?lang=en", content_type="multipart/form-data",
                       data={"csrf_token": page_token(client, ADMIN),
                             "file": (io.BytesIO(bad), "bad.yaml")})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="form-problems"' in html and "<script>x</script>" not in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(FormVersion.id))) == 1


def test_a_changed_form_under_the_same_version_is_a_conflict(client, world, app):
    _adm(client)
    text = (Path(PROJECT_ROOT) / "survey_forms" / "service_centre_visit.v1.yaml").read_text()
    text = text.replace("Public service centre visit", "Changed title", 1)
    resp = client.post("/console/admin/forms?lang=en", content_type="multipart/form-data",
                       data={"csrf_token": page_token(client, ADMIN),
                             "file": (io.BytesIO(text.encode()), "v1.yaml")})
    assert resp.status_code == 409
    assert "already published with different content" in resp.get_data(as_text=True)
