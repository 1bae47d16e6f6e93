"""The admin page: users, form publishing from YAML and (in two steps) from XLSForm, the audit
log and its verification."""
from __future__ import annotations

import io
import re
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


def test_admin_pages_list_users_forms_and_audit(client, world):
    html = _adm(client).get(ADMIN + "?lang=en").get_data(as_text=True)
    for login in ("insp", "sup", "adm"):
        assert f'<td class="code">{login}</td>' in html
    assert "service-centre-visit" in client.get(ADMIN + "/forms?lang=en").get_data(as_text=True)
    html = client.get(ADMIN + "/audit?lang=en").get_data(as_text=True)
    assert 'id="chain-status"' in html and "The chain of hashes is intact" in html
    assert "<td>form published</td>" in html and ">form_published<" not in html
    html = client.get(ADMIN + "/audit?lang=ru").get_data(as_text=True)
    assert "анкета опубликована" in html
    html = client.get(ADMIN + "?lang=ru").get_data(as_text=True)
    assert "<td>проверяющий</td>" in html and "<td>inspector</td>" not in html


def test_a_tampered_audit_log_shows_where_it_breaks(client, world, app):
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq))
        event.payload = {**event.payload, "tampered": True}
        db.session.commit()
    html = _adm(client).get(ADMIN + "/audit?lang=en").get_data(as_text=True)
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


def _tokens(app, login="insp") -> list[tuple[str, bool]]:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.login == login))
        return [(t.label, t.revoked_at is None) for t in db.session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))]


def test_reset_token_revokes_the_old_ones_redirects_and_shows_the_secret_once(client, world, app):
    old_header = world["inspector"]
    assert client.get("/api/v1/auth/me", headers=old_header).status_code == 200
    assert any(active for _label, active in _tokens(app))
    _adm(client)
    resp = client.post("/console/admin/users/insp/token?lang=en",
                       data={"csrf_token": page_token(client, ADMIN)})
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith("/console/admin")
    tokens = _tokens(app)
    assert [label for label, active in tokens if active] == ["console"]
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    secret = re.search(r'id="token-secret">.*?<code>([^<]+)</code>', html, re.S).group(1)
    assert "Every earlier token of this user was revoked." in html
    # Reloading the page shows the secret no more and issues nothing.
    again = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="token-secret"' not in again and secret not in again
    assert _tokens(app) == tokens
    client.post("/logout", data={"csrf_token": page_token(client, ADMIN)})
    assert client.get("/api/v1/auth/me", headers=old_header).status_code == 401
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json["login"] == "insp"


def test_reset_token_for_an_unknown_user_is_a_404_and_issues_nothing(client, world, app):
    _adm(client)
    before = _tokens(app)
    resp = client.post("/console/admin/users/nobody/token",
                       data={"csrf_token": page_token(client, ADMIN)},
                       headers={"Accept": "text/html"})
    assert resp.status_code == 404
    assert _tokens(app) == before


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


def _xlsform_bytes(tmp_path, **settings) -> bytes:
    from tests.forms.test_xlsform import FULL_CHOICES, FULL_SURVEY, FULL_SETTINGS, workbook

    path = workbook(tmp_path / "visit_check.xlsx", FULL_SURVEY, FULL_CHOICES,
                    {**FULL_SETTINGS, **settings})
    return path.read_bytes()


def _preview(client, raw: bytes, lang: str = "en"):
    """Step 1: upload the workbook; the page shows the converted form and a Publish form."""
    resp = client.post(f"/console/admin/forms?lang={lang}", content_type="multipart/form-data",
                       data={"csrf_token": page_token(client, ADMIN),
                             "file": (io.BytesIO(raw), "visit_check.xlsx")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:2000]
    fields = {name: html_unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="(sha256|source|csrf_token)" value="([^"]*)">',
        html.split('id="preview-publish"')[1])}
    fields["yaml"] = html_unescape(re.search(
        r'<textarea name="yaml" hidden readonly>(.*?)</textarea>', html, re.S).group(1))
    return html, fields


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def _versions(app) -> list[tuple[str, int]]:
    with app.app_context():
        return [(v.form.key, v.version) for v in db.session.scalars(
            sa.select(FormVersion).order_by(FormVersion.id)).all()]


