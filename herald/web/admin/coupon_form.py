"""The coupon section of admin forms (a campaign's variant, a tier's birthday gift and member-day
benefit): flat form fields in and out of a coupon spec (contract 15), so the service's own checks
decide and their problems land next to the right input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from herald.campaigns import coupon_specs

KINDS = [
    ("", "No coupon"),
    ("percent_off", "Percent off"),
    ("amount_off", "Amount off (满减 with a minimum spend)"),
    ("free_shipping", "Free shipping"),
    ("gift", "Free gift"),
    ("points_multiplier", "Points multiplier"),
]
# a campaign's coupon may be the member's tier benefit, resolved per recipient
TIER_KINDS = [
    ("tier:birthday_gift", "The member's tier birthday gift"),
    ("tier:member_day", "The member's tier member-day coupon"),
]
PARTS = ("kind", "value", "min_spend", "sku", "valid_days", "valid_until")
# a spec's field → the form part that edits it
PART_OF = {
    "type": "kind",
    "tier_benefit": "kind",
    "percent_off": "value",
    "amount_off": "value",
    "multiplier": "value",
    "min_spend": "min_spend",
    "sku": "sku",
    "valid_days": "valid_days",
    "valid_until": "valid_until",
}


def number(text: Any) -> Any:
    """``"30"`` → 30, ``"12.5"`` → 12.5; other text is kept for the checks to refuse in words."""
    raw = str(text or "").strip()
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw


def plain(value: Any) -> str:
    """A number as a person types it: ``30``, ``12.5``, ``1000000`` (never ``1e+06``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def spec_from(values: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    """The coupon spec the ``{prefix}kind`` … fields describe; None for "No coupon"."""

    def get(part: str) -> str:
        return str(values.get(prefix + part) or "").strip()

    kind = get("kind")
    if not kind:
        return None
    if kind.startswith("tier:"):
        return {"tier_benefit": kind.removeprefix("tier:")}
    spec: dict[str, Any] = {"type": "coupon" if kind in ("percent_off", "amount_off") else kind}
    if kind in ("percent_off", "amount_off"):
        spec[kind] = number(get("value"))
    elif kind == "points_multiplier":
        spec["multiplier"] = number(get("value"))
    elif kind == "gift":
        spec["sku"] = get("sku")
    if get("min_spend") and kind in ("amount_off", "percent_off", "free_shipping", "gift"):
        spec["min_spend"] = number(get("min_spend"))
    if get("valid_until"):
        spec["valid_until"] = get("valid_until")
    if get("valid_days"):
        spec["valid_days"] = number(get("valid_days"))
    return spec


def fields_of(spec: Mapping[str, Any] | None) -> dict[str, str]:
    """The form parts showing a stored spec (empty parts for none)."""
    out = dict.fromkeys(PARTS, "")
    if not spec:
        return out
    if "tier_benefit" in spec:
        out["kind"] = f"tier:{spec['tier_benefit']}"
        return out
    kind = spec.get("type", "")
    if kind == "coupon":
        kind = "percent_off" if spec.get("percent_off") is not None else "amount_off"
    out["kind"] = kind
    for name in ("percent_off", "amount_off", "multiplier"):
        if spec.get(name) is not None:
            out["value"] = plain(spec[name])
    for name in ("min_spend", "sku", "valid_days", "valid_until"):
        if spec.get(name) is not None:
            out[name] = str(spec[name])
    return out


def part_for(field: str) -> str:
    """The form part a problem's field (``coupon.amount_off``, ``member_day.valid_days``) is
    about."""
    last = field.rsplit(".", 1)[-1]
    return PART_OF.get(last, "kind")


def variant_coupon_text(content: Mapping[str, Any]) -> str | None:
    """A variant's coupon in words, with its validity ("¥30 off orders over ¥200, valid 7
    days"), or None without one."""
    spec = (content or {}).get("coupon")
    if not isinstance(spec, Mapping):
        return None
    words = coupon_specs.describe(spec)
    if spec.get("valid_until"):
        return f"{words}, valid until {spec['valid_until']}"
    if spec.get("valid_days"):
        return f"{words}, valid {spec['valid_days']} day{'s' if spec['valid_days'] != 1 else ''}"
    return words
