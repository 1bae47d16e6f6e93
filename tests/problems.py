"""One check for every error answer of the API: RFC 9457 problem+json with a stable code."""
from __future__ import annotations

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(resp, status: int, code: str) -> dict:
    """The response is problem+json with every required key, this status and this code;
    returns the body."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"] == "application/problem+json"
    body = resp.get_json()
    assert PROBLEM_KEYS <= body.keys()
    assert (body["status"], body["code"], body["type"]) == (status, code,
                                                            f"urn:adal:problem:{code}")
    assert body["title"] and body["detail"]
    return body
