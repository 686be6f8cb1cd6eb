"""Incoming webhooks at the root (``/webhooks/...``), outside the bearer-token API.

Each source is one module with a blueprint; add yours to :data:`BLUEPRINTS`. Shared helpers
(Standard Webhooks verification, the once-only inbox, error answers) are in
:mod:`herald.web.webhooks.common`.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from herald.web.webhooks import email, shop, sms

BLUEPRINTS: list[Blueprint] = [shop.bp, sms.bp, email.blueprint]


def init_app(app: Flask) -> None:
    """Register every webhook blueprint (called by ``create_app``)."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
