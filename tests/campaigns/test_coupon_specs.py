"""The pure coupon rules: checking specs, describing them, their validity window and when an
order redeems a code; properties against plain-Python twins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.campaigns import coupon_specs, tier_benefits
from herald.core.errors import ValidationError
from herald.templating.checks import COUPON_FIELDS, TIER_FIELDS

T0 = datetime(2026, 11, 11, 10, 0, tzinfo=UTC)
money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100_000), places=2).map(float)
days = st.integers(min_value=1, max_value=366)


@st.composite
def specs(draw) -> dict:  # type: ignore[no-untyped-def]
    kind = draw(st.sampled_from(coupon_specs.TYPES))
    spec: dict = {"type": kind, "valid_days": draw(days)}
    if kind == "coupon":
        if draw(st.booleans()):
            spec["percent_off"] = draw(st.integers(min_value=1, max_value=100))
        else:
            spec["amount_off"] = draw(money)
            if draw(st.booleans()):
                extra = Decimal(str(draw(money)))
                spec["min_spend"] = float(Decimal(str(spec["amount_off"])) + extra)
    elif kind == "gift":
        spec["sku"] = draw(st.text("ABCDEFG-123", min_size=1, max_size=20))
    elif kind == "points_multiplier":
        spec["multiplier"] = draw(st.sampled_from([1.5, 2, 3, 5, 10]))
    return spec


@given(specs())
def test_a_valid_spec_is_kept_as_written(spec):
    assert coupon_specs.check(spec) == spec
    assert coupon_specs.check(coupon_specs.check(spec)) == spec


@given(specs())
def test_every_spec_has_a_description_naming_its_amounts(spec):
    text = coupon_specs.describe(spec)
    assert text
    if "percent_off" in spec:
        assert f"{spec['percent_off']}% off" in text
    if "amount_off" in spec:
        assert text.startswith("¥") and " off" in text
    if "min_spend" in spec:
        assert " over ¥" in text
    if "sku" in spec:
        assert spec["sku"] in text


@given(specs(), st.integers(min_value=0, max_value=10**9))
def test_the_window_starts_at_issue_and_lasts_valid_days(spec, offset):
    start = T0 + timedelta(seconds=offset)
    valid_from, valid_until = coupon_specs.validity(spec, start)
    assert valid_from == start and valid_until - valid_from == timedelta(days=spec["valid_days"])


def _twin_refusal(placed, total, start, end, min_spend):  # type: ignore[no-untyped-def]
    """The rule as a marketer states it, at whole seconds."""
    p, s, e = (int(x.timestamp()) for x in (placed, start, end))
    if p < s:
        return "not yet valid"
    if p > e:
        return "expired"
    if min_spend is not None and total < min_spend:
        return "below minimum spend"
    return None


@given(
    st.integers(min_value=-10_000, max_value=10_000),
    st.integers(min_value=0, max_value=5_000),
    st.integers(min_value=0, max_value=999_999),
    money,
    st.one_of(st.none(), money),
)
def test_an_order_redeems_exactly_as_the_plain_rule_says(seconds, length, micros, total, min_spend):
    start = T0
    end = T0 + timedelta(seconds=length)
    placed = T0 + timedelta(seconds=seconds, microseconds=micros)
    got = coupon_specs.refusal(placed, total, start, end, min_spend)
    assert got == _twin_refusal(placed.replace(microsecond=0), total, start, end, min_spend)


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"type": "coupon", "valid_days": 3}, "coupon.percent_off", "either percent_off"),
        (
            {"type": "coupon", "percent_off": 10, "amount_off": 5, "valid_days": 3},
            "coupon.percent_off",
            "either",
        ),
        ({"type": "coupon", "percent_off": 0, "valid_days": 3}, "coupon.percent_off", "1 to 100"),
        ({"type": "coupon", "amount_off": 0.001, "valid_days": 3}, "coupon.amount_off", "amount"),
        (
            {"type": "coupon", "amount_off": 30, "min_spend": 10, "valid_days": 3},
            "coupon.min_spend",
            "at least amount_off",
        ),
        (
            {"type": "free_shipping", "percent_off": 5, "valid_days": 3},
            "coupon.percent_off",
            "free shipping",
        ),
        (
            {"type": "points_multiplier", "multiplier": 1, "valid_days": 3},
            "coupon.multiplier",
            "above 1",
        ),
        ({"type": "gift", "sku": "  ", "valid_days": 3}, "coupon.sku", "SKU"),
        ({"type": "free_shipping"}, "coupon.valid_days", "how long"),
        ({"type": "free_shipping", "valid_days": 400}, "coupon.valid_days", "1 to 366"),
        (
            {"type": "free_shipping", "valid_days": 3, "valid_until": "2030-01-01T00:00:00Z"},
            "coupon.valid_days",
            "not both",
        ),
        (
            {"type": "free_shipping", "valid_until": "2030-01-01 09:00"},
            "coupon.valid_until",
            "offset",
        ),
        ({"type": "free_shipping", "valid_until": "soon"}, "coupon.valid_until", "date and time"),
        (
            {"type": "free_shipping", "valid_days": 3, "colour": "red"},
            "coupon.colour",
            "not a coupon field",
        ),
    ],
)
def test_a_bad_spec_names_its_field_in_a_marketers_words(spec, field, words):
    with pytest.raises(ValidationError) as caught:
        coupon_specs.check(spec)
    assert field in caught.value.fields and words in caught.value.fields[field]


def test_a_valid_until_in_the_past_is_refused_when_now_is_given():
    spec = {"type": "free_shipping", "valid_until": "2026-11-01T00:00:00+08:00"}
    assert coupon_specs.check(spec)["valid_until"] == "2026-11-01T00:00:00+08:00"
    with pytest.raises(ValidationError, match="in the past"):
        coupon_specs.check(spec, now=T0)


def test_valid_until_keeps_its_offset_and_ends_the_window():
    spec = coupon_specs.check(
        {"type": "gift", "sku": "TEA-1", "valid_until": "2026-11-30T23:59:59+08:00"}
    )
    _, until = coupon_specs.validity(spec, T0)
    assert until == datetime(2026, 11, 30, 23, 59, 59, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({"type": "coupon", "percent_off": 15}, "15% off"),
        ({"type": "coupon", "amount_off": 30, "min_spend": 200}, "¥30 off orders over ¥200"),
        ({"type": "coupon", "amount_off": 12.5}, "¥12.50 off"),
        ({"type": "free_shipping"}, "free shipping"),
        ({"type": "free_shipping", "min_spend": 99}, "free shipping on orders over ¥99"),
        ({"type": "gift", "sku": "TEA-1"}, "a free gift (TEA-1)"),
        ({"type": "points_multiplier", "multiplier": 3}, "3× points"),
        ({"type": "points_multiplier", "multiplier": 1.5}, "1.5× points"),
        ({"tier_benefit": "birthday_gift"}, "the member's tier birthday gift"),
    ],
)
def test_descriptions_read_as_a_marketer_says_them(spec, text):
    assert coupon_specs.describe(spec) == text


def test_tier_benefit_specs_resolve_to_the_members_tier():
    configured = {t: dict(b) for t, b in tier_benefits.DEFAULTS.items()}
    spec = coupon_specs.check({"tier_benefit": "birthday_gift"})
    assert tier_benefits.resolve(spec, "gold", configured) == configured["gold"]["birthday_gift"]
    assert tier_benefits.resolve(spec, "new", configured) is None  # new members have no gift
    with pytest.raises(ValidationError):
        coupon_specs.check(spec, tier_benefit=False)


def test_the_defaults_are_valid_tier_benefits():
    for tier, benefits in tier_benefits.DEFAULTS.items():
        assert tier_benefits.check(tier, benefits) == benefits


def test_templates_know_the_fields_coupons_and_tiers_have():
    view = coupon_specs.template_view({"code": "X", **tier_benefits.DEFAULTS["gold"]["member_day"]})
    assert set(view) == COUPON_FIELDS
    assert set(tier_benefits.template_view("gold", tier_benefits.DEFAULTS)) == TIER_FIELDS
