"""Contacts and segments in the admin."""

from __future__ import annotations

import json
from typing import Any

from flask import jsonify, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.babel import lazy_gettext
from flask_admin.contrib.sqla import ModelView
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import StringField, TextAreaField
from wtforms import ValidationError as FormError
from wtforms.validators import DataRequired, Length

from herald.audiences import segments
from herald.audiences.models import TIERS, Contact, Segment
from herald.core.errors import ValidationError
from herald.web import deps
from herald.web.admin.auth import Protected
from herald.web.admin.forms import AdminForm

SAMPLE_SIZE = 10
MAX_ID = 2_147_483_647  # the largest id an INTEGER column holds


class HeraldModelView(Protected, ModelView):
    """Base for Herald's model views: CSRF-carrying forms and the shared look."""

    form_base_class = AdminForm
    page_size = 50
    can_set_page_size = True

    @action(
        "delete",
        lazy_gettext("Delete"),
        lazy_gettext("Are you sure you want to delete selected records?"),
    )
    def action_delete(self, ids: tuple[str, ...]) -> None:
        """Flask-Admin's bulk delete with the ids as integers: PostgreSQL refuses to compare
        an integer key with the text ids the form posts."""
        wanted = tuple(int(i) for i in ids if str(i).isdigit() and 0 < int(i) <= MAX_ID)
        super().action_delete(wanted)  # type: ignore[arg-type]


def _member_link(view: Any, context: Any, model: Contact, name: str) -> Markup:
    from herald.web.admin.members import member_link

    return member_link(view, context, model, name)


class ContactView(HeraldModelView):
    """Members of the shop; erased members are hidden."""

    allow_delete = False  # erasure goes through the API (DELETE /contacts/{id}) so counts stay
    column_list = (
        "id",
        "external_id",
        "email",
        "first_name",
        "last_name",
        "tier",
        "points",
        "orders_count",
        "total_spent",
        "rfm_group",
        "created_at",
    )
    column_default_sort = ("id", True)
    column_searchable_list = ("email", "first_name", "last_name", "external_id")
    column_filters = ("tier", "points", "orders_count")
    column_labels = {
        "external_id": "External id",
        "orders_count": "Orders",
        "total_spent": "Spent",
        "rfm_group": "RFM group",
        "favourite_category": "Favourite category",
        "created_at": "Created",
    }
    column_formatters = {
        "id": lambda v, c, m, n: _member_link(v, c, m, n),
        "email": lambda v, c, m, n: _member_link(v, c, m, n),
        "tier": lambda v, c, m, n: Markup(
            f'<span class="badge badge-tier badge-tier-{escape(m.tier)}">{escape(m.tier)}</span>'
        ),
        "created_at": lambda v, c, m, n: (
            m.created_at.strftime("%Y-%m-%d %H:%M") if m.created_at else ""
        ),
    }
    form_columns = (
        "external_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "locale",
        "timezone",
        "tier",
        "points",
        "birthday",
    )
    form_choices = {"tier": [(t, t) for t in TIERS]}
    column_details_exclude_list = ("attributes",)
    can_view_details = True

    def get_query(self) -> Any:
        return super().get_query().filter(Contact.erased_at.is_(None))

    def get_count_query(self) -> Any:
        return super().get_count_query().filter(Contact.erased_at.is_(None))

    def on_model_change(self, form: Any, model: Contact, is_created: bool) -> None:
        """The same checks as the API and imports: a normalised, valid email, E.164 phone, an
        IANA zone; a problem is shown on the form and nothing is saved."""
        from datetime import date

        from wtforms.validators import ValidationError as FormError

        from herald.audiences import contacts
        from herald.core.errors import ValidationError as Invalid

        values = {}
        for name in self.form_columns:
            value = getattr(model, name)
            values[name] = value.isoformat() if isinstance(value, date) else value
        try:
            cleaned = contacts.clean(values, deps.settings().default_phone_region, partial=True)
        except Invalid as exc:
            raise FormError(exc.message) from None
        for name, value in cleaned.items():
            setattr(model, name, value)
        if not (model.external_id or model.email or model.phone):
            message = "A contact needs at least one of external id, email or phone."
            form.external_id.errors = [*list(form.external_id.errors or []), message]
            raise FormError(message)


