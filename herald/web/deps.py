"""Request-scoped helpers shared by the API, webhooks, tracking and admin."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from herald.core.db import Database
from herald.core.settings import Settings


def settings() -> Settings:
    return current_app.extensions["herald.settings"]


def database() -> Database:
    return current_app.extensions["herald.db"]


def session() -> Session:
    """The request's session; the handler commits, teardown closes (and rolls back on error)."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    return g.db_session
