"""Coupons and tier benefits in the admin: ``/admin/coupons/`` lists every issued code (member,
campaign, offer, validity, redemption or the last refused attempt), filterable by campaign;
``/admin/tier-benefits/`` is where a marketer edits what each tier gets."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import func, select

from herald.audiences.models import Contact
from herald.campaigns import coupon_specs, tier_benefits
from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Campaign
from herald.core.errors import ValidationError
from herald.core.tiers import TIERS
from herald.web import deps
from herald.web.admin import coupon_form
from herald.web.admin.auth import Protected, require_write

PAGE = 100
COUPON_PARTS = ("birthday_gift", "member_day")


class CouponView(Protected, BaseView):
    """Every issued coupon, newest first, ``?campaign=ID`` for one campaign's."""

    @expose("/")
    def index(self) -> Any:
        session = deps.session()
        page = max(0, request.args.get("page", 0, type=int))
        campaign_id = request.args.get("campaign", type=int)
        where = [Coupon.campaign_id == campaign_id] if campaign_id else []
        rows = session.execute(
            select(Coupon, Contact.email, Contact.external_id, Campaign.name)
            .outerjoin(Contact, Contact.id == Coupon.contact_id)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .where(*where)
            .order_by(Coupon.id.desc())
            .offset(page * PAGE)
            .limit(PAGE)
        ).all()
        total = int(session.scalar(select(func.count(Coupon.id)).where(*where)) or 0)
        campaigns = session.execute(
            select(Campaign.id, Campaign.name)
            .where(Campaign.id.in_(select(Coupon.campaign_id).distinct()))
            .order_by(Campaign.id.desc())
        ).all()
        return self.render(
            "admin/herald/coupons.html",
            rows=[(c, email, ext, name, c.offer()["description"]) for c, email, ext, name in rows],
            campaigns=campaigns,
            campaign_id=campaign_id,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE)),
        )


class TierBenefitView(Protected, BaseView):
    """The five tiers' benefits, each in its own form."""

    @expose("/")
    def index(self) -> Any:
        configured = tier_benefits.all_benefits(deps.session())
        return self.render(
            "admin/herald/tier_benefits.html",
            tiers=[_card(tier, configured[tier]) for tier in TIERS],
            kinds=coupon_form.KINDS,
        )

    @expose("/<tier>", methods=("POST",))
    def save(self, tier: str) -> Any:
        """Store one tier's benefits; a refusal shows the form again with the problem at its
        field and nothing stored."""
        require_write()
        if tier not in TIERS:
            abort(404, description=f"there is no tier {tier!r}")
        session = deps.session()
        payload = _payload(request.form)
        try:
            tier_benefits.update(session, tier, payload)
            session.commit()
        except ValidationError as exc:
            session.rollback()
            flash(f"The {tier} benefits were not saved: {exc.message}", "danger")
            configured = tier_benefits.all_benefits(session)
            cards = [_card(t, configured[t]) for t in TIERS]
            cards[TIERS.index(tier)] = _card(tier, None, request.form, exc.fields)
            return self.render(
                "admin/herald/tier_benefits.html", tiers=cards, kinds=coupon_form.KINDS
            ), 422
        flash(f"The {tier} benefits are saved.", "success")
        return redirect(url_for(".index") + f"#tier-{tier}")


def _payload(form: Any) -> dict[str, Any]:
    """The API's body for one tier, built from its form."""
    over = (form.get("free_shipping_over") or "").strip()
    return {
        "points_rate": coupon_form.number(form.get("points_rate") or "0"),
        "free_shipping_over": coupon_form.number(over) if over else None,
        "lines": (form.get("lines") or "").splitlines(),
        **{part: coupon_form.spec_from(form, f"{part}_") for part in COUPON_PARTS},
    }


def _card(
    tier: str,
    benefits: dict[str, Any] | None,
    typed: Any = None,
    problems: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the page shows for one tier: the stored values, or what was typed with problems
    placed by field (``member_day.valid_days`` → the member-day coupon's days)."""
    if typed is not None:
        values = {k: typed.get(k, "") for k in typed}
    else:
        assert benefits is not None
        values = {
            "points_rate": coupon_form.plain(benefits.get("points_rate", 1)),
            "free_shipping_over": ""
            if benefits.get("free_shipping_over") is None
            else coupon_form.plain(benefits["free_shipping_over"]),
            "lines": "\n".join(benefits.get("lines") or []),
        }
        for part in COUPON_PARTS:
            for name, value in coupon_form.fields_of(benefits.get(part)).items():
                values[f"{part}_{name}"] = value
    errors: dict[str, str] = {}
    for field, problem in (problems or {}).items():
        head = field.split(".", 1)[0]
        key = f"{head}_{coupon_form.part_for(field)}" if head in COUPON_PARTS else head
        errors[key or "points_rate"] = problem
    descriptions = {}
    if benefits is not None:
        for part in COUPON_PARTS:
            spec = benefits.get(part)
            descriptions[part] = coupon_specs.describe(spec) if spec else "none"
    return {"tier": tier, "values": values, "errors": errors, "descriptions": descriptions}
