"""Logging into the admin: Flask-Login, a rate-limited login form, and the role rules every admin
view follows (admin > marketer > viewer)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from herald.core.accounts import User, authenticate, user_for_session
from herald.web import deps


def can_write() -> bool:
    """True for admins and marketers: they may create, edit and send."""
    return bool(current_user.is_authenticated and current_user.can_write())


def is_admin() -> bool:
    return bool(current_user.is_authenticated and current_user.role == "admin")


def require_write() -> None:
    """Refuse (403) a change asked for by someone who may only read."""
    if not current_user.is_authenticated:
        abort(401)
    if not can_write():
        abort(403, description="your role is read-only")


def _safe_next(target: str | None) -> str:
    """Only redirect back into this site (no open redirect through ``?next=``)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/"):
            return target
    return url_for("admin.index")


def _load_user(session_id: str) -> User | None:
    return user_for_session(deps.session(), session_id)


def _account_key() -> str:
    """The account a login attempt names, so guesses spread over many addresses still count."""
    return "login-account:" + (request.form.get("email") or "").strip().lower()[:320]


def _failed(response: Response) -> bool:
    return response.status_code == 401


def login_view() -> Any:
    """Show the login form; on POST check the password and log in."""
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        password = request.form.get("password") or ""
        user = authenticate(deps.session(), email, password)
        if user is not None:
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.", "danger")
        return render_template("admin/herald/login.html", email=email), 401
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("admin/herald/login.html", email="")


def logout_view() -> Response:
    """Log out (POST, so a link on another site cannot do it); copies of this user's session
    and remember-me cookies stop working too."""
    if current_user.is_authenticated:
        session = deps.session()
        user = session.get(User, current_user.id)
        if user is not None:
            user.end_sessions()
            session.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("herald_auth.login"))


def init_auth(app: Flask, limiter: Limiter) -> None:
    """Set up Flask-Login and register /admin/login and /admin/logout."""
    manager = LoginManager()
    manager.login_view = "herald_auth.login"
    manager.login_message_category = "info"
    manager.user_loader(_load_user)
    manager.init_app(app)

    blueprint = Blueprint("herald_auth", __name__, url_prefix="/admin")
    settings = app.extensions["herald.settings"]
    # every attempt counts per client address; failed ones also per account, from any address
    per_address = limiter.limit(
        lambda: app.config.get("HERALD_LOGIN_RATE_LIMIT", settings.login_rate_limit),
        methods=["POST"],
        key_func=get_remote_address,
    )
    per_account = limiter.limit(
        lambda: app.config.get(
            "HERALD_LOGIN_ACCOUNT_RATE_LIMIT", settings.login_account_rate_limit
        ),
        methods=["POST"],
        key_func=_account_key,
        deduct_when=_failed,
    )
    limited = per_address(per_account(login_view))
    blueprint.add_url_rule("/login", "login", limited, methods=["GET", "POST"])
    blueprint.add_url_rule("/logout", "logout", logout_view, methods=["POST"])
    app.register_blueprint(blueprint)


class Protected:
    """Mixin for every admin view: anonymous visitors go to the login page, logged-in users
    without the right role get 403; views for changes refuse read-only roles server-side."""

    admin_only: bool = False
    # Flask-Admin view functions that change data
    write_views: frozenset[str] = frozenset(
        {"create_view", "edit_view", "delete_view", "action_view", "ajax_update"}
    )

    def is_accessible(self) -> bool:
        if not current_user.is_authenticated:
            return False
        return is_admin() if self.admin_only else True

    def is_visible(self) -> bool:
        return self.is_accessible()

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("herald_auth.login", next=request.full_path.rstrip("?")))
        if not self.is_accessible():
            abort(403)
        if name in self.write_views and not can_write():
            abort(403, description="your role is read-only")
        return None

    # Flask-Admin reads these to decide which buttons to show
    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return can_write() and self.allow_create

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return can_write() and self.allow_edit

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return can_write() and self.allow_delete

    allow_create: bool = True
    allow_edit: bool = True
    allow_delete: bool = True
