"""SMS against a real local HTTP server speaking the Twilio shape: the exact fields sent, and every
failure path ending in a terminal ledger row with a readable reason."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from herald.campaigns import metrics, service
from herald.campaigns.models import Batch, Delivery
from herald.channels import http
from herald.channels.registry import close_all
from herald.core import clock
from herald.core.errors import ValidationError
from tests.channels.fake_provider import Answer, fake_provider
from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain

SID = "AC0123456789abcdef"
PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"


@pytest.fixture(autouse=True)
def _fresh_channels():
    yield
    close_all()


def sms_settings(tmp_path, database_url, url: str, **extra: str):
    return make_settings(
        tmp_path,
        database_url,
        sms_api_url=url,
        sms_account_sid=SID,
        sms_auth_token="secret-token",
        sms_from="+15005550006",
        sms_quiet_hours="off",
        **extra,
    )


def add_members(db, phones: list[str | None], consent: bool = True) -> None:
    for i, phone in enumerate(phones):
        body: dict[str, Any] = {"external_id": f"s{i}", "first_name": f"Ann{i}"}
        if phone:
            body["phone"] = phone
        body["consent"] = {"sms": consent}
        add_member(db, **body)


def start_sms(db, body: str = "Hi {{ contact.first_name }}, 20% off today") -> int:
    return start_campaign(
        db, {"name": "Flash sale", "channel": "sms", "variants": [{"name": "A", "body": body}]}
    )


def twilio_ok(seen) -> Answer:
    return Answer(201, {"sid": f"SM{len(seen.body)}x{seen.form()['To'][-4:]}", "status": "queued"})


def ledger(db) -> list[Delivery]:
    with db.session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.contact_id)))


def make_due(db) -> None:
    """Pull every retry forward to now, as if its back-off had passed."""
    with db.session() as session:
        session.execute(update(Delivery).values(not_before=None))
        session.execute(update(Batch).values(lease_until=None, enqueued_at=None))


def test_it_posts_the_twilio_form_with_basic_auth_and_records_the_sid(db, tmp_path, database_url):
    with fake_provider(twilio_ok) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        add_members(db, ["+8613800138000", "13900139000"])
        start_sms(db)
        drain(db, settings)

    assert len(provider.seen) == 2
    first = provider.seen[0]
    assert first.method == "POST" and first.path == PATH
    expected = base64.b64encode(f"{SID}:secret-token".encode()).decode()
    assert first.headers["Authorization"] == f"Basic {expected}"
    assert first.form() == {
        "To": "+8613800138000",
        "From": "+15005550006",
        "Body": "Hi Ann0, 20% off today",
        "StatusCallback": "http://herald.test/webhooks/sms/status",
    }
    assert provider.seen[1].form()["To"] == "+8613900139000"  # E.164 in the default region
    rows = ledger(db)
    assert [r.status for r in rows] == ["sent", "sent"]
    assert rows[0].provider_id == f"SM{len(first.body)}x8000"


def test_members_without_phone_or_consent_are_skipped_with_a_reason(db, tmp_path, database_url):
    with fake_provider(twilio_ok) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        add_members(db, [None])
        add_member(db, external_id="x", phone="+8613700137000", consent={"sms": False})
        start_sms(db)
        drain(db, settings)
    assert provider.seen == []
    assert sorted((r.status, r.reason) for r in ledger(db)) == [
        ("skipped", "no consent"),
        ("skipped", "no phone"),
    ]


def test_a_429_is_retried_after_the_providers_retry_after(db, tmp_path, database_url):
    busy = Answer(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "120"})
    with fake_provider(busy, twilio_ok) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        add_members(db, ["+8613800138000"])
        start_sms(db)
        drain(db, settings)
        (row,) = ledger(db)
        assert row.status == "pending"
        assert row.reason == "retrying: the SMS provider 429: Too Many Requests"
        assert row.not_before >= clock.now() + timedelta(seconds=115)
        drain(db, settings)
        assert len(provider.seen) == 1  # not before Retry-After
        clock.shift(timedelta(seconds=125))
        drain(db, settings)
    (row,) = ledger(db)
    assert (row.status, row.attempts, len(provider.seen)) == ("sent", 2, 2)


def test_a_5xx_then_success_sends_once(db, tmp_path, database_url):
    with fake_provider(Answer(503, b"upstream down"), twilio_ok) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        add_members(db, ["+8613800138000"])
        start_sms(db)
        drain(db, settings)
        assert ledger(db)[0].reason == "retrying: the SMS provider 503: upstream down"
        # the first back-off is at most 2 seconds
        assert ledger(db)[0].not_before <= clock.now() + timedelta(seconds=2)
        clock.shift(timedelta(seconds=3))
        drain(db, settings)
    assert [(r.status, r.attempts) for r in ledger(db)] == [("sent", 2)]
    assert len(provider.seen) == 2


def test_a_provider_that_hangs_is_a_transient_failure_then_retried(
    db, tmp_path, database_url, monkeypatch
):
    monkeypatch.setattr(http, "READ_TIMEOUT", 0.3)
    with fake_provider(Answer(201, {"sid": "SMlate"}, delay=1.5), twilio_ok) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        add_members(db, ["+8613800138000"])
        start_sms(db)
        drain(db, settings)
        assert ledger(db)[0].reason == "retrying: the SMS provider did not answer in time"
        make_due(db)
        drain(db, settings)
    assert ledger(db)[0].status == "sent"


def test_garbage_answers_give_up_after_five_attempts_with_a_readable_reason(
    db, tmp_path, database_url
):
    with fake_provider(Answer(201, b"<html>proxy error</html>")) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        add_members(db, ["+8613800138000"])
        start_sms(db)
        for _ in range(6):
            drain(db, settings)
            make_due(db)
    (row,) = ledger(db)
    assert row.status == "failed"
    assert row.reason == (
        "gave up after 5 attempts: the SMS provider answered 201 with an unreadable body"
    )
    assert len(provider.seen) == 5


def test_a_4xx_is_a_permanent_failure_with_the_providers_message(db, tmp_path, database_url):
    refused = Answer(400, {"code": 21211, "message": "The 'To' number is not valid."})
    with fake_provider(refused) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        add_members(db, ["+8613800138000"])
        campaign_id = start_sms(db)
        drain(db, settings)
    (row,) = ledger(db)
    assert (row.status, row.reason) == (
        "failed",
        "the SMS provider 400: The 'To' number is not valid.",
    )
    assert len(provider.seen) == 1
    with db.session() as session:
        stats = metrics.campaign_stats(session, service.get_campaign(session, campaign_id))
    assert stats["total"]["failed"] == 1


def test_a_hand_off_left_in_flight_by_a_dead_worker_is_never_resent(db, tmp_path, database_url):
    with fake_provider(twilio_ok) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        add_members(db, ["+8613800138000"])
        start_sms(db)
        from herald.campaigns import dispatch

        with db.session() as session:
            dispatch.start_due_runs(session, settings)
        with db.session() as session:
            # a worker claimed the row and died before recording what the provider said
            session.execute(update(Delivery).values(status="sending", attempts=1))
            session.execute(
                update(Batch).values(status="running", lease_until=clock.now(), attempts=1)
            )
        clock.shift(timedelta(seconds=1))
        drain(db, settings)
    (row,) = ledger(db)
    assert row.status == "uncertain" and row.uncertain
    assert "not resent" in (row.reason or "")
    assert provider.seen == []


def test_quiet_hours_defer_rather_than_skip(db, tmp_path, database_url):
    now = clock.now()
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=1)).strftime("%H:%M")
    with fake_provider(twilio_ok) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        settings = make_settings(
            tmp_path,
            database_url,
            sms_api_url=provider.url,
            sms_account_sid=SID,
            sms_auth_token="t",
            sms_from="+15005550006",
            sms_quiet_hours=f"{start}-{end}",
        )
        add_members(db, ["+8613800138000"])
        start_sms(db)
        drain(db, settings)
    (row,) = ledger(db)
    assert (row.status, row.reason) == ("pending", "quiet hours")
    assert provider.seen == []


def test_a_body_that_does_not_compile_is_refused_at_save_time(db):
    with pytest.raises(ValidationError) as problem:
        start_sms(db, "Hi {{ contact.first_name ")
    assert "variants[0].body" in str(problem.value)
