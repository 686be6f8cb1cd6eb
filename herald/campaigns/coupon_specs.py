"""Coupon specs (contract section 15): what a marketer writes as ``"coupon": {...}`` on a variant,
a journey message step or a member-day benefit, checked and described in a marketer's words.

Pure functions, no database: :func:`check` cleans a spec or raises a 422 naming the field,
:func:`validity` gives the window a code issued at a moment is good for, :func:`describe` says
what the coupon is worth ("¥30 off orders over ¥200"). A spec may instead point at the member's
tier (``{"tier_benefit": "birthday_gift"}``); :mod:`herald.campaigns.tier_benefits` resolves it
per recipient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from herald.core.errors import ValidationError

TYPES = ("coupon", "free_shipping", "gift", "points_multiplier")
# the tier benefits a spec may point at instead of naming an offer
TIER_BENEFITS = ("birthday_gift", "member_day")
FIELDS = {
    "type",
    "percent_off",
    "amount_off",
    "min_spend",
    "sku",
    "multiplier",
    "valid_days",
    "valid_until",
}
MAX_MONEY = 1_000_000
MAX_DAYS = 366
MAX_SKU = 64
CURRENCY = "¥"


def _problem(where: str, field: str, message: str) -> ValidationError:
    key = f"{where}.{field}" if field else where
    return ValidationError(f"{key}: {message}", {key: message})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _money(value: Any) -> bool:
    """A positive amount with at most two decimals (cents/fen)."""
    return _number(value) and Decimal(str(value)).as_tuple().exponent >= -2  # type: ignore[operator]


def parse_until(value: Any, where: str = "coupon") -> datetime:
    """``valid_until`` as an aware moment; a naive one (no offset) is refused."""
    if not isinstance(value, str):
        raise _problem(
            where, "valid_until", "must be a date and time such as 2026-11-30T23:59:59+08:00"
        )
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _problem(
            where,
            "valid_until",
            f"{value!r} is not a date and time such as 2026-11-30T23:59:59+08:00",
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _problem(where, "valid_until", "needs an offset or Z, e.g. 2026-11-30T23:59:59+08:00")
    return moment


def check(
    spec: Any,
    where: str = "coupon",
    *,
    default_days: int | None = None,
    now: datetime | None = None,
    tier_benefit: bool = True,
) -> dict[str, Any]:
    """The cleaned spec, or a :class:`ValidationError` naming ``{where}.{field}``.

    ``default_days`` is the validity when neither ``valid_days`` nor ``valid_until`` is given
    (member days: 1); without it one of them is required. ``now`` refuses a ``valid_until``
    already past. ``tier_benefit`` allows ``{"tier_benefit": "birthday_gift" | "member_day"}``."""
    if not isinstance(spec, Mapping):
        raise _problem(where, "", 'must be an object such as {"type": "coupon", "percent_off": 10}')
    if "tier_benefit" in spec:
        if not tier_benefit:
            raise _problem(where, "tier_benefit", "cannot be used here; name the offer itself")
        if set(spec) != {"tier_benefit"} or spec["tier_benefit"] not in TIER_BENEFITS:
            raise _problem(
                where,
                "tier_benefit",
                f"must be one of {', '.join(TIER_BENEFITS)} (and nothing else beside it)",
            )
        return {"tier_benefit": spec["tier_benefit"]}
    unknown = sorted(set(spec) - FIELDS)
    if unknown:
        raise _problem(where, unknown[0], "is not a coupon field")
    kind = spec.get("type")
    if kind not in TYPES:
        raise _problem(where, "type", f"must be one of {', '.join(TYPES)}")
    allowed = {
        "coupon": {"percent_off", "amount_off", "min_spend"},
        "free_shipping": {"min_spend"},
        "gift": {"sku", "min_spend"},
        "points_multiplier": {"multiplier"},
    }[kind]
    stray = sorted(set(spec) - allowed - {"type", "valid_days", "valid_until"})
    if stray:
        raise _problem(where, stray[0], f"does not apply to a {kind.replace('_', ' ')} coupon")
    out: dict[str, Any] = {"type": kind}
    if kind == "coupon":
        if ("percent_off" in spec) == ("amount_off" in spec):
            raise _problem(
                where, "percent_off", "give either percent_off (e.g. 15) or amount_off (e.g. 30)"
            )
        if "percent_off" in spec:
            percent = spec["percent_off"]
            if not _whole(percent) or not 1 <= percent <= 100:
                raise _problem(where, "percent_off", "must be a whole number from 1 to 100")
            out["percent_off"] = percent
        else:
            amount = spec["amount_off"]
            if not _money(amount) or not 0 < amount <= MAX_MONEY:
                raise _problem(
                    where, "amount_off", f"must be an amount above 0 and at most {MAX_MONEY:,}"
                )
            out["amount_off"] = amount
    elif kind == "gift":
        sku = spec.get("sku")
        if not isinstance(sku, str) or not sku.strip() or len(sku.strip()) > MAX_SKU:
            raise _problem(where, "sku", f"must name the gift's SKU (1 to {MAX_SKU} characters)")
        out["sku"] = sku.strip()
    elif kind == "points_multiplier":
        multiplier = spec.get("multiplier")
        if not _number(multiplier) or not 1 < multiplier <= 100:
            raise _problem(where, "multiplier", "must be a number above 1 and at most 100")
        out["multiplier"] = multiplier
    if "min_spend" in spec:
        spend = spec["min_spend"]
        if not _money(spend) or not 0 < spend <= MAX_MONEY:
            raise _problem(
                where, "min_spend", f"must be an amount above 0 and at most {MAX_MONEY:,}"
            )
        if "amount_off" in out and spend < out["amount_off"]:
            raise _problem(
                where, "min_spend", "must be at least amount_off (¥30 off orders over ¥200)"
            )
        out["min_spend"] = spend
    out.update(_validity_fields(spec, where, default_days, now))
    return out


def _validity_fields(
    spec: Mapping[str, Any], where: str, default_days: int | None, now: datetime | None
) -> dict[str, Any]:
    if "valid_days" in spec and "valid_until" in spec:
        raise _problem(where, "valid_days", "give either valid_days or valid_until, not both")
    if "valid_until" in spec:
        until = parse_until(spec["valid_until"], where)
        if now is not None and until <= now:
            raise _problem(where, "valid_until", "is in the past: coupons would arrive expired")
        return {"valid_until": until.isoformat()}
    days = spec.get("valid_days", default_days)
    if days is None:
        raise _problem(
            where, "valid_days", "say how long the coupon is good for: valid_days or valid_until"
        )
    if not _whole(days) or not 1 <= days <= MAX_DAYS:
        raise _problem(where, "valid_days", f"must be a whole number of days from 1 to {MAX_DAYS}")
    return {"valid_days": days}


def validity(spec: Mapping[str, Any], start: datetime) -> tuple[datetime, datetime]:
    """``(valid_from, valid_until)`` of a code issued at ``start`` under a checked spec."""
    if spec.get("valid_until"):
        return start, parse_until(spec["valid_until"])
    return start, start + timedelta(days=int(spec.get("valid_days") or 1))


def _amount(value: Any) -> str:
    number = Decimal(str(value))
    text = f"{number:,.2f}"
    return CURRENCY + (text[:-3] if text.endswith(".00") else text)


def describe(spec: Mapping[str, Any]) -> str:
    """What the coupon is worth, in a marketer's words: "15% off", "¥30 off orders over ¥200",
    "free shipping", "a free gift (TEA-1)", "3× points"."""
    if "tier_benefit" in spec:
        return f"the member's tier {str(spec['tier_benefit']).replace('_', ' ')}"
    kind = spec.get("type")
    over = f" orders over {_amount(spec['min_spend'])}" if spec.get("min_spend") else ""
    if kind == "coupon" and spec.get("percent_off") is not None:
        return f"{spec['percent_off']}% off" + (f" on{over}" if over else "")
    if kind == "coupon":
        return f"{_amount(spec.get('amount_off') or 0)} off" + (over or "")
    if kind == "free_shipping":
        return "free shipping" + (f" on{over}" if over else "")
    if kind == "gift":
        return f"a free gift ({spec.get('sku')})" + (f" with{over}" if over else "")
    if kind == "points_multiplier":
        return f"{Decimal(str(spec.get('multiplier'))).normalize():f}× points"
    return "a coupon"


def template_view(fields: Mapping[str, Any]) -> dict[str, Any]:
    """What templates see as ``coupon``: the code and its offer, ``valid_until`` as ISO text and
    ``description``; fields that do not apply are None (rendered empty)."""
    until = fields.get("valid_until")
    return {
        "code": fields.get("code"),
        "type": fields.get("type"),
        "percent_off": fields.get("percent_off"),
        "amount_off": _plain(fields.get("amount_off")),
        "min_spend": _plain(fields.get("min_spend")),
        "sku": fields.get("sku"),
        "multiplier": _plain(fields.get("multiplier")),
        "valid_until": until.isoformat() if isinstance(until, datetime) else until,
        "description": describe(fields),
    }


def _plain(value: Any) -> Any:
    """Money and multipliers as int when whole, else float (``30`` not ``30.00``)."""
    if value is None:
        return None
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def sample(spec: Mapping[str, Any], start: datetime) -> dict[str, Any]:
    """A preview's ``coupon``: the offer with a sample code, never issued."""
    _, until = validity(spec, start) if "type" in spec else (start, start + timedelta(days=7))
    return template_view({**spec, "code": "SAMPLE-CODE", "valid_until": until})


def _second(moment: datetime) -> datetime:
    """Whole seconds: shops send whole-second timestamps (as attribution compares them)."""
    return moment.replace(microsecond=0)


def refusal(
    placed_at: datetime,
    total: Decimal | float | None,
    valid_from: datetime,
    valid_until: datetime,
    min_spend: Decimal | float | None,
) -> str | None:
    """Why an order placed at ``placed_at`` for ``total`` does not redeem a code valid over
    ``[valid_from, valid_until]`` (both included, at whole seconds) with ``min_spend``, or None
    when it does. Reasons: ``not yet valid``, ``expired``, ``below minimum spend``."""
    placed = _second(placed_at)
    if placed < _second(valid_from):
        return "not yet valid"
    if placed > _second(valid_until):
        return "expired"
    if min_spend is not None and Decimal(str(total or 0)) < Decimal(str(min_spend)):
        return "below minimum spend"
    return None
