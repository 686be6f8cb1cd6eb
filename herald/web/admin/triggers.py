"""Triggers in the admin (``/admin/triggers/``): a list with on/off and each trigger's numbers,
create and edit with event, filter (the segment builder), delay, cancel_on, channel and variant."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DecimalField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from herald.campaigns import metrics, results
from herald.campaigns.models import Trigger
from herald.core.errors import ValidationError
from herald.journeys import triggers
from herald.web import deps
from herald.web.admin.audiences import parse_rules
from herald.web.admin.auth import Protected, require_write
from herald.web.admin.forms import AdminForm

EVENT_LABELS = {
    "customer.created": "Member signed up (customer.created)",
    "customer.updated": "Member details changed (customer.updated)",
    "order.placed": "Order placed (order.placed)",
    "cart.abandoned": "Cart abandoned (cart.abandoned)",
    "points.changed": "Points changed (points.changed)",
    "tier.changed": "Tier changed (tier.changed)",
}
FIELD_FOR = {  # the service's field names → the form's
    "name": "name",
    "event": "event",
    "filter": "rules_json",
    "rules": "rules_json",
    "delay_minutes": "delay_minutes",
    "cancel_on": "cancel_on",
    "channel": "channel",
    "max_per_contact_days": "max_per_contact_days",
    "transactional": "transactional",
}


class TriggerForm(AdminForm):
    """One trigger and its message (variant A)."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    event = SelectField("When this happens", choices=list(EVENT_LABELS.items()))
    rules_json = TextAreaField(
        "Only for members who match (optional)",
        render_kw={"rows": 6, "class": "form-control text-monospace", "spellcheck": "false"},
    )
    delay_minutes = DecimalField(
        "Wait (minutes)", default=0, validators=[NumberRange(min=0, max=525_600)], places=None
    )
    cancel_on = SelectField(
        "Unless this happens first",
        choices=[("", "— nothing cancels it —"), *EVENT_LABELS.items()],
        default="",
    )
    channel = SelectField("Channel", choices=[("email", "Email"), ("sms", "SMS")])
    subject = StringField("Email subject", render_kw={"placeholder": "You left something behind"})
    html = TextAreaField(
        "Email HTML", render_kw={"rows": 6, "class": "form-control text-monospace"}
    )
    text = TextAreaField("Email plain text", render_kw={"rows": 3, "class": "form-control"})
    body = TextAreaField("SMS text", render_kw={"rows": 3, "class": "form-control"})
    max_per_contact_days = DecimalField(
        "At most once per member every (days)", validators=[Optional()], places=None
    )
    transactional = BooleanField("Transactional (passes the frequency cap)")

    def payload(self) -> dict[str, Any]:
        """The contract's trigger body (section 10) built from the form."""
        if self.channel.data == "sms":
            variant: dict[str, Any] = {"name": "A", "body": self.body.data or ""}
        else:
            variant = {"name": "A", "subject": self.subject.data or ""}
            for key in ("html", "text"):
                if (getattr(self, key).data or "").strip():
                    variant[key] = getattr(self, key).data
        rules = parse_rules(self.rules_json.data)
        most = self.max_per_contact_days.data
        return {
            "name": self.name.data or "",
            "event": self.event.data,
            "filter": rules or None,
            "delay_minutes": float(self.delay_minutes.data or 0),
            "cancel_on": self.cancel_on.data or None,
            "channel": self.channel.data,
            "variants": [variant],
            "max_per_contact_days": None if most is None else float(most),
            "transactional": bool(self.transactional.data),
        }


def _place_errors(form: TriggerForm, exc: ValidationError) -> None:
    """Each problem next to the field it names; variant problems at the message fields."""
    for key, problem in (exc.fields or {"name": exc.message}).items():
        name = FIELD_FOR.get(key.split(".")[0].split("[")[0])
        if key.startswith("variants"):
            field_name = key.rsplit(".", 1)[-1]
            name = field_name if hasattr(form, field_name) else "body"
            if form.channel.data != "sms" and name == "body":
                name = "subject"
        field = getattr(form, name or "name")
        field.errors = [*list(field.errors or []), problem]


