"""An A/B test whose metric the channel cannot measure is refused with a 422 naming the field
(contract section 13): opens only on email, no A/B test on a social post."""

from __future__ import annotations

import pytest

AB = {"test_fraction": 0.2, "decide_after_hours": 1, "confidence": 0.95, "fallback": "A"}
VARIANTS = {
    "email": [
        {"name": "A", "subject": "a", "html": "<p>a</p>", "text": "a"},
        {"name": "B", "subject": "b", "html": "<p>b</p>", "text": "b"},
    ],
    "sms": [{"name": "A", "body": "a"}, {"name": "B", "body": "b"}],
    "social": [{"name": "A", "status": "a"}, {"name": "B", "status": "b"}],
}


def _create(client, auth, channel: str, metric: str):  # type: ignore[no-untyped-def]
    body = {
        "name": f"{channel} {metric}",
        "channel": channel,
        "variants": VARIANTS[channel],
        "ab_test": {**AB, "metric": metric},
    }
    return client.post("/api/v1/campaigns", json=body, headers=auth)


@pytest.mark.parametrize(
    ("channel", "metric", "field"),
    [
        ("sms", "open_rate", "ab_test.metric"),
        ("social", "click_rate", "ab_test"),
        ("social", "open_rate", "ab_test"),
    ],
)
def test_an_ab_test_the_channel_cannot_measure_is_a_422_naming_the_field(
    client, auth, channel, metric, field
):
    answer = _create(client, auth, channel, metric)
    assert answer.status_code == 422, answer.json
    assert set(answer.json["error"]["fields"]) == {field}
    assert channel in answer.json["error"]["message"]


@pytest.mark.parametrize(
    ("channel", "metric"),
    [
        ("email", "open_rate"),
        ("email", "click_rate"),
        ("sms", "click_rate"),
        ("sms", "conversion_rate"),
    ],
)
def test_measurable_ab_tests_are_accepted(client, auth, channel, metric):
    answer = _create(client, auth, channel, metric)
    assert answer.status_code == 201, answer.json
    assert answer.json["ab_test"]["metric"] == metric
