"""The console's Jobs page: admins see waiting and failed jobs with the error, and retry."""
from __future__ import annotations

import re

from server.db import unit_of_work
from server.jobs import queue


def _failed_job(app) -> int:
    with app.app_context():
        with unit_of_work():
            return queue.enqueue("jobs.fail").id


def test_an_admin_sees_a_failed_job_with_its_error_and_retries_it(app, client, sign_in):
    job_id = _failed_job(app)
    sign_in("admin")
    html = client.get("/console/admin/jobs").get_data(as_text=True)
    assert 'id="jobs-failed"' in html and "jobs.fail" in html
    assert "this job always fails" in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = client.post(f"/console/admin/jobs/{job_id}/retry", data={"csrf_token": token})
    assert resp.status_code == 302
    html = client.get("/console/admin/jobs").get_data(as_text=True)
    assert "failed</span> 1" in html  # run again (inline), failed again: still one failed job
    resp = client.post("/console/admin/jobs/999/retry", data={"csrf_token": token})
    assert resp.status_code == 409 and "Only a failed job" in resp.get_data(as_text=True)


def test_the_jobs_page_is_for_admins_only(app, client, sign_in):
    sign_in("supervisor")
    assert client.get("/console/admin/jobs").status_code == 403