def _fill(form: TriggerForm, trigger: Trigger) -> None:
    import json

    variant = trigger.campaign.variants[0].content if trigger.campaign.variants else {}
    form.name.data = trigger.name
    form.event.data = trigger.event
    form.rules_json.data = json.dumps(trigger.filter, indent=2) if trigger.filter else ""
    form.delay_minutes.data = trigger.delay_minutes
    form.cancel_on.data = trigger.cancel_on or ""
    form.channel.data = trigger.campaign.channel
    for key in ("subject", "html", "text", "body"):
        getattr(form, key).data = variant.get(key, "")
    form.max_per_contact_days.data = trigger.max_per_contact_days
    form.transactional.data = trigger.transactional


def trigger_numbers(session: Any, trigger: Trigger) -> dict[str, Any]:
    """What each trigger did: fired, sent, cancelled, opens, clicks, conversions, revenue."""
    stats = metrics.campaign_stats(session, trigger.campaign)
    unsent = results.not_sent_counts(
        results.not_sent(session, results.run_ids(session, trigger.campaign_id))
    )
    return {"total": stats["total"], "cancelled": unsent.get("cancelled", 0), "unsent": unsent}


class TriggerView(Protected, BaseView):
    """``/admin/triggers/``"""

    def _trigger(self, trigger_id: int) -> Trigger:
        trigger = deps.session().get(Trigger, trigger_id)
        if trigger is None:
            abort(404, description=f"there is no trigger #{trigger_id}")
        return trigger

    @expose("/")
    def index(self) -> Any:
        """Every trigger, newest first, with its numbers."""
        session = deps.session()
        rows = session.scalars(select(Trigger).order_by(Trigger.id.desc())).all()
        return self.render(
            "admin/herald/triggers.html",
            rows=[(t, trigger_numbers(session, t)) for t in rows],
            events=EVENT_LABELS,
        )

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self) -> Any:
        """A new trigger; it is active once saved."""
        require_write()
        form = TriggerForm()
        if request.method == "POST" and form.validate():
            session = deps.session()
            try:
                trigger = triggers.create_trigger(session, form.payload(), deps.settings().timezone)
                session.commit()
            except ValidationError as exc:
                session.rollback()
                _place_errors(form, exc)
                flash(f"The trigger was not saved: {exc.message}", "danger")
            else:
                flash(f"Trigger {trigger.name!r} is on.", "success")
                return redirect(url_for(".detail_view", trigger_id=trigger.id))
        return self.render("admin/herald/trigger_form.html", form=form, trigger=None)

    @expose("/<int:trigger_id>/", methods=("GET",))
    def detail_view(self, trigger_id: int) -> Any:
        """One trigger: its settings, message and numbers."""
        session = deps.session()
        trigger = self._trigger(trigger_id)
        return self.render(
            "admin/herald/trigger_detail.html",
            trigger=trigger,
            numbers=trigger_numbers(session, trigger),
            events=EVENT_LABELS,
            variant=trigger.campaign.variants[0].content if trigger.campaign.variants else {},
        )

    @expose("/<int:trigger_id>/edit/", methods=("GET", "POST"))
    def edit_view(self, trigger_id: int) -> Any:
        """Change a trigger; messages already waiting go out with the new content."""
        require_write()
        trigger = self._trigger(trigger_id)
        form = TriggerForm()
        if request.method == "GET":
            _fill(form, trigger)
        elif form.validate():
            session = deps.session()
            try:
                triggers.update_trigger(session, trigger, form.payload())
                session.commit()
            except ValidationError as exc:
                session.rollback()
                _place_errors(form, exc)
                flash(f"The trigger was not saved: {exc.message}", "danger")
            else:
                flash("Saved.", "success")
                return redirect(url_for(".detail_view", trigger_id=trigger_id))
        return self.render("admin/herald/trigger_form.html", form=form, trigger=trigger)

    @expose("/<int:trigger_id>/active", methods=("POST",))
    def toggle_view(self, trigger_id: int) -> Any:
        """Switch a trigger on or off."""
        require_write()
        session = deps.session()
        trigger = self._trigger(trigger_id)
        wanted = request.form.get("active") == "on"
        triggers.set_active(session, trigger, wanted)
        session.commit()
        flash(f"Trigger {trigger.name!r} is {'on' if wanted else 'off'}.", "success")
        if request.form.get("back") == "detail":
            return redirect(url_for(".detail_view", trigger_id=trigger_id))
        return redirect(url_for(".index"))
