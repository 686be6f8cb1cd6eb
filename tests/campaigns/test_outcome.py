"""A run's status tells the truth: all failed or all skipped is ``failed`` (with how many and
why), never ``sent`` with a green bar."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from herald.campaigns.models import Campaign, Run
from herald.campaigns.outcome import decide
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign


@pytest.mark.parametrize(
    ("counts", "status", "summary"),
    [
        ({"sent": 5}, "sent", None),
        ({"sent": 3, "failed": 2}, "sent", "3 sent, 2 failed"),
        ({"failed": 9}, "failed", "nothing was sent: 9 failed of 9"),
        ({"skipped": 4}, "failed", "nothing was sent: 4 skipped of 4"),
        ({"failed": 2, "skipped": 1}, "failed", "nothing was sent: 2 failed, 1 skipped of 3"),
        # an uncertain row may have gone out: that run is not called a failure
        ({"failed": 2, "uncertain": 1}, "sent", "0 sent, 2 failed"),
        ({}, "sent", None),
    ],
)
def test_the_outcome_follows_the_ledger(counts, status, summary) -> None:
    outcome = decide(counts)
    assert (outcome.status, outcome.summary) == (status, summary)


def test_a_cancelled_campaign_closes_its_run_cancelled_whatever_the_counts() -> None:
    assert decide({"failed": 3, "cancelled": 7}, cancelled=True).status == "cancelled"


def _contacts(client, auth, n: int, consent: bool = True) -> None:
    for i in range(n):
        answer = client.post(
            "/api/v1/contacts",
            json={
                "external_id": f"m{i}",
                "email": f"member{i}@example.com",
                "consent": {"email": consent},
            },
            headers=auth,
        )
        assert answer.status_code == 201, answer.json


def test_a_run_whose_every_delivery_failed_is_failed(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    # chunks of one: a chunk failing for all of two or more members would pause the campaign
    # instead (tests/campaigns/test_autopause.py); here every member fails on its own
    settings = make_settings(
        tmp_path, database_url, smtp_port=str(port), batch_size="4", flush_every="1"
    )
    _contacts(client, auth, 9)
    for i in range(9):
        recorder.refuse[f"member{i}@example.com"] = "550 5.1.1 no such mailbox"
    campaign_id = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)

    assert recorder.messages == []
    answer = client.get(f"/api/v1/campaigns/{campaign_id}", headers=auth).json
    assert answer["status"] == "failed"
    with db.session() as session:
        run = session.scalar(select(Run).where(Run.campaign_id == campaign_id))
        assert run is not None
        assert run.status == "failed"
        assert run.error == "nothing was sent: 9 failed of 9"


def test_a_run_whose_every_member_was_skipped_is_failed(
    client, auth, db, tmp_path, database_url, smtp_server
):
    _, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    _contacts(client, auth, 3, consent=False)
    campaign_id = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    with db.session() as session:
        assert session.get(Campaign, campaign_id).status == "failed"
        run = session.scalar(select(Run).where(Run.campaign_id == campaign_id))
        assert run.error == "nothing was sent: 3 skipped of 3"


def test_a_run_with_some_failures_is_sent_and_says_how_many(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    _contacts(client, auth, 4)
    recorder.refuse["member1@example.com"] = "550 5.1.1 no such mailbox"
    campaign_id = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    with db.session() as session:
        assert session.get(Campaign, campaign_id).status == "sent"
        run = session.scalar(select(Run).where(Run.campaign_id == campaign_id))
        assert run.error == "3 sent, 1 failed"
