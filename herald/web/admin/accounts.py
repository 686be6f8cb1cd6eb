"""Admin users and API tokens (admins only)."""

from __future__ import annotations

from typing import Any

from flask import flash
from markupsafe import Markup, escape
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from herald.core.accounts import ROLES, create_token, create_user
from herald.core.errors import ValidationError
from herald.web import deps
from herald.web.admin.audiences import HeraldModelView
from herald.web.admin.forms import AdminForm

ROLE_CHOICES = [(r, r) for r in ROLES]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


class UserCreateForm(AdminForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="marketer")


class UserEditForm(AdminForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Active")
    password = PasswordField(
        "New password",
        validators=[Optional(), Length(min=8)],
        description="leave blank to keep the current password",
    )


class UserView(HeraldModelView):
    """People who log into the admin."""

    admin_only = True
    allow_delete = False  # deactivate instead, so history keeps its author
    column_list = ("id", "email", "role", "active", "created_at")
    column_formatters = {"created_at": lambda v, c, m, n: _when(m.created_at)}
    column_searchable_list = ("email",)
    column_filters = ("role", "active")

    def create_form(self, obj: Any = None) -> Any:
        return UserCreateForm()

    def edit_form(self, obj: Any = None) -> Any:
        return UserEditForm(obj=obj)

    def create_model(self, form: Any) -> Any:
        session = deps.session()
        try:
            user = create_user(session, form.email.data, form.password.data, form.role.data)
            session.commit()
        except ValidationError as exc:
            session.rollback()
            flash(exc.message, "danger")
            return False
        return user

    def update_model(self, form: Any, model: Any) -> bool:
        model.role = form.role.data
        model.active = bool(form.active.data)
        if form.password.data:
            model.set_password(form.password.data)  # also ends the user's sessions
        if not model.active:
            model.end_sessions()
        deps.session().commit()
        return True


class TokenCreateForm(AdminForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="marketer")


class TokenEditForm(AdminForm):
    revoked = BooleanField("Revoked")


class TokenView(HeraldModelView):
    """Bearer tokens for /api/v1; the plain token is shown once, right after creation."""

    admin_only = True
    allow_delete = False  # revoke instead
    column_list = ("id", "name", "role", "created_at", "last_used_at", "revoked")
    column_formatters = {
        "created_at": lambda v, c, m, n: _when(m.created_at),
        "last_used_at": lambda v, c, m, n: _when(m.last_used_at),
    }

    def create_form(self, obj: Any = None) -> Any:
        return TokenCreateForm()

    def edit_form(self, obj: Any = None) -> Any:
        return TokenEditForm(obj=obj)

    def create_model(self, form: Any) -> Any:
        session = deps.session()
        try:
            token, plain = create_token(session, form.name.data, form.role.data)
            session.commit()
        except ValidationError as exc:
            session.rollback()
            flash(exc.message, "danger")
            return False
        flash(
            Markup(
                "Token created. Copy it now, it is not shown again: "
                f'<code class="plain-token">{escape(plain)}</code>'
            ),
            "success",
        )
        return token

    def update_model(self, form: Any, model: Any) -> bool:
        model.revoked = bool(form.revoked.data)
        deps.session().commit()
        return True
