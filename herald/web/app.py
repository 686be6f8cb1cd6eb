"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from herald.core.db import Database
from herald.core.settings import Settings
from herald.web import admin, security, tracking, webhooks
from herald.web.api import blueprint as api_blueprint
from herald.web.api import limits as api_limits

JSON_PREFIXES = ("/api/v1/", "/webhooks/")


def create_app(settings: Settings | None = None, db: Database | None = None) -> Flask:
    """Build the web app: API, webhooks, tracking and the admin."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.extensions["herald.settings"] = settings
    app.extensions["herald.db"] = db or Database(settings.database_url)
    security.init_app(app)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        with app.extensions["herald.db"].session() as session:
            session.execute(text("SELECT 1"))
        return jsonify(status="ok")

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _routing_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        """The API and webhooks answer unknown paths and methods in the contract's error
        shape; everything else keeps Flask's HTML page."""
        if not request.path.startswith(JSON_PREFIXES):
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        body = {"code": code, "message": exc.description or exc.name, "fields": {}}
        response = exc.get_response()
        response.set_data(jsonify(error=body).get_data())
        response.mimetype = "application/json"
        return response

    api_limits.init_app(app)  # before the blueprint is registered, so its routes are limited
    app.register_blueprint(api_blueprint)
    tracking.init_app(app)
    webhooks.init_app(app)
    admin.init_app(app)
    logging.getLogger(__name__).debug("app ready")
    return app