def parse_rules(text: str | None) -> dict[str, Any]:
    """Read segment rules from the form's JSON text; blank means everyone."""
    if not text or not text.strip():
        return {}
    try:
        rules = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"rules are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            {"rules": "malformed JSON"},
        ) from None
    if not isinstance(rules, dict):
        raise ValidationError("rules must be a JSON object", {"rules": "must be an object"})
    return rules


def preview(session: Session, rules: dict[str, Any]) -> dict[str, Any]:
    """Count the segment's members and pick up to ten of them (raises ValidationError)."""
    ids = segments.members(rules)
    count = session.scalar(select(func.count()).select_from(ids.subquery()))
    sample = session.scalars(
        select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id).limit(SAMPLE_SIZE)
    )
    return {
        "count": int(count or 0),
        "sample": [
            {
                "id": c.id,
                "email": c.email,
                "name": " ".join(p for p in (c.first_name, c.last_name) if p),
                "tier": c.tier,
                "points": c.points,
            }
            for c in sample
        ],
    }


class SegmentForm(AdminForm):
    """A segment: a name and its rules as JSON (contract section 7)."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    rules_json = TextAreaField(
        "Rules (JSON)",
        description='e.g. {"all": [{"field": "tier", "op": "in", "value": ["gold"]}]}',
        render_kw={"rows": 9, "class": "form-control text-monospace", "spellcheck": "false"},
    )

    def validate_rules_json(self, field: Any) -> None:
        try:
            segments.members(parse_rules(field.data))
        except ValidationError as exc:
            raise FormError(exc.message) from None


class SegmentView(HeraldModelView):
    """Saved rule sets, with a live count and sample while editing."""

    form = SegmentForm
    can_view_details = True
    column_details_list = ("id", "name", "rules", "created_at", "updated_at")
    column_list = ("id", "name", "members", "updated_at")
    column_default_sort = ("id", True)
    column_searchable_list = ("name",)
    create_template = "admin/herald/segment_create.html"
    edit_template = "admin/herald/segment_edit.html"

    def _members(self, context: Any, model: Segment, name: str) -> str:
        """The live count; one segment that can't be counted shows why in its own row and
        never breaks the list (a savepoint keeps the page's transaction usable)."""
        session = deps.session()
        try:
            with session.begin_nested():
                return str(segments.count(session, model.rules or {}))
        except ValidationError as exc:
            return f"invalid: {exc.message}"
        except Exception as exc:
            detail = (str(exc).strip().splitlines() or [""])[0][:160]
            return f"cannot be counted: {exc.__class__.__name__}: {detail}"

    column_formatters = {
        "members": _members,
        "updated_at": lambda v, c, m, n: (
            m.updated_at.strftime("%Y-%m-%d %H:%M") if m.updated_at else ""
        ),
    }

    def on_form_prefill(self, form: Any, id: Any) -> None:
        model = self.get_one(id)
        if model is not None and not form.rules_json.data:
            form.rules_json.data = json.dumps(model.rules or {}, indent=2)

    def on_model_change(self, form: Any, model: Segment, is_created: bool) -> None:
        model.rules = parse_rules(form.rules_json.data)
        if hasattr(model, "rules_json"):
            del model.rules_json

    @expose("/preview.json", methods=("POST",))
    def preview_view(self) -> Any:
        """Live count and sample for rules typed into the form (JSON in, JSON out)."""
        body = request.get_json(silent=True) or {}
        try:
            rules = parse_rules(body.get("rules"))
            return jsonify(preview(deps.session(), rules))
        except ValidationError as exc:
            deps.session().rollback()
            return jsonify(error=exc.message, fields=exc.fields), 422
        except Exception as exc:  # a rule SQL cannot evaluate (e.g. a text compared to a number)
            deps.session().rollback()
            return jsonify(error=f"these rules cannot be evaluated: {exc.__class__.__name__}"), 422
