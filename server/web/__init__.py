"""Server-rendered pages: sign-in now; the inspector app (/app) and console (/console) later."""
from __future__ import annotations

from flask import Flask

from ..reports import views as report_views
from . import console, inspector, views


def register(app: Flask) -> None:
    """Add the pages and the security headers every response carries."""
    app.register_blueprint(views.bp)
    app.register_blueprint(report_views.bp)
    app.register_blueprint(inspector.bp)
    app.register_blueprint(console.bp)
    app.after_request(views.security_headers)
    app.context_processor(views.template_helpers)
