"""GET /healthz: can this process reach its database and write to its media store?"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from . import __version__
from .extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/api/v1/version")
def version():
    """Which Adal and which API this is; no database, no sign-in (also the benchmarks' baseline)."""
    return jsonify({"name": "adal", "api": "v1", "version": __version__})


@bp.get("/healthz")
def healthz():
    """200 when every check passes, 503 naming the failed ones; for load balancers and probes."""
    checks = {}
    try:
        if db.engine.dialect.name == "postgresql":  # a probe must answer fast, not in 10 s
            db.session.execute(sa.text("SET LOCAL statement_timeout = 2000"))
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not healthy", whatever the driver raised
        log.warning("health: database: %s", exc)
        db.session.rollback()
        checks["database"] = "unavailable"
    backend = current_app.config["MEDIA_BACKEND"]
    try:
        current_app.extensions["adal_storages"][backend].check()
        checks["media"] = "ok"
    except Exception as exc:
        log.warning("health: media: %s", exc)
        checks["media"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    resp = jsonify({"status": "ok" if ok else "unavailable", "checks": checks})
    resp.status_code = 200 if ok else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp
