"""Campaigns in the admin: an email campaign form that goes through the campaign service, a
detail page with the status buttons and live progress, and the delivery ledger."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_admin import expose
from markupsafe import Markup, escape
from sqlalchemy import func, select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from herald.audiences.models import Contact, Segment
from herald.campaigns import calendar, service, tier_benefits
from herald.campaigns.dispatch import audience, contact_context
from herald.campaigns.models import Campaign, Delivery, Run, Variant
from herald.campaigns.preview import sample_coupon
from herald.campaigns.status import ACTIONS
from herald.channels.sms import segments
from herald.core.errors import Conflict, HeraldError, ValidationError
from herald.templating import render
from herald.web import deps
from herald.web.admin import coupon_form, outcomes
from herald.web.admin.audiences import HeraldModelView
from herald.web.admin.auth import can_write, require_write
from herald.web.admin.forms import AdminForm
from herald.web.admin.progress import campaign_progress

LEDGER_PAGE = 100
ACTION_LABELS = {
    "send-now": "Send now",
    "schedule": "Schedule",
    "pause": "Pause",
    "resume": "Resume",
    "cancel": "Cancel",
}
EDITABLE = ("draft",)
DELETABLE = ("draft", "cancelled")


class CampaignForm(AdminForm):
    """An email campaign with one variant (A) and an immediate or one-off schedule."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    channel = SelectField("Channel", choices=[("email", "Email")], default="email")
    segment_id = SelectField("Segment", choices=[], validate_choice=False)
    subject = StringField(
        "Subject (variant A)",
        validators=[DataRequired()],
        render_kw={"placeholder": "Hi {{ contact.first_name }}"},
    )
    html = TextAreaField(
        "HTML (variant A)", render_kw={"rows": 10, "class": "form-control text-monospace"}
    )
    text = TextAreaField(
        "Plain text (variant A)", render_kw={"rows": 5, "class": "form-control text-monospace"}
    )
    coupon_kind = SelectField(
        "Coupon (variant A)",
        choices=coupon_form.KINDS + coupon_form.TIER_KINDS,
        default="",
        description="One unique code per recipient; templates show it as {{ coupon.code }} "
        "and {{ coupon.description }}",
    )
    coupon_value = StringField(
        "Percent, amount or multiplier", render_kw={"placeholder": "e.g. 15 (%) or 30 (¥)"}
    )
    coupon_min_spend = StringField("Minimum spend", render_kw={"placeholder": "e.g. 200"})
    coupon_sku = StringField("Gift SKU", render_kw={"placeholder": "e.g. TEA-1"})
    coupon_valid_days = StringField("Valid for (days)", render_kw={"placeholder": "e.g. 7"})
    coupon_valid_until = StringField(
        "Or valid until (with offset)", render_kw={"placeholder": "2026-11-30T23:59:59+08:00"}
    )
    schedule_type = SelectField(
        "Schedule",
        choices=[("immediate", "Immediately when sent"), ("once", "Once, at a given time")],
        default="immediate",
    )
    schedule_at = StringField(
        "At (with offset)",
        validators=[Optional()],
        description="ISO time with an offset, e.g. 2026-11-11T10:00:00+08:00",
        render_kw={"placeholder": "2026-11-11T10:00:00+08:00"},
    )

    def payload(self) -> dict[str, Any]:
        """The contract's campaign body (section 8) built from the form."""
        variant: dict[str, Any] = {"name": "A", "subject": self.subject.data or ""}
        if (self.html.data or "").strip():
            variant["html"] = self.html.data
        if (self.text.data or "").strip():
            variant["text"] = self.text.data
        coupon = coupon_form.spec_from(
            {f"coupon_{part}": getattr(self, f"coupon_{part}").data for part in coupon_form.PARTS},
            "coupon_",
        )
        if coupon is not None:
            variant["coupon"] = coupon
        schedule: dict[str, Any] = {"type": self.schedule_type.data}
        if self.schedule_type.data == "once":
            schedule["at"] = (self.schedule_at.data or "").strip()
        segment = self.segment_id.data
        return {
            "name": self.name.data or "",
            "channel": self.channel.data,
            "segment_id": int(segment) if segment else None,
            "variants": [variant],
            "schedule": schedule,
        }


