"""Social posts against a real local HTTP server speaking the Mastodon shape: one post per run,
the same Idempotency-Key on every retry, engagement read back into the campaign's stats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from herald.campaigns import dispatch, metrics, posts, service
from herald.campaigns.models import Batch, Delivery, Run
from herald.campaigns.posts import RunPost
from herald.channels import http
from herald.channels.registry import close_all
from herald.channels.social import SocialChannel
from herald.core import clock
from herald.core.errors import ValidationError
from tests.channels.fake_provider import Answer, fake_provider
from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain

POSTED = Answer(200, {"id": "109876", "url": "https://social.example/@shop/109876"})


@pytest.fixture(autouse=True)
def _fresh_channels():
    yield
    close_all()


def social_settings(tmp_path, database_url, url: str):
    return make_settings(
        tmp_path, database_url, social_api_url=url, social_token="tok-123", sms_quiet_hours="off"
    )


def start_post(db, status: str = "{{ campaign.name }} starts now: https://shop.example/d11") -> int:
    return start_campaign(
        db,
        {
            "name": "Double 11",
            "channel": "social",
            "variants": [{"name": "A", "status": status, "visibility": "unlisted"}],
        },
    )


def the_post(db) -> RunPost:
    with db.session() as session:
        return session.scalars(select(RunPost)).one()


def make_due(db) -> None:
    with db.session() as session:
        session.execute(update(RunPost).values(not_before=None))
        session.execute(update(Batch).values(lease_until=None, enqueued_at=None))


def stats(db, campaign_id: int) -> dict:
    with db.session() as session:
        return metrics.campaign_stats(session, service.get_campaign(session, campaign_id))


def test_a_run_posts_once_not_once_per_member(db, tmp_path, database_url):
    for i in range(3):
        add_member(db, external_id=f"m{i}", email=f"m{i}@example.com")
    with fake_provider(POSTED) as server:
        settings = social_settings(tmp_path, database_url, server.url)
        campaign_id = start_post(db)
        drain(db, settings)
        drain(db, settings)

    (request,) = server.seen
    assert (request.method, request.path) == ("POST", "/api/v1/statuses")
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.json() == {
        "status": "Double 11 starts now: https://shop.example/d11",
        "visibility": "unlisted",
    }
    with db.session() as session:
        run_id = session.scalar(select(Run.id))
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert request.headers["Idempotency-Key"] == SocialChannel(settings).idempotency_key(run_id)
    post = the_post(db)
    assert (post.status, post.provider_id, post.url) == (
        "sent",
        "109876",
        "https://social.example/@shop/109876",
    )
    result = stats(db, campaign_id)
    assert result["status"] == "sent"
    assert result["social"]["posts"] == 1


def test_retries_carry_the_same_idempotency_key(db, tmp_path, database_url):
    with fake_provider(Answer(502, b"bad gateway"), POSTED) as server:
        settings = social_settings(tmp_path, database_url, server.url)
        start_post(db)
        drain(db, settings)
        post = the_post(db)
        assert (post.status, post.reason) == (
            "pending",
            "retrying: the social server 502: bad gateway",
        )
        assert post.not_before <= clock.now() + timedelta(seconds=2)
        clock.shift(timedelta(seconds=3))
        drain(db, settings)
    first, second = server.seen
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert (the_post(db).status, the_post(db).attempts) == ("sent", 2)


def test_a_429_waits_for_retry_after(db, tmp_path, database_url):
    busy = Answer(429, {"error": "Too many requests"}, {"Retry-After": "90"})
    with fake_provider(busy, POSTED) as server:
        settings = social_settings(tmp_path, database_url, server.url)
        start_post(db)
        drain(db, settings)
        assert the_post(db).not_before >= clock.now() + timedelta(seconds=85)
        drain(db, settings)
        assert len(server.seen) == 1
        clock.shift(timedelta(seconds=95))
        drain(db, settings)
    assert the_post(db).status == "sent" and len(server.seen) == 2


def test_a_server_that_hangs_then_answers_garbage_gives_up_with_a_reason(
    db, tmp_path, database_url, monkeypatch
):
    monkeypatch.setattr(http, "READ_TIMEOUT", 0.3)
    hang = Answer(200, {"id": "late"}, delay=1.5)
    with fake_provider(hang, Answer(200, b"<html>oops</html>")) as server:
        settings = social_settings(tmp_path, database_url, server.url)
        start_post(db)
        drain(db, settings)
        assert the_post(db).reason == "retrying: the social server did not answer in time"
        for _ in range(5):
            make_due(db)
            drain(db, settings)
    post = the_post(db)
    assert post.status == "failed"
    assert post.reason == (
        "gave up after 5 attempts: the social server answered 200 with an unreadable body"
    )
    assert len(server.seen) == 5


def test_a_4xx_is_a_permanent_failure_with_the_servers_message(db, tmp_path, database_url):
    refused = Answer(422, {"error": "Validation failed: Text character limit of 500 exceeded"})
    with fake_provider(refused) as server:
        settings = social_settings(tmp_path, database_url, server.url)
        start_post(db)
        drain(db, settings)
    post = the_post(db)
    assert (post.status, post.reason) == (
        "failed",
        "the social server 422: Validation failed: Text character limit of 500 exceeded",
    )
    assert len(server.seen) == 1
    with db.session() as session:
        assert session.scalar(select(Run.status)) == "sent"  # the run is over


def test_a_duplicate_batch_task_never_posts_twice(db, tmp_path, database_url):
    with fake_provider(POSTED) as server:
        settings = social_settings(tmp_path, database_url, server.url)
        start_post(db)
        drain(db, settings)
        with db.session() as session:
            batch_id = session.scalar(select(Batch.id))
            # a late duplicate of the task, even with the batch handed out again
            session.execute(update(Batch).values(status="queued", lease_until=None))
        dispatch.send_batch(db, settings, batch_id)
        dispatch.send_batch(db, settings, batch_id)
    assert len(server.seen) == 1


def test_a_post_left_in_flight_by_a_dead_worker_is_posted_again_with_the_same_key(
    db, tmp_path, database_url
):
    with fake_provider(POSTED) as server:
        settings = social_settings(tmp_path, database_url, server.url)
        start_post(db)
        with db.session() as session:
            dispatch.start_due_runs(session, settings)
        with db.session() as session:
            session.execute(update(RunPost).values(status="posting", attempts=1))
            session.execute(
                update(Batch).values(status="running", lease_until=clock.now(), attempts=1)
            )
        clock.shift(timedelta(seconds=1))
        drain(db, settings)
    (request,) = server.seen
    with db.session() as session:
        run_id = session.scalar(select(Run.id))
    assert request.headers["Idempotency-Key"] == SocialChannel(settings).idempotency_key(run_id)
    assert the_post(db).status == "sent"


def test_engagement_is_read_back_into_the_campaign_stats(db, tmp_path, database_url):
    counts = Answer(
        200, {"id": "109876", "favourites_count": 12, "reblogs_count": 3, "replies_count": 2}
    )
    with fake_provider(POSTED, counts) as server:
        settings = social_settings(tmp_path, database_url, server.url)
        campaign_id = start_post(db)
        drain(db, settings)
        assert posts.refresh_engagement(db, settings) == 1
        assert posts.refresh_engagement(db, settings) == 0  # fetched just now
    read = server.requests("GET")[0]
    assert read.path == "/api/v1/statuses/109876"
    assert read.headers["Authorization"] == "Bearer tok-123"
    social = stats(db, campaign_id)["social"]
    assert (social["favourites"], social["reblogs"], social["replies"]) == (12, 3, 2)
    assert social["urls"] == ["https://social.example/@shop/109876"]


def test_a_social_campaign_checks_its_fields_at_save_time(db):
    with pytest.raises(ValidationError) as problem:
        start_campaign(
            db,
            {"channel": "social", "variants": [{"status": "{{ oops", "visibility": "loud"}]},
        )
    assert set(problem.value.fields) >= {"variants[0].status", "variants[0].visibility"}


def test_the_scheduled_task_refreshes_engagement(db, tmp_path, database_url):
    from herald.workers import context, tasks

    counts = Answer(200, {"favourites_count": 4, "reblogs_count": 1, "replies_count": 0})
    with fake_provider(POSTED, counts) as server:
        settings = social_settings(tmp_path, database_url, server.url)
        campaign_id = start_post(db)
        drain(db, settings)
        context.reset(settings)
        try:
            assert tasks.refresh_social_engagement.run() == {"posts": 1, "coupons": 0}
        finally:
            context.reset()
    assert stats(db, campaign_id)["social"]["favourites"] == 4
