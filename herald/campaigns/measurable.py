"""Which A/B metrics each channel can measure (contract section 13): an A/B test on a metric its
channel cannot see would always fall back in silence, so it is refused at save time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from herald.core.errors import ValidationError

# email sees opens (the pixel) and clicks; SMS links are tracked, SMS opens are invisible;
# a member day's benefit is a coupon, seen when it is redeemed. Social variants would have to
# be posted as separate posts, which Herald does not do: a social post is never A/B tested.
MEASURABLE: dict[str, frozenset[str]] = {
    "email": frozenset({"open_rate", "click_rate", "conversion_rate", "revenue"}),
    "sms": frozenset({"click_rate", "conversion_rate", "revenue"}),
    "member_day": frozenset({"conversion_rate", "revenue"}),
    "social": frozenset(),
}
WHY = {
    "open_rate": "only email has a way to see opens (the tracking pixel)",
    "click_rate": "its messages carry no tracked links",
}


def check_measurable(channel: str, ab_test: Mapping[str, Any]) -> None:
    """Raise a ValidationError naming ``ab_test`` or ``ab_test.metric`` when the channel cannot
    measure the test's metric."""
    metric = ab_test.get("metric", "click_rate")
    allowed = MEASURABLE.get(channel)
    if allowed is None or metric in allowed:
        return
    if not allowed:
        message = (
            f"a {channel} campaign cannot be A/B tested: all its variants would go out as one "
            "post, so there is nothing to compare"
        )
        raise ValidationError(message, {"ab_test": message})
    reason = WHY.get(metric, "the channel cannot measure it")
    message = (
        f"{metric} cannot be measured on {channel}: {reason}; "
        f"choose one of {', '.join(sorted(allowed))}"
    )
    raise ValidationError(f"ab_test.metric: {message}", {"ab_test.metric": message})