# the service names fields the API way (``variants[0].html``); the form has flat fields
_FIELD_MAP = (
    (re.compile(r"^variants\[0\]\.(subject|html|text)$"), r"\1"),
    (re.compile(r"^variants\[0\]\.coupon\.(percent_off|amount_off|multiplier)$"), "coupon_value"),
    (re.compile(r"^variants\[0\]\.coupon\.(min_spend|sku|valid_days|valid_until)$"), r"coupon_\1"),
    (re.compile(r"^variants\[0\]\.coupon(\..*)?$"), "coupon_kind"),
    (re.compile(r"^variants(\[0\])?$"), "html"),
    (re.compile(r"^schedule\.at$"), "schedule_at"),
    (re.compile(r"^schedule(\..*)?$"), "schedule_type"),
    (re.compile(r"^segment_id$"), "segment_id"),
    (re.compile(r"^name$"), "name"),
    (re.compile(r"^channel$"), "channel"),
)


def show_errors(form: CampaignForm, exc: ValidationError) -> None:
    """Put the service's problems next to the form fields they name."""
    fields = exc.fields or {"": exc.message}
    placed = False
    for key, problem in fields.items():
        for pattern, target in _FIELD_MAP:
            if pattern.match(key):
                name = pattern.sub(target, key)
                field = getattr(form, name)
                field.errors = [*list(field.errors or []), problem]
                placed = True
                break
    if not placed:
        form.name.errors = [*list(form.name.errors or []), exc.message]


def allowed_actions(status: str) -> list[str]:
    """The status buttons a campaign in ``status`` offers."""
    return [name for name in ACTION_LABELS if status in ACTIONS[name]]


def _status_badge(status: str) -> Markup:
    return Markup(f'<span class="badge status status-{escape(status)}">{escape(status)}</span>')


