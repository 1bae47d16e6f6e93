"""Adal: mystery-shopper inspections of public service centres."""
from __future__ import annotations

__version__ = "0.1.0"

import json
import logging

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config, errors, health, rest, transport
from . import models  # noqa: F401  (all tables known before create_all or migrations)
from . import web
from .alerts import api as alerts_api
from .auth import api as auth_api
from .audit import seal as audit_seal
from .cli import adal
from .exports import api as exports_api
from .extensions import api, csrf, limiter, migrate
from .extensions import db as _db  # not `db`: server.db is the module of helpers
from .media import api as media_api
from .media import tus as media_tus
from .media.storage import build_storages
from .assignments import api as assignments_api
from .forms import api as forms_api
from .offices import api as offices_api
from .receipts import api as receipts_api
from .recommendations import api as recommendations_api
from .reports import api as reports_api
from .review import api as review_api
from .visits import api as visits_api

BLUEPRINTS = (auth_api.blp, offices_api.blp, forms_api.blp, assignments_api.blp,
              visits_api.blp, review_api.blp, recommendations_api.blp, media_tus.blp,
              media_api.blp, reports_api.blp, receipts_api.blp, exports_api.blp, alerts_api.blp)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that absurdly deep nesting is a client error, not a crash."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise json.JSONDecodeError("nested too deeply", "", 0) from exc
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            # An integer of more than 4,300 digits: Python's int-parsing limit.
            raise json.JSONDecodeError(str(exc), "", 0) from exc


def create_app(overrides: dict | None = None, *, instance_path: str | None = None) -> Flask:
    """Build the app; tests pass `overrides` (and a temp `instance_path`), deployments set
    ADAL_* environment variables."""
    # No app-level /static: the web blueprint serves server/web/static at /static.
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True,
                static_folder=None)
    app.json_provider_class = JSONProvider
    app.json = JSONProvider(app)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_mapping(API_TITLE="Adal", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
                            OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json",
                            API_SPEC_OPTIONS=config.API_SPEC_OPTIONS)
    config.from_environment(app.config)
    app.config.update(overrides or {})
    config.finalise(app.config, app.instance_path)
    config.validate(app.config)
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"],
                                x_proto=1, x_host=1)
    logging.basicConfig(level=logging.INFO)

    rest.register(app)  # first: hostile text is refused before CSRF, limits or any view
    _db.init_app(app)
    migrate.init_app(app, _db, directory=str(config.PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    app.extensions["adal_storages"] = build_storages(app.config)
    errors.register(app)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    app.register_blueprint(health.bp)
    web.register(app)
    transport.init_app(app)
    audit_seal.init_app(app)
    app.cli.add_command(adal)
    return app
