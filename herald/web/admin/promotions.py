"""Promotions in the admin (``/admin/promotions/``): the list, create and edit, a promotion's page
with its campaigns and report (revenue against the goal, per channel, coupons), and the holiday
gallery that fills in a promotion and its draft campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField

from herald.audiences.models import Segment
from herald.campaigns import metrics, promotion_templates, promotions, schedules
from herald.campaigns.models import Campaign
from herald.campaigns.promotions import KIND_LABELS, METRIC_LABELS, Promotion
from herald.core.errors import Conflict, HeraldError, ValidationError
from herald.journeys.models import Journey
from herald.web import deps
from herald.web.admin.auth import Protected, require_write
from herald.web.admin.forms import AdminForm

MOMENT = {"type": "datetime-local", "class": "form-control"}
FIELD_FOR = {"goal.metric": "goal_metric", "goal.target": "goal_target", "goal": "goal_metric"}


class PromotionForm(AdminForm):
    """A promotion: its kind, window (in the shop's zone), goal and budget."""

    name = StringField("Name", render_kw={"placeholder": "Double 11 2026"})
    kind = SelectField("Kind", choices=list(KIND_LABELS.items()))
    starts_at = StringField("Starts", render_kw=MOMENT)
    ends_at = StringField("Ends", render_kw=MOMENT)
    goal_metric = SelectField(
        "Goal", choices=[("", "— no goal —"), *METRIC_LABELS.items()], default=""
    )
    goal_target = StringField("Target", render_kw={"inputmode": "decimal"})
    budget = StringField("Budget", render_kw={"inputmode": "decimal"})
    description = TextAreaField("Notes", render_kw={"rows": 3, "class": "form-control"})

    def payload(self, zone: ZoneInfo) -> dict[str, Any]:
        """The API's body; times typed without an offset are in the shop's zone."""
        goal = None
        if self.goal_metric.data:
            goal = {"metric": self.goal_metric.data, "target": _blank(self.goal_target.data)}
        return {
            "name": self.name.data or "",
            "kind": self.kind.data,
            "starts_at": _moment(self.starts_at.data, zone),
            "ends_at": _moment(self.ends_at.data, zone),
            "goal": goal,
            "budget": _blank(self.budget.data),
            "description": _blank(self.description.data),
        }

    def fill(self, promotion: Promotion, zone: ZoneInfo) -> None:
        """Show a stored promotion, its times in the shop's zone."""
        self.name.data = promotion.name
        self.kind.data = promotion.kind
        self.starts_at.data = promotion.starts_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        self.ends_at.data = promotion.ends_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        self.goal_metric.data = promotion.goal_metric or ""
        self.goal_target.data = _plain(promotion.goal_target)
        self.budget.data = _plain(promotion.budget)
        self.description.data = promotion.description or ""


def _blank(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _plain(value: Any) -> str:
    return "" if value is None else f"{value:f}".rstrip("0").rstrip(".")


def _moment(raw: Any, zone: ZoneInfo) -> Any:
    """A typed wall-clock time with the shop's offset; anything else is left for the checks to
    name."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return raw
    return (value if value.tzinfo else value.replace(tzinfo=zone)).isoformat()


def _when(campaign: Campaign, zone: ZoneInfo) -> str:
    """When a campaign sends, in the shop's zone, in a few words."""
    schedule = campaign.schedule or {}
    if schedule.get("type") == "once" and schedule.get("at"):
        try:
            return schedules.parse_at(schedule["at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        except ValidationError:
            return str(schedule["at"])
    if schedule.get("type") == "local_time":
        return f"{schedule.get('date')} {schedule.get('time')} (member's time)"
    if schedule.get("type") == "recurring":
        return f"on the rule {schedule.get('cron')}"
    return "when sent"


def _place_errors(form: PromotionForm, exc: ValidationError) -> None:
    placed = False
    for key, problem in exc.fields.items():
        field = getattr(form, FIELD_FOR.get(key, key), None)
        if field is not None:
            field.errors = [*list(field.errors or []), problem]
            placed = True
    if not placed:
        form.name.errors = [*list(form.name.errors or []), exc.message]


class PromotionView(Protected, BaseView):
    """``/admin/promotions/``"""

    def _promotion(self, promotion_id: int) -> Promotion:
        promotion = deps.session().get(Promotion, promotion_id)
        if promotion is None:
            abort(404, description=f"there is no promotion #{promotion_id}")
        return promotion

    @expose("/")
    def index(self) -> Any:
        """Every promotion, newest first, with its campaigns and goal."""
        session = deps.session()
        rows = session.scalars(select(Promotion).order_by(Promotion.starts_at.desc())).all()
        counts = {p.id: len(promotions.campaigns_of(session, p.id)) for p in rows}
        return self.render(
            "admin/herald/promotions.html",
            rows=rows,
            counts=counts,
            kinds=KIND_LABELS,
            metrics=METRIC_LABELS,
            phase=promotions.phase,
            zone=deps.settings().timezone,
        )

    def _form_page(self, form: PromotionForm, promotion: Promotion | None) -> Any:
        zone = deps.settings().timezone
        if request.method == "POST" and form.validate():
            session = deps.session()
            try:
                payload = form.payload(zone)
                if promotion is None:
                    promotion = promotions.create(session, payload)
                else:
                    promotions.update_promotion(session, promotion, payload)
                session.commit()
            except ValidationError as exc:
                session.rollback()
                _place_errors(form, exc)
                flash(f"The promotion was not saved: {exc.message}", "danger")
            else:
                flash(f"Promotion {promotion.name!r} saved.", "success")
                return redirect(url_for(".detail", promotion_id=promotion.id))
        return self.render(
            "admin/herald/promotion_form.html", form=form, promotion=promotion, zone=zone.key
        )

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self) -> Any:
        """A new promotion."""
        require_write()
        return self._form_page(PromotionForm(), None)

    @expose("/<int:promotion_id>/edit/", methods=("GET", "POST"))
    def edit_view(self, promotion_id: int) -> Any:
        """Change a promotion."""
        require_write()
        promotion = self._promotion(promotion_id)
        form = PromotionForm()
        if request.method == "GET":
            form.fill(promotion, deps.settings().timezone)
        return self._form_page(form, promotion)

    @expose("/<int:promotion_id>/")
    def detail(self, promotion_id: int) -> Any:
        """One promotion: its window, campaigns, journeys and report."""
        session = deps.session()
        promotion = self._promotion(promotion_id)
        campaigns = [
            c
            for c in promotions.campaigns_of(session, promotion.id)
            if (c.schedule or {}).get("type") != "journey"
        ]
        journeys = session.scalars(
            select(Journey).where(Journey.promotion_id == promotion.id).order_by(Journey.id)
        ).all()
        # campaigns a marketer may add: broadcasts in no promotion yet (not triggers' or
        # journeys' own, which follow their trigger or journey)
        free = session.scalars(
            select(Campaign)
            .where(Campaign.promotion_id.is_(None), Campaign.status != "cancelled")
            .order_by(Campaign.id.desc())
            .limit(200)
        ).all()
        return self.render(
            "admin/herald/promotion_detail.html",
            promotion=promotion,
            campaigns=campaigns,
            journeys=journeys,
            when={c.id: _when(c, deps.settings().timezone) for c in campaigns},
            free=[c for c in free if (c.schedule or {}).get("type") not in ("journey", "trigger")],
            report=metrics.promotion_report(session, promotion),
            kinds=KIND_LABELS,
            metrics=METRIC_LABELS,
            phase=promotions.phase(promotion),
            zone=deps.settings().timezone,
        )

    @expose("/<int:promotion_id>/campaigns", methods=("POST",))
    def campaigns_view(self, promotion_id: int) -> Any:
        """Add a campaign to the promotion (``add``) or take one out of it (``remove``)."""
        require_write()
        session = deps.session()
        promotion = self._promotion(promotion_id)
        try:
            campaign_id = int(request.form.get("campaign_id") or "")
        except ValueError:
            flash("Choose a campaign.", "danger")
            return redirect(url_for(".detail", promotion_id=promotion_id))
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            abort(404, description=f"there is no campaign #{campaign_id}")
        if request.form.get("do") == "remove":
            if campaign.promotion_id == promotion.id:
                campaign.promotion_id = None
            flash(f"{campaign.name!r} is no longer part of {promotion.name}.", "success")
        else:
            campaign.promotion_id = promotion.id
            flash(f"{campaign.name!r} is now part of {promotion.name}.", "success")
        session.commit()
        return redirect(url_for(".detail", promotion_id=promotion_id))

    @expose("/<int:promotion_id>/delete", methods=("POST",))
    def delete_view(self, promotion_id: int) -> Any:
        """Delete a promotion whose campaigns have not sent; they stay, without it."""
        require_write()
        session = deps.session()
        promotion = self._promotion(promotion_id)
        name = promotion.name
        try:
            promotions.delete(session, promotion)
            session.commit()
        except Conflict as exc:
            session.rollback()
            flash(f"Not deleted: {exc.message}", "danger")
            return redirect(url_for(".detail", promotion_id=promotion_id))
        flash(f"Promotion {name!r} deleted; its campaigns are kept.", "success")
        return redirect(url_for(".index"))

    @expose("/templates/")
    def gallery(self) -> Any:
        """Start from a holiday template."""
        zone = deps.settings().timezone
        return self.render(
            "admin/herald/promotion_gallery.html",
            templates=[
                promotion_templates.describe(t, zone)
                for t in promotion_templates.TEMPLATES.values()
            ],
            segments=deps.session().scalars(select(Segment).order_by(Segment.name)).all(),
            zone=zone,
            kinds=KIND_LABELS,
        )

    @expose("/templates/<key>/apply", methods=("POST",))
    def apply_view(self, key: str) -> Any:
        """Fill in the template's promotion and draft campaigns."""
        require_write()
        session = deps.session()
        year_raw = (request.form.get("year") or "").strip()
        segment_raw = (request.form.get("segment_id") or "").strip()
        try:
            year = int(year_raw) if year_raw else None
            segment_id = int(segment_raw) if segment_raw else None
        except ValueError:
            flash("The year must be a year such as 2026.", "danger")
            return redirect(url_for(".gallery"))
        try:
            promotion, ids = promotion_templates.apply(
                session, key, year, segment_id=segment_id, zone=deps.settings().timezone
            )
            session.commit()
        except HeraldError as exc:
            session.rollback()
            flash(f"Not created: {exc.message}", "danger")
            return redirect(url_for(".gallery"))
        flash(
            f"{promotion.name} is ready with {len(ids)} draft campaigns: check each one, then "
            "schedule it.",
            "success",
        )
        return redirect(url_for(".detail", promotion_id=promotion.id))