class CampaignView(HeraldModelView):
    """``/admin/campaigns/``"""

    form = CampaignForm
    list_template = "admin/herald/campaign_list.html"
    column_list = (
        "id",
        "name",
        "channel",
        "status",
        "segment",
        "schedule",
        "next_run_at",
        "created_at",
    )
    column_default_sort = ("id", True)
    column_searchable_list = ("name",)
    column_filters = ("status", "channel")
    column_labels = {"next_run_at": "Next run", "schedule": "When"}

    def _segment(self, context: Any, model: Campaign, name: str) -> str:
        if model.segment_id is None:
            return "everyone" if model.channel != "social" else "—"
        segment = deps.session().get(Segment, model.segment_id)
        return segment.name if segment else f"#{model.segment_id}"

    column_formatters = {
        "name": lambda v, c, m, n: Markup(
            f'<a href="{escape(v.get_url(".detail_view", campaign_id=m.id))}">{escape(m.name)}</a>'
        ),
        "status": outcomes.status_cell,
        "segment": _segment,
        "schedule": lambda v, c, m, n: (
            calendar.describe(m.schedule or {}, deps.settings().timezone)
            if (m.schedule or {}).get("type") != "trigger"
            else "on its trigger's events"
        ),
        "next_run_at": lambda v, c, m, n: (
            m.next_run_at.strftime("%Y-%m-%d %H:%M UTC") if m.next_run_at else ""
        ),
        "created_at": lambda v, c, m, n: (
            m.created_at.strftime("%Y-%m-%d %H:%M") if m.created_at else ""
        ),
    }

    # ------------------------------------------------------------------ form

    def _fill_segments(self, form: CampaignForm) -> None:
        rows = deps.session().execute(select(Segment.id, Segment.name).order_by(Segment.name))
        form.segment_id.choices = [("", "Everyone (all contacts)")] + [
            (str(sid), name) for sid, name in rows
        ]

    def create_form(self, obj: Any = None) -> Any:
        form = super().create_form(obj)
        self._fill_segments(form)
        return form

    def edit_form(self, obj: Any = None) -> Any:
        form = super().edit_form(obj)
        self._fill_segments(form)
        return form

    def on_form_prefill(self, form: Any, id: Any) -> None:
        campaign = self.get_one(id)
        if campaign is None:
            return
        variant = campaign.variants[0].content if campaign.variants else {}
        form.segment_id.data = str(campaign.segment_id) if campaign.segment_id else ""
        form.subject.data = variant.get("subject", "")
        form.html.data = variant.get("html", "")
        form.text.data = variant.get("text", "")
        for part, value in coupon_form.fields_of(variant.get("coupon")).items():
            getattr(form, f"coupon_{part}").data = value
        form.schedule_type.data = (campaign.schedule or {}).get("type", "immediate")
        form.schedule_at.data = (campaign.schedule or {}).get("at", "")

    def create_model(self, form: Any) -> Any:
        """Create through :func:`service.create_campaign`; its problems go onto the form."""
        session = deps.session()
        try:
            campaign = service.create_campaign(session, form.payload(), deps.settings().timezone)
            session.commit()
        except ValidationError as exc:
            session.rollback()
            show_errors(form, exc)
            flash(f"The campaign was not saved: {exc.message}", "danger")
            return False
        return campaign

    def update_model(self, form: Any, model: Campaign) -> bool:
        """Edit a draft: the same checks as creation, then the new content replaces the old."""
        session = deps.session()
        if model.status not in EDITABLE:
            flash(f"Only a draft can be edited; this campaign is {model.status}.", "danger")
            return False
        payload = form.payload()
        # the form edits variant A; any other variants of the draft are kept as they are
        payload["variants"] = payload["variants"][:1] + [
            {"name": v.name, **v.content} for v in model.variants[1:]
        ]
        try:
            service.update_campaign(session, model, payload, deps.settings().timezone)
        except (ValidationError, Conflict) as exc:
            session.rollback()
            show_errors(form, exc)
            flash(f"The campaign was not saved: {exc.message}", "danger")
            return False
        session.commit()
        return True

    def get_save_return_url(self, model: Any, is_created: bool = False) -> str:
        return self.get_url(".detail_view", campaign_id=model.id)

    def delete_model(self, model: Campaign) -> bool:
        if model.status not in DELETABLE:
            flash(f"A {model.status} campaign cannot be deleted; cancel it instead.", "danger")
            return False
        return super().delete_model(model)

    # ------------------------------------------------------------------ detail

    def _campaign(self, campaign_id: int) -> Campaign:
        campaign = deps.session().get(Campaign, campaign_id)
        if campaign is None:
            abort(404)
        return campaign

    @expose("/<int:campaign_id>/")
    def detail_view(self, campaign_id: int) -> Any:
        """One campaign: content, status buttons and live progress."""
        session = deps.session()
        campaign = self._campaign(campaign_id)
        segment = session.get(Segment, campaign.segment_id) if campaign.segment_id else None
        # every button is on the page for writers; the live poll shows the ones the status allows
        actions = [
            (name, label, campaign.status in ACTIONS[name])
            for name, label in ACTION_LABELS.items()
            if can_write()
        ]
        runs = list(
            session.scalars(select(Run).where(Run.campaign_id == campaign.id).order_by(Run.id))
        )
        return self.render(
            "admin/herald/campaign_detail.html",
            campaign=campaign,
            segment=segment,
            actions=actions,
            runs=runs,
            progress=campaign_progress(session, campaign),
            editable=campaign.status in EDITABLE and can_write(),
            sms=_sms_preview(session, campaign),
            coupon_text=coupon_form.variant_coupon_text(
                campaign.variants[0].content if campaign.variants else {}
            ),
        )

    @expose("/<int:campaign_id>/progress.json")
    def progress_view(self, campaign_id: int) -> Any:
        """What the detail page polls every two seconds."""
        campaign = self._campaign(campaign_id)
        answer = campaign_progress(deps.session(), campaign)
        answer["actions"] = allowed_actions(campaign.status) if can_write() else []
        return jsonify(answer)

    @expose("/<int:campaign_id>/<action>", methods=("POST",))
    def campaign_action(self, campaign_id: int, action: str) -> Any:
        """Send now / schedule / pause / resume / cancel, through the campaign service."""
        require_write()
        if action not in ACTION_LABELS:
            abort(404)
        session = deps.session()
        campaign = self._campaign(campaign_id)
        try:
            if action == "send-now":
                service.send_now(session, campaign)
            elif action == "schedule":
                service.arm(session, campaign, deps.settings().timezone)
            elif action == "pause":
                service.pause(session, campaign)
            elif action == "resume":
                service.resume(session, campaign)
            else:
                service.cancel(session, campaign)
            session.commit()
            flash(f"{ACTION_LABELS[action]}: the campaign is now {campaign.status}.", "success")
        except HeraldError as exc:
            session.rollback()
            flash(exc.message, "danger")
        return redirect(url_for(".detail_view", campaign_id=campaign_id))

    @expose("/<int:campaign_id>/deliveries/")
    def deliveries_view(self, campaign_id: int) -> Any:
        """The delivery ledger of one campaign (read-only), filterable by status."""
        session = deps.session()
        campaign = self._campaign(campaign_id)
        wanted = request.args.get("status") or None
        page = max(0, request.args.get("page", 0, type=int))
        where = [Run.campaign_id == campaign.id]
        if wanted:
            where.append(Delivery.status == wanted)
        rows = session.execute(
            select(Delivery, Contact.email, Contact.external_id, Variant.name)
            .join(Run, Run.id == Delivery.run_id)
            .join(Contact, Contact.id == Delivery.contact_id)
            .outerjoin(Variant, Variant.id == Delivery.variant_id)
            .where(*where)
            .order_by(Delivery.id)
            .offset(page * LEDGER_PAGE)
            .limit(LEDGER_PAGE)
        ).all()
        total = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .join(Run, Run.id == Delivery.run_id)
            .where(*where)
        )
        counts = dict(
            session.execute(
                select(Delivery.status, func.count())
                .join(Run, Run.id == Delivery.run_id)
                .where(Run.campaign_id == campaign.id)
                .group_by(Delivery.status)
            ).all()
        )
        return self.render(
            "admin/herald/deliveries.html",
            campaign=campaign,
            rows=rows,
            total=int(total or 0),
            counts=counts,
            wanted=wanted,
            page=page,
            pages=max(1, -(-int(total or 0) // LEDGER_PAGE)),
        )


def _sms_preview(session: Any, campaign: Campaign) -> dict[str, Any] | None:
    """What an SMS costs: GSM-7 or UCS-2 and the segments, for the template and for it rendered
    with the first member of the audience (names and links change the length)."""
    if campaign.channel != "sms" or not campaign.variants:
        return None
    body = str(campaign.variants[0].content.get("body", ""))
    encoding, count = segments(body)
    preview: dict[str, Any] = {"body": body, "encoding": encoding, "segments": count}
    first_id = session.scalar(
        audience(session, campaign, deps.settings().timezone).order_by(Contact.id).limit(1)
    )
    member = session.get(Contact, first_id) if first_id else None
    if member is not None:
        try:
            text = render.render(
                render.compile_template("body", body),
                {
                    "contact": contact_context(member),
                    "campaign": {"name": campaign.name},
                    "coupon": sample_coupon(
                        campaign.variants[0].content.get("coupon"),
                        member.tier,
                        tier_benefits.all_benefits(session),
                    ),
                    "unsubscribe_url": "",
                    "event": {},
                },
            )
        except Exception as exc:
            text = f"(cannot render for {member.email or member.id}: {exc})"
        sample_encoding, sample_count = segments(text)
        preview.update(
            sample=text,
            sample_for=member.email or member.external_id or f"#{member.id}",
            sample_encoding=sample_encoding,
            sample_segments=sample_count,
        )
    return preview