def test_an_xlsform_upload_is_shown_first_and_published_in_a_second_step(client, world, app,
                                                                        tmp_path):
    import hashlib

    from server.forms.definition import check_definition
    from server.forms.loader import read_yaml
    from server.forms.service import definition_sha256

    _adm(client)
    before = _versions(app)
    html, fields = _preview(client, _xlsform_bytes(tmp_path))
    # Step 1 stores nothing: it shows the summary, the import's notes and the YAML with its hash.
    assert _versions(app) == before
    assert 'id="form-preview"' in html and "Form published" not in html
    assert '<span class="code">visit-check</span> v3' in html
    assert 'id="form-warnings"' in html  # the metadata rows skipped by the import
    assert hashlib.sha256(fields["yaml"].encode()).hexdigest() == fields["sha256"]
    assert f'id="preview-sha256">{fields["sha256"]}<' in html
    assert fields["source"] == "visit_check.xlsx"
    # Step 2 publishes exactly what was shown (newlines as a browser sends them: CRLF).
    sent = {**fields, "yaml": fields["yaml"].replace("\n", "\r\n")}
    resp = client.post("/console/admin/forms/publish?lang=en", data=sent)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:2000]
    assert "Form published: visit-check v3" in html
    with app.app_context():
        version = db.session.scalar(sa.select(FormVersion).order_by(FormVersion.id.desc()))
        assert (version.form.key, version.version) == ("visit-check", 3)
        assert version.source == "visit_check.xlsx"
        shown = check_definition(read_yaml(fields["yaml"].encode(), "x"), "x")
        assert definition_sha256(version.definition) == definition_sha256(shown)
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.seq)).where(
            AuditEvent.action == "form_published",
            AuditEvent.object_id.like("visit-check%"))) >= 1
    # The same preview cannot be sent twice.
    resp = client.post("/console/admin/forms/publish?lang=en", data=fields)
    assert resp.status_code == 409 and "preview_mismatch" in resp.get_data(as_text=True)


def test_a_tampered_preview_is_refused_and_publishes_nothing(client, world, app, tmp_path):
    import hashlib

    _adm(client)
    before = _versions(app)
    _html, fields = _preview(client, _xlsform_bytes(tmp_path), lang="ru")
    changed = fields["yaml"].replace("version: 3", "version: 4")
    assert changed != fields["yaml"]
    url = "/console/admin/forms/publish?lang=en"
    # The YAML changed, the hash shown kept: refused.
    resp = client.post(url, data={**fields, "yaml": changed})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "differs from the one shown" in html and "preview_mismatch" in html
    # The YAML changed and its hash recomputed: a hash this session was not shown, refused.
    resp = client.post(url, data={**fields, "yaml": changed,
                                  "sha256": hashlib.sha256(changed.encode()).hexdigest()})
    assert resp.status_code == 409
    assert "was not shown to you" in resp.get_data(as_text=True)
    # A hash of another shape, or missing fields: 422 naming them.
    resp = client.post(url, data={**fields, "sha256": "abc"})
    assert resp.status_code == 422 and "64 hexadecimal digits" in resp.get_data(as_text=True)
    resp = client.post(url + "&x=1", data={"csrf_token": fields["csrf_token"]})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "The publish form is incomplete" in html
    assert "The converted form (YAML): Required." in html
    assert "SHA-256 of the converted form: Required." in html
    # Without the CSRF token: refused.
    resp = client.post(url, data={k: v for k, v in fields.items() if k != "csrf_token"})
    assert resp.status_code == 400
    assert _versions(app) == before
    # In the page language.
    resp = client.post("/console/admin/forms/publish?lang=kk", data={**fields, "yaml": changed})
    assert resp.status_code == 409 and "көрсетілгеннен өзгеше" in resp.get_data(as_text=True)
    # The untouched preview still publishes.
    resp = client.post(url, data=fields)
    assert resp.status_code == 200 and "Form published: visit-check v3" in \
        resp.get_data(as_text=True)
    assert _versions(app) == before + [("visit-check", 3)]


def test_the_converted_yaml_is_checked_again_when_published(client, world, app, tmp_path):
    import hashlib

    from server.web.console_admin import PREVIEWS_KEY

    _adm(client)
    before = _versions(app)
    bad = "key: Not A Key\nversion: 0\n"
    sha = hashlib.sha256(bad.encode()).hexdigest()
    with client.session_transaction() as session:  # as if the server had shown it
        session[PREVIEWS_KEY] = [sha]
    resp = client.post("/console/admin/forms/publish?lang=en", data={
        "csrf_token": page_token(client, ADMIN), "yaml": bad, "sha256": sha})
    assert resp.status_code == 422
    assert 'id="form-problems"' in resp.get_data(as_text=True)
    assert _versions(app) == before


def test_a_broken_xlsform_lists_its_problems_and_publishes_nothing(client, world, app, tmp_path):
    from tests.forms.test_xlsform import workbook

    _adm(client)
    path = workbook(tmp_path / "broken.xlsx",
                    [{"type": "begin group", "name": "main", "label": {"en": "Main"}},
                     {"type": "select_one missing_list", "name": "q1",
                      "label": {"en": "<script>x</script>"}}])
    for raw, name in ((path.read_bytes(), "broken.xlsx"), (b"PK\x03\x04 not a workbook", "x.xlsx")):
        resp = client.post("/console/admin/forms?lang=en", content_type="multipart/form-data",
                           data={"csrf_token": page_token(client, ADMIN),
                                 "file": (io.BytesIO(raw), name)})
        assert resp.status_code == 422, resp.get_data(as_text=True)[:2000]
        html = resp.get_data(as_text=True)
        assert 'id="form-problems"' in html and "<script>x</script>" not in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(FormVersion.id))) == 1


def test_an_empty_form_upload_is_refused_in_the_page_language(client, world, app):
    _adm(client)
    resp = client.post("/console/admin/forms?lang=ru", content_type="multipart/form-data",
                       data={"csrf_token": page_token(client, ADMIN),
                             "file": (io.BytesIO(b""), "empty.yaml")})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Выберите файл анкеты" in html and "Choose a form file" not in html
