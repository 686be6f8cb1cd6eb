"""The web admin at /admin: Flask-Admin views over Herald's models, behind Flask-Login, with
CSRF on every admin form and a rate-limited login.

``create_app`` calls :func:`init_app`; each app gets its own Admin and view instances.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, has_app_context, request
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from herald.audiences.models import Contact, Segment
from herald.campaigns.models import Campaign
from herald.core.accounts import ApiToken, User
from herald.web import deps
from herald.web.admin.accounts import TokenView, UserView
from herald.web.admin.audiences import ContactView, SegmentView
from herald.web.admin.auth import can_write, init_auth, is_admin
from herald.web.admin.builder import BuilderView
from herald.web.admin.calendar import CalendarView
from herald.web.admin.campaigns import CampaignView
from herald.web.admin.dashboard import DashboardView
from herald.web.admin.imports import ImportView
from herald.web.admin.journeys import JourneyView
from herald.web.admin.outbox import OutboxView
from herald.web.admin.promotions import PromotionView
from herald.web.admin.reports import ReportView
from herald.web.admin.rfm import RfmView
from herald.web.admin.send_time import SendTimeView
from herald.web.admin.workspace import AUDIENCE, add_workspace_views
from herald.web.security import csp_nonce

ADMIN_PREFIX = "/admin"


class RequestSession:
    """What the model views get as their session: each attribute is looked up on the current
    request's session (``deps.session()``), which the app's teardown closes."""

    def __getattr__(self, name: str) -> Any:
        # Flask-Admin probes ``.session`` (to tell a Flask-SQLAlchemy object from a session) and
        # other attributes while the views are built, outside any request
        if name.startswith("_") or name == "session" or not has_app_context():
            raise AttributeError(name)
        return getattr(deps.session(), name)


def _limiter(app: Flask) -> Limiter:
    settings = app.extensions["herald.settings"]
    storage = settings.redis_url or "memory://"
    return Limiter(
        key_func=get_remote_address,
        app=app,
        headers_enabled=True,  # 429 answers carry Retry-After
        storage_uri=storage,
        default_limits=[],
        # one Redis may serve several Herald installs (and parallel test runs)
        key_prefix=f"herald-admin:{settings.queue}",
    )


def _csrf(app: Flask) -> CSRFProtect:
    """CSRF checks for admin POSTs only: the JSON API, webhooks and tracking links are called by
    machines with bearer tokens or signatures, never from an admin session."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf = CSRFProtect(app)

    @app.before_request
    def _protect_admin_forms() -> None:
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and (
            request.path == ADMIN_PREFIX or request.path.startswith(ADMIN_PREFIX + "/")
        ):
            csrf.protect()

    return csrf


def init_app(app: Flask) -> Admin:
    """Register login, CSRF, the rate limiter and every admin view on ``app``."""
    _csrf(app)
    limiter = _limiter(app)
    app.extensions["herald.limiter"] = limiter
    init_auth(app, limiter)

    session = RequestSession()
    admin = Admin(
        app,
        name="Herald",
        url=ADMIN_PREFIX,
        index_view=DashboardView(name="Dashboard", url=ADMIN_PREFIX, endpoint="admin"),
        theme=Bootstrap4Theme(base_template="admin/herald/master.html", swatch="default"),
        csp_nonce_generator=csp_nonce,
    )
    admin.add_view(
        ContactView(Contact, session, name="Contacts", endpoint="contacts", url="contacts")
    )
    admin.add_view(
        SegmentView(Segment, session, name="Segments", endpoint="segments", url="segments")
    )
    # the menu keeps the daily pages in the bar and the rest in two drop-downs (Audience:
    # lists, RFM, send time, imports, suppressions; Loyalty: coupons, tier benefits)
    admin.add_view(RfmView(name="RFM", endpoint="rfm", url="rfm", category=AUDIENCE))
    admin.add_view(
        SendTimeView(name="Send time", endpoint="send_time", url="send-time", category=AUDIENCE)
    )
    admin.add_view(ImportView(name="Imports", endpoint="imports", url="imports", category=AUDIENCE))
    admin.add_view(
        CampaignView(Campaign, session, name="Campaigns", endpoint="campaigns", url="campaigns")
    )
    admin.add_view(BuilderView(name="New campaign", endpoint="builder", url="build"))
    admin.add_view(CalendarView(name="Calendar", endpoint="calendar", url="calendar"))
    admin.add_view(PromotionView(name="Promotions", endpoint="promotions", url="promotions"))
    add_workspace_views(app, admin)
    admin.add_view(JourneyView(name="Journeys", endpoint="journeys", url="journeys"))
    admin.add_view(ReportView(name="Reports", endpoint="reports", url="reports"))
    admin.add_view(OutboxView(name="Outbox", endpoint="outbox", url="outbox"))
    admin.add_view(
        UserView(User, session, name="Users", endpoint="users", url="users", category="Settings")
    )
    admin.add_view(
        TokenView(
            ApiToken,
            session,
            name="API tokens",
            endpoint="tokens",
            url="tokens",
            category="Settings",
        )
    )

    @app.context_processor
    def _roles() -> dict[str, object]:
        return {"can_write": can_write, "is_admin": is_admin, "current_user": current_user}

    app.extensions["herald.admin"] = admin
    return admin
