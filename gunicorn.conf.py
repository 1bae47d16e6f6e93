"""gunicorn settings for Adal: `gunicorn -c gunicorn.conf.py wsgi:app` (docs/deployment.md).

gunicorn also reads this file by itself when started in this folder; command-line options
override it. Bind (`-b`, default 127.0.0.1:8000) and workers (`-w`, or WEB_CONCURRENCY) are left
to the command line. The request limits are explicit, and set above the proxy's
(nginx `large_client_header_buffers 4 8k`), so a request the proxy lets through is never
refused here; the proxy answers longer ones itself with Adal's problem JSON.

gunicorn answers a request it cannot parse (a request line or header past these limits, a
malformed line) before the app sees it, with an HTML page. Without a proxy in front, the
writer below makes that answer problem+json like every other Adal error
(tests/test_faults_limits.py checks both ways).
"""
from __future__ import annotations

import json

import gunicorn.util

worker_class = "gthread"  # a slow phone's chunk must not hold a whole worker (docs/media.md)
threads = 4
timeout = 120

limit_request_line = 8190          # gunicorn's maximum; nginx's 8 KiB buffer refuses longer
limit_request_field_size = 16380   # one header line; nginx refuses one over 8 KiB
limit_request_fields = 32768       # gunicorn's maximum: nginx's 4 x 8 KiB bound the headers

_CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long",
          417: "expectation_failed", 431: "header_too_large", 500: "internal_error",
          501: "not_implemented"}
_DETAILS = {414: "The URL is longer than the server accepts (8190 bytes).",
            431: "A request header is larger than the server accepts, or there are too many."}


def _write_problem(sock, status_int, reason, mesg):
    """gunicorn's answer to a request it refused, as problem+json (RFC 9457) with Adal's
    fields, instead of an HTML page. The parser's message is not echoed (it quotes the
    request)."""
    code = _CODES.get(status_int, "bad_request")
    body = json.dumps({"type": f"urn:adal:problem:{code}", "title": reason,
                       "status": status_int, "code": code,
                       "detail": _DETAILS.get(status_int, "The request could not be read.")})
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\n\r\n")
    gunicorn.util.write_nonblock(sock, (head + body).encode("latin-1"))


gunicorn.util.write_error = _write_problem
