"""Promotions (contract section 15): a named window with a goal and a budget that campaigns and
journeys belong to (Double 11 from 1 to 11 November, a flash sale, a launch).

A promotion is plain data; what it *caused* is read through :mod:`herald.campaigns.metrics`
(:func:`herald.campaigns.metrics.promotion_report`). Deleting a promotion detaches its draft
campaigns and journeys (they stay, without a promotion), but is refused once any of its
campaigns has sent: the promotion's report would go with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Numeric, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from herald.campaigns.models import Campaign, Run
from herald.core import clock
from herald.core.db import Base
from herald.core.errors import Conflict, NotFound, ValidationError

KINDS = ("holiday", "flash_sale", "member_day", "launch", "points", "exclusive", "gift")
KIND_LABELS = {
    "holiday": "Holiday campaign",
    "flash_sale": "Flash sale",
    "member_day": "Member day",
    "launch": "New-product launch",
    "points": "Points redemption",
    "exclusive": "Member-exclusive offer",
    "gift": "Buy and get a gift",
}
METRICS = ("revenue", "orders", "signups")
METRIC_LABELS = {"revenue": "Revenue", "orders": "Orders", "signups": "Sign-ups"}
FIELDS = {"name", "kind", "starts_at", "ends_at", "goal", "budget", "description"}
MIN_YEAR, MAX_YEAR = 1970, 2999
MAX_AMOUNT = Decimal(10) ** 12
MAX_ID = 2_147_483_647


class Promotion(Base):
    """A promotion: kind, window, goal (metric and target) and budget."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column(index=True)
    goal_metric: Mapped[str | None] = mapped_column(String(16))
    goal_target: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    description: Mapped[str | None] = mapped_column(Text)
    # the gallery template it was started from (``double11``), if any
    template: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(message, {field: message})


def _moment(payload: Mapping[str, Any], field: str) -> datetime:
    raw = payload.get(field)
    word = "starts" if field == "starts_at" else "ends"
    if raw is None or raw == "":
        raise _invalid(field, f"say when the promotion {word} ({field} is required)")
    if not isinstance(raw, str):
        raise _invalid(field, f"{field} must be a date and time such as 2026-11-01T00:00:00+08:00")
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(
            field, f"{raw!r} is not a date and time; write it like 2026-11-01T00:00:00+08:00"
        ) from None
    if value.tzinfo is None:
        raise _invalid(
            field,
            f"{field} {raw!r} has no time zone: add the offset it is meant in, such as +08:00 "
            "for China or Z for UTC",
        )
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise _invalid(field, f"{field}: the year must be from {MIN_YEAR} to {MAX_YEAR}")
    return value


def _amount(raw: Any, field: str, what: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _invalid(field, f"{what} must be a number")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise _invalid(field, f"{what} must be a number")
    try:
        value = Decimal(str(raw).strip())
    except ArithmeticError:
        raise _invalid(field, f"{what} must be a number") from None
    if not value.is_finite():
        raise _invalid(field, f"{what} must be a number")
    if value < 0:
        raise _invalid(field, f"{what} cannot be negative")
    if value >= MAX_AMOUNT:
        raise _invalid(field, f"{what} must be less than 1,000,000,000,000")
    return value.quantize(Decimal("0.01"))


def _goal(raw: Any) -> tuple[str | None, Decimal | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, Mapping):
        raise _invalid("goal", 'goal must be an object such as {"metric": "revenue", ...}')
    unknown = sorted(set(raw) - {"metric", "target"})
    if unknown:
        raise _invalid(f"goal.{unknown[0]}", f"goal has no field {unknown[0]!r}")
    metric = raw.get("metric")
    if metric not in METRICS:
        raise _invalid(
            "goal.metric",
            f"the goal is measured in revenue, orders or signups, not {metric!r}"
            if metric is not None
            else "say what the goal counts: revenue, orders or signups",
        )
    if raw.get("target") is None:
        raise _invalid("goal.target", f"say how much {metric} the promotion aims for")
    target = _amount(raw["target"], "goal.target", "the goal's target")
    if metric != "revenue" and target != target.to_integral_value():
        raise _invalid("goal.target", f"a target in {metric} is a whole number")
    return metric, target


def clean(payload: Any) -> dict[str, Any]:
    """Every check of a promotion body; returns the column values or raises a 422 naming the
    field, in a marketer's words."""
    if not isinstance(payload, Mapping):
        raise _invalid("", "the body must be a JSON object")
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise _invalid(unknown[0], f"a promotion has no field {unknown[0]!r}")
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name", "give the promotion a name")
    if len(name.strip()) > 200:
        raise _invalid("name", "the name is at most 200 characters")
    kind = payload.get("kind")
    if kind not in KINDS:
        raise _invalid(
            "kind",
            f"{kind!r} is not a kind of promotion; use one of {', '.join(KINDS)}"
            if kind is not None
            else f"say what kind of promotion it is: one of {', '.join(KINDS)}",
        )
    starts_at = _moment(payload, "starts_at")
    ends_at = _moment(payload, "ends_at")
    if ends_at <= starts_at:
        raise _invalid("ends_at", "the promotion ends before it starts: ends_at must be later")
    metric, target = _goal(payload.get("goal"))
    budget = payload.get("budget")
    description = payload.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 5000):
        raise _invalid("description", "the description is text of at most 5,000 characters")
    return {
        "name": name.strip(),
        "kind": kind,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "goal_metric": metric,
        "goal_target": target,
        "budget": None if budget is None else _amount(budget, "budget", "the budget"),
        "description": description or None,
    }


