"""The admin's coupon fields and coupon specs agree: any spec shown in the fields and read back
is the same spec (hypothesis), and typed text the checks refuse stays text for them to name."""

from __future__ import annotations

from hypothesis import given

from herald.campaigns import coupon_specs
from herald.web.admin import coupon_form
from tests.campaigns.test_coupon_specs import specs


@given(specs())
def test_a_spec_shown_in_the_fields_reads_back_the_same(spec):
    fields = coupon_form.fields_of(spec)
    typed = {f"coupon_{part}": value for part, value in fields.items()}
    assert coupon_form.spec_from(typed, "coupon_") == spec


def test_tier_benefit_and_no_coupon_round_trip():
    spec = {"tier_benefit": "birthday_gift"}
    typed = {f"c_{k}": v for k, v in coupon_form.fields_of(spec).items()}
    assert coupon_form.spec_from(typed, "c_") == spec
    assert coupon_form.spec_from({"c_kind": ""}, "c_") is None


def test_words_are_left_for_the_checks_to_refuse_by_name():
    typed = {"c_kind": "amount_off", "c_value": "thirty", "c_valid_days": "7"}
    spec = coupon_form.spec_from(typed, "c_")
    assert spec == {"type": "coupon", "amount_off": "thirty", "valid_days": 7}
    try:
        coupon_specs.check(spec)
    except coupon_specs.ValidationError as exc:
        assert "coupon.amount_off" in exc.fields
    else:
        raise AssertionError("an amount in words was accepted")
    assert coupon_form.part_for("variants[0].coupon.amount_off") == "value"
    assert coupon_form.part_for("member_day.valid_until") == "valid_until"
