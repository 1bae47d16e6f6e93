"""What crosses the wire: Secure cookies and HSTS in production, and no caching of anything a
signed-in user was shown (it may name inspectors or carry GPS positions).

"Production" is any run that is not debug and sees the request arrive over HTTPS (behind a
reverse proxy that sets X-Forwarded-Proto, with ADAL_PROXY_FIX_X_FOR=1, docs/deployment.md), or
`ADAL_SECURE_COOKIES=1` whatever the request says. `ADAL_SECURE_COOKIES=0` turns both off.
"""
from __future__ import annotations

from flask import Flask, Response, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

HSTS = "max-age=31536000; includeSubDomains"


def secure_transport(app: Flask) -> bool:
    """Whether cookies get the Secure flag and responses HSTS."""
    forced = app.config.get("SECURE_COOKIES")
    if forced is not None:
        return bool(forced)
    return not app.debug and has_request_context() and request.is_secure


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, Secure whenever the transport is (not a fixed setting)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return secure_transport(app)

    def open_session(self, app: Flask, request):
        """As Flask's, without building the signing serializer for a request that carries no
        session cookie (every API call with a token: ~30 us each, docs/benchmarks.md)."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def transport_headers(response: Response) -> Response:
    """HSTS over HTTPS in production; `no-store` on every answer to a signed-in user."""
    if secure_transport(current_app):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if g.get("adal_user") is not None:
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
    return response


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.after_request(transport_headers)