def create(session: Session, payload: Any, template: str | None = None) -> Promotion:
    """Store a checked promotion."""
    promotion = Promotion(**clean(payload), template=template)
    session.add(promotion)
    session.flush()
    return promotion


def as_payload(promotion: Promotion) -> dict[str, Any]:
    """The promotion as an API body (what :func:`clean` accepts)."""
    return {
        "name": promotion.name,
        "kind": promotion.kind,
        # in UTC, as stored (the offset given is not kept), whether just saved or read back
        "starts_at": promotion.starts_at.astimezone(UTC).isoformat(),
        "ends_at": promotion.ends_at.astimezone(UTC).isoformat(),
        "goal": (
            {"metric": promotion.goal_metric, "target": _number(promotion.goal_target)}
            if promotion.goal_metric
            else None
        ),
        "budget": _number(promotion.budget),
        "description": promotion.description,
    }


def update_promotion(session: Session, promotion: Promotion, changes: Any) -> Promotion:
    """Replace the fields given, after the same checks as creation."""
    if not isinstance(changes, Mapping):
        raise _invalid("", "the body must be a JSON object")
    values = clean({**as_payload(promotion), **changes})
    for key, value in values.items():
        setattr(promotion, key, value)
    promotion.updated_at = clock.now()
    session.flush()
    return promotion


def get(session: Session, promotion_id: int) -> Promotion:
    """The promotion, or a 404."""
    promotion = session.get(Promotion, promotion_id) if 1 <= promotion_id <= MAX_ID else None
    if promotion is None:
        raise NotFound(f"promotion {promotion_id} does not exist")
    return promotion


def check_id(session: Session, raw: Any, field: str = "promotion_id") -> int | None:
    """A ``promotion_id`` given on a campaign or journey: null, or an existing promotion."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _invalid(field, "promotion_id must be a promotion's id (a whole number) or null")
    if not 1 <= raw <= MAX_ID or session.get(Promotion, raw) is None:
        raise _invalid(field, f"promotion {raw} does not exist")
    return raw


def campaigns_of(session: Session, promotion_id: int) -> list[Campaign]:
    """The promotion's campaigns (journeys' message steps included), in id order."""
    return list(
        session.scalars(
            select(Campaign).where(Campaign.promotion_id == promotion_id).order_by(Campaign.id)
        )
    )


def delete(session: Session, promotion: Promotion) -> None:
    """Delete the promotion and detach its campaigns and journeys; refused (409) once any of
    them has sent, since the promotion's report would be lost."""
    sent = session.scalar(
        select(Campaign.id)
        .join(Run, Run.campaign_id == Campaign.id)
        .where(Campaign.promotion_id == promotion.id)
        .limit(1)
    )
    if sent is not None:
        raise Conflict(
            f"campaign {sent} of this promotion has sent messages: the promotion keeps its "
            "report; end it instead of deleting it",
            {"id": "has sent campaigns"},
        )
    session.execute(
        update(Campaign).where(Campaign.promotion_id == promotion.id).values(promotion_id=None)
    )
    # journeys sit a layer above; their promotion_id column is cleared by its ON DELETE SET NULL
    session.delete(promotion)
    session.flush()


def phase(promotion: Promotion, now: datetime | None = None) -> str:
    """``upcoming``, ``running`` or ``ended``."""
    moment = now or clock.now()
    if moment < promotion.starts_at:
        return "upcoming"
    return "running" if moment < promotion.ends_at else "ended"


def _number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def to_dict(promotion: Promotion) -> dict[str, Any]:
    """The API shape of a promotion."""
    return {
        "id": promotion.id,
        **as_payload(promotion),
        "status": phase(promotion),
        "template": promotion.template,
        "created_at": promotion.created_at.isoformat() if promotion.created_at else None,
    }


def template_view(promotion: Promotion | None, zone: ZoneInfo) -> dict[str, Any]:
    """What templates see as ``promotion``: its times in the member's zone (``ends_at`` for a
    countdown); an empty mapping without one, so its fields render empty."""
    if promotion is None:
        return {}
    return {
        "id": promotion.id,
        "name": promotion.name,
        "kind": promotion.kind,
        "starts_at": promotion.starts_at.astimezone(zone),
        "ends_at": promotion.ends_at.astimezone(zone),
        "description": promotion.description or "",
    }
