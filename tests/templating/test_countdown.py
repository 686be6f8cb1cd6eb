"""The ``countdown`` filter and the ``promotion`` and ``now`` that templates see: in words, in the
member's zone, through a real send over SMTP, and known to the save-time checks."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from herald.campaigns.promotions import Promotion
from herald.core import clock
from herald.templating import checks
from herald.templating import render as templates
from herald.templating.countdown import countdown, words
from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain

SIZES = {"day": 86_400, "hour": 3_600, "minute": 60}


def test_it_says_how_long_is_left_in_the_two_largest_units():
    now = datetime(2026, 11, 9, 19, 30, tzinfo=UTC)
    assert countdown(now + timedelta(days=2, hours=4, minutes=10), now) == "2 days 4 hours"
    assert countdown(now + timedelta(hours=1, minutes=1), now) == "1 hour 1 minute"
    assert countdown(now + timedelta(days=1, minutes=5), now) == "1 day"
    assert countdown(now + timedelta(seconds=30), now) == "less than a minute"
    assert countdown(now, now) == "ended"
    assert countdown(now - timedelta(days=1), now) == "ended"
    assert countdown("2026-11-12T00:00:00+08:00", "2026-11-11T00:00:00+08:00") == "1 day"
    assert countdown(None, now) == "" and countdown("soon", now) == ""


def _value(text: str) -> tuple[int, int]:
    """What the words say in seconds, and the size of the smallest unit they name."""
    pairs = re.findall(r"(\d+) (day|hour|minute)s?", text)
    return sum(int(n) * SIZES[u] for n, u in pairs), min(SIZES[u] for _, u in pairs)


@given(st.integers(min_value=-(10**6), max_value=10**8))
def test_it_never_promises_more_time_than_is_left(seconds):
    said = words(seconds)
    if seconds <= 0:
        assert said == "ended"
    elif seconds < 60:
        assert said == "less than a minute"
    else:
        value, unit = _value(said)
        assert value <= seconds < value + unit  # cut down, by less than its smallest unit
        assert len(said.split()) <= 4


def test_a_template_counts_down_from_its_own_now_in_the_members_zone():
    template = templates.compile_template(
        "body",
        "{{ promotion.name }} ends in {{ promotion.ends_at | countdown }}, "
        "at {{ promotion.ends_at.strftime('%H:%M') }}; it is {{ now.strftime('%H:%M') }}",
    )
    now = datetime(2026, 11, 10, 12, 0, tzinfo=UTC).astimezone(checks.ZoneInfo("Asia/Shanghai"))
    ends = datetime(2026, 11, 11, 16, 0, tzinfo=UTC).astimezone(now.tzinfo)
    text = templates.render(
        template, {"contact": {}, "promotion": {"name": "Double 11", "ends_at": ends}, "now": now}
    )
    assert text == "Double 11 ends in 1 day 4 hours, at 00:00; it is 20:00"
    # without a promotion the countdown renders empty rather than failing the send
    empty = templates.compile_template("body", "[{{ promotion.ends_at | countdown }}]")
    assert templates.render(empty, {"contact": {}, "promotion": {}, "now": now}) == "[]"


def test_the_save_checks_know_promotion_and_now():
    ok = checks.check_template(
        "html", "<p>{{ promotion.name }}: {{ promotion.ends_at | countdown(now) }}</p>", html=True
    )
    assert ok is None
    unknown = checks.check_template("text", "{{ promo.name }}", html=False)
    assert unknown is not None and "promotion, now" in unknown


def test_a_sent_email_shows_the_promotion_and_the_time_in_the_members_zone(
    db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    start = clock.now().replace(microsecond=0)
    with db.session() as session:
        promotion = Promotion(
            name="Flash sale",
            kind="flash_sale",
            starts_at=start - timedelta(hours=1),
            ends_at=start + timedelta(days=1, hours=3, minutes=30),
        )
        session.add(promotion)
        session.commit()
        promotion_id = promotion.id
    add_member(db, email="mei@example.com", timezone="Asia/Shanghai", consent={"email": True})
    add_member(db, email="ann@example.com", consent={"email": True})  # no zone: the shop's (UTC)
    start_campaign(
        db,
        {
            "channel": "email",
            "promotion_id": promotion_id,
            "variants": [
                {
                    "subject": "{{ promotion.name }}: {{ promotion.ends_at | countdown }} left",
                    "text": "Ends {{ promotion.ends_at.strftime('%H:%M %z') }}, "
                    "sent {{ now.strftime('%z') }}",
                }
            ],
        },
    )
    drain(db, settings)
    got = {}
    for received in recorder.messages:
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        text = message.get_body(("plain",)).get_content()
        got[received.recipients[0]] = (message["Subject"], text.strip())
    ends = start + timedelta(days=1, hours=3, minutes=30)
    china = ends.astimezone(checks.ZoneInfo("Asia/Shanghai"))
    assert got["mei@example.com"][0] == "Flash sale: 1 day 3 hours left"
    assert got["mei@example.com"][1].startswith(f"Ends {china:%H:%M} +0800, sent +0800")
    assert got["ann@example.com"][1].startswith(f"Ends {ends:%H:%M} +0000, sent +0000")
