"""Tier benefits (会员等级权益) as configuration a marketer edits: per tier, the points rate, the
birthday gift and member-day coupon specs, free shipping over an amount, and the lines that
describe the tier to members. The handbook's five tiers are the defaults; a stored row replaces
its tier's defaults as a whole.

Used by member days (``"benefits": "tier_defaults"``, or ``"tier_default"`` for one tier), by
coupon specs that point at a tier (``{"tier_benefit": "birthday_gift"}``) and by templates, which
see the member's tier as ``tier``: ``tier.name``, ``tier.points_rate``,
``tier.free_shipping_over``, ``tier.birthday_gift`` / ``tier.member_day`` (each with its
``description``, or empty) and ``tier.benefits`` (the description lines).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from herald.campaigns import coupon_specs
from herald.core import clock
from herald.core.db import Base
from herald.core.errors import ValidationError
from herald.core.tiers import TIERS

FIELDS = ("points_rate", "birthday_gift", "member_day", "free_shipping_over", "lines")
MAX_LINES = 12
MAX_LINE = 200

# the handbook's tiers, each keeping the benefits of the one below
DEFAULTS: dict[str, dict[str, Any]] = {
    "new": {
        "points_rate": 1,
        "birthday_gift": None,
        "member_day": None,
        "free_shipping_over": None,
        "lines": ["Registration points", "A first-order discount", "A dedicated support line"],
    },
    "bronze": {
        "points_rate": 1,
        "birthday_gift": {"type": "coupon", "amount_off": 10, "min_spend": 100, "valid_days": 7},
        "member_day": {"type": "coupon", "amount_off": 10, "min_spend": 100, "valid_days": 1},
        "free_shipping_over": None,
        "lines": ["A birthday gift", "Monthly coupons"],
    },
    "silver": {
        "points_rate": 1.2,
        "birthday_gift": {"type": "coupon", "amount_off": 20, "min_spend": 150, "valid_days": 7},
        "member_day": {"type": "coupon", "amount_off": 20, "min_spend": 200, "valid_days": 1},
        "free_shipping_over": 99,
        "lines": ["Priority shipping", "A yearly points-redemption event"],
    },
    "gold": {
        "points_rate": 1.5,
        "birthday_gift": {"type": "coupon", "percent_off": 20, "valid_days": 14},
        "member_day": {"type": "coupon", "percent_off": 15, "valid_days": 1},
        "free_shipping_over": 0,
        "lines": ["An upgraded birthday gift", "A standing shopping discount"],
    },
    "platinum": {
        "points_rate": 2,
        "birthday_gift": {"type": "gift", "sku": "GIFT-PLATINUM", "valid_days": 30},
        "member_day": {"type": "points_multiplier", "multiplier": 3, "valid_days": 1},
        "free_shipping_over": 0,
        "lines": ["Customised service", "High-value points redemption"],
    },
}


class TierBenefit(Base):
    """A tier's configured benefits (replacing :data:`DEFAULTS` for that tier)."""

    __tablename__ = "tier_benefits"

    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    benefits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


def _bad(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", {field: message})


def check(tier: Any, payload: Any) -> dict[str, Any]:
    """A tier's benefits cleaned, or a 422 naming the field in a marketer's words."""
    if tier not in TIERS:
        raise ValidationError(
            f"{tier!r} is not a tier ({', '.join(TIERS)})", {"tier": "unknown tier"}
        )
    if not isinstance(payload, Mapping):
        raise _bad("", "the body must be a JSON object")
    unknown = sorted(set(payload) - set(FIELDS) - {"tier"})
    if unknown:
        raise _bad(unknown[0], f"is not a tier benefit ({', '.join(FIELDS)})")
    out: dict[str, Any] = {}
    rate = payload.get("points_rate", 1)
    if (
        not isinstance(rate, int | float)
        or isinstance(rate, bool)
        or not math.isfinite(rate)
        or not 0 <= rate <= 100
    ):
        raise _bad("points_rate", "must be a number from 0 to 100 (points per ¥1 spent)")
    out["points_rate"] = rate
    for field in ("birthday_gift", "member_day"):
        spec = payload.get(field)
        out[field] = (
            None
            if spec is None
            else coupon_specs.check(spec, field, default_days=None, tier_benefit=False)
        )
    over = payload.get("free_shipping_over")
    if over is not None and (
        not isinstance(over, int | float)
        or isinstance(over, bool)
        or not math.isfinite(over)
        or not 0 <= over <= coupon_specs.MAX_MONEY
    ):
        raise _bad("free_shipping_over", "must be an amount from 0 (always free) upwards, or empty")
    out["free_shipping_over"] = over
    lines = payload.get("lines", [])
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise _bad("lines", "must be a list of lines of text")
    lines = [line.strip() for line in lines if line.strip()]
    if len(lines) > MAX_LINES:
        raise _bad("lines", f"at most {MAX_LINES} lines")
    if any(len(line) > MAX_LINE for line in lines):
        raise _bad("lines", f"each line at most {MAX_LINE} characters")
    out["lines"] = lines
    return out


def all_benefits(session: Session) -> dict[str, dict[str, Any]]:
    """Every tier's benefits, lowest tier first: the stored ones, else the defaults."""
    stored = {row.tier: row.benefits for row in session.scalars(select(TierBenefit))}
    return {tier: dict(stored.get(tier) or DEFAULTS[tier]) for tier in TIERS}


def update(session: Session, tier: str, payload: Any) -> dict[str, Any]:
    """Store a tier's benefits (checked first; nothing is written when they are refused)."""
    clean = check(tier, payload)
    row = session.get(TierBenefit, tier)
    if row is None:
        session.add(TierBenefit(tier=tier, benefits=clean))
    else:
        row.benefits = clean
        row.updated_at = clock.now()
    session.flush()
    return clean


def answer(tier: str, benefits: Mapping[str, Any]) -> dict[str, Any]:
    """The API's view of one tier: its benefits plus the descriptions of its coupons."""
    out: dict[str, Any] = {"tier": tier, **benefits}
    for field in ("birthday_gift", "member_day"):
        spec = benefits.get(field)
        out[f"{field}_description"] = coupon_specs.describe(spec) if spec else None
    return out


def template_view(tier: str | None, benefits: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What templates see as ``tier`` for a member of ``tier``."""
    mine = benefits.get(tier or "new") or {}

    def offer(spec: Any) -> dict[str, Any] | None:
        return {**spec, "description": coupon_specs.describe(spec)} if spec else None

    return {
        "name": tier,
        "points_rate": mine.get("points_rate"),
        "free_shipping_over": mine.get("free_shipping_over"),
        "birthday_gift": offer(mine.get("birthday_gift")),
        "member_day": offer(mine.get("member_day")),
        "benefits": list(mine.get("lines") or []),
    }


def resolve(
    spec: Mapping[str, Any], tier: str | None, benefits: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """A coupon spec for one member: a ``tier_benefit`` spec becomes that tier's configured
    coupon (None when the tier has none), any other spec is itself."""
    name = spec.get("tier_benefit")
    if name is None:
        return dict(spec)
    found = (benefits.get(tier or "new") or {}).get(name)
    return dict(found) if found else None
