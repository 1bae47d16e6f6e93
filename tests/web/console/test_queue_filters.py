""""Open the next visit after deciding" keeps the queue's filters: the queue's links carry them
(q_region, q_office, q_inspector, q_flag, q_older_than_days), the visit page's forms send them,
the next visit is the oldest of the same filtered queue, and after its last visit the queue opens
with its filters. A carried filter the queue would refuse is refused before anything changes."""
from __future__ import annotations

import re
import uuid as uuid_module
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from server.db import utcnow
from server.extensions import db
from server.offices.models import Office
from server.review.models import AnswerCorrection
from server.visits.models import Visit

from .helpers import far_away, page_token, submit

QUEUE = "/console/queue"


def _path(uuid) -> str:
    return f"/console/visits/{uuid}"


def _status(app, uuid) -> str:
    with app.app_context():
        return db.session.scalar(sa.select(Visit.status).where(
            Visit.uuid == uuid_module.UUID(uuid)))


def _args(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _decide(sup, uuid, **fields):
    data = {"csrf_token": page_token(sup, QUEUE), "decision": "approve", "revision": "1",
            "next_queue": "1", **fields}
    return sup.post(_path(uuid) + "/decide?lang=en", data=data)


def test_the_next_visit_is_the_oldest_of_the_same_filtered_queue(sup, world, app,
                                                                  default_form):
    first = submit(sup, world, default_form)
    elsewhere = submit(sup, world, default_form, office=world["other_office"])
    third = submit(sup, world, default_form)
    office = world["office"]
    html = sup.get(f"{QUEUE}?office={office}&lang=en").get_data(as_text=True)
    assert f"/console/visits/{first['uuid']}?lang=en&amp;q_office={office}&amp;from=queue" in html
    assert elsewhere["uuid"] not in html
    page = sup.get(f"{_path(first['uuid'])}?lang=en&q_office={office}&from=queue&focus=approve")
    html = page.get_data(as_text=True)
    assert f'<input type="hidden" name="q_office" value="{office}">' in html
    assert f'id="back-to-queue" href="/console/queue?lang=en&amp;office={office}"' in html
    # The older visit of another office is not next: the filtered queue's next one is.
    resp = _decide(sup, first["uuid"], q_office=office, focus="approve")
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert urlsplit(location).path == _path(third["uuid"])
    assert _args(location) == {"done": "approve", "lang": "en", "from": "queue",
                               "q_office": office, "focus": "approve",
                               "decided": first["uuid"]}
    html = sup.get(location).get_data(as_text=True)
    assert 'id="next-queue" checked' in html
    assert f'<input type="hidden" name="q_office" value="{office}">' in html
    # The filtered queue's last visit: back to the queue with its filters (the other office's
    # visit still waits, but not in this queue).
    resp = _decide(sup, third["uuid"], q_office=office)
    location = resp.headers["Location"]
    assert urlsplit(location).path == QUEUE
    assert _args(location) == {"done": "approve", "lang": "en", "empty": "1", "office": office,
                               "decided": third["uuid"]}
    html = sup.get(location).get_data(as_text=True)
    assert "That was the last visit of the queue." in html
    assert re.search(rf'name="office" id="filter-office" list="office-choices" value="{office}"',
                     html)
    assert _status(app, elsewhere["uuid"]) == "submitted"
    # Without filters the whole queue goes on, as before.
    resp = _decide(sup, submit(sup, world, default_form)["uuid"])
    assert urlsplit(resp.headers["Location"]).path == _path(elsewhere["uuid"])
    assert "q_office" not in resp.headers["Location"]


def test_flag_inspector_region_and_age_are_carried_together(sup, world, app, default_form):
    plain_old = submit(sup, world, default_form)
    flagged_old = submit(sup, world, default_form, **far_away())
    flagged_new = submit(sup, world, default_form, **far_away())
    flagged_old_2 = submit(sup, world, default_form, **far_away())
    with app.app_context():
        region = db.session.scalar(sa.select(Office).where(
            Office.code == world["office"])).region.code
        for visit in (plain_old, flagged_old, flagged_old_2):
            row = db.session.scalar(sa.select(Visit).where(
                Visit.uuid == uuid_module.UUID(visit["uuid"])))
            row.submitted_at = utcnow() - timedelta(days=9)
        db.session.commit()
    filters = {"q_flag": "far_from_office", "q_older_than_days": "5", "q_region": region,
               "q_inspector": "insp"}
    html = sup.get(f"{QUEUE}?flag=far_from_office&older_than_days=5&region={region}"
                   "&inspector=insp&lang=en").get_data(as_text=True)
    assert plain_old["uuid"] not in html and flagged_new["uuid"] not in html
    assert "q_older_than_days=5" in html and "q_flag=far_from_office" in html
    resp = _decide(sup, flagged_old["uuid"], **filters)
    location = resp.headers["Location"]
    assert urlsplit(location).path == _path(flagged_old_2["uuid"])
    assert {k: _args(location)[k] for k in filters} == filters
    resp = _decide(sup, flagged_old_2["uuid"], **filters)
    args = _args(resp.headers["Location"])
    assert urlsplit(resp.headers["Location"]).path == QUEUE and args["empty"] == "1"
    assert {k: args[k[2:]] for k in filters} == filters
    assert _status(app, plain_old["uuid"]) == _status(app, flagged_new["uuid"]) == "submitted"


def test_a_correction_on_the_way_keeps_the_queue_and_its_filters(sup, world, app,
                                                                 default_form):
    visit = submit(sup, world, default_form)
    path = _path(visit["uuid"])
    html = sup.get(f"{path}?lang=en&from=queue&q_flag=too_short").get_data(as_text=True)
    assert '<input type="hidden" name="from_queue" value="1">' in html
    resp = sup.post(path + "/correct?lang=en", data={
        "csrf_token": page_token(sup, path), "question": "A01", "value": "no",
        "reason": "The photo shows steps", "revision": "1", "from_queue": "1",
        "q_flag": "too_short"})
    assert resp.status_code == 302
    args = _args(resp.headers["Location"].split("#")[0])
    assert args["from"] == "queue" and args["q_flag"] == "too_short"
    html = sup.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="next-queue" checked' in html


def test_a_carried_filter_the_queue_refuses_changes_nothing(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _path(visit["uuid"])
    resp = sup.get(f"{path}?lang=en&from=queue&q_older_than_days=abc")
    assert resp.status_code == 422
    assert "Age is a number of days" in resp.get_data(as_text=True)
    resp = _decide(sup, visit["uuid"], q_older_than_days="99999")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Age is a number of days" in html and 'id="decide-form"' in html
    assert 'name="q_older_than_days"' not in html  # the refused value is not carried on
    resp = _decide(sup, visit["uuid"], q_region="NOWHERE")
    assert resp.status_code == 403
    html = resp.get_data(as_text=True)
    assert "Region &#39;NOWHERE&#39; is not in your scope." in html and "out_of_scope" in html
    resp = sup.post(path + "/decide?lang=ru", data={
        "csrf_token": page_token(sup, QUEUE), "decision": "approve", "revision": "1",
        "next_queue": "1", "q_region": "NOWHERE"})
    assert resp.status_code == 403
    assert "Регион &#39;NOWHERE&#39; вне вашей зоны." in resp.get_data(as_text=True)
    assert _status(app, visit["uuid"]) == "submitted"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AnswerCorrection.id))) == 0
