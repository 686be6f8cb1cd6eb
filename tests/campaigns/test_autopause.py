"""A campaign whose first chunk fails for every member pauses itself, with the reason on the
campaign, instead of failing the whole audience row by row."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from herald.campaigns import service
from herald.campaigns.models import Campaign, Delivery
from herald.core.accounts import create_user
from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain
from tests.web.test_admin import PASSWORD, login

# saves (the trial members have 1,200 and 0 points) but fails for a member with 1,200 points
BREAKS_AT_1200 = "<p>{{ 100 / (contact.points - 1200) }}</p>"


@pytest.fixture
def viewer(db) -> str:
    with db.session() as session:
        create_user(session, "viewer@example.com", PASSWORD, "viewer")
    return "viewer@example.com"


def _members(db, points: list[int]) -> None:
    for i, value in enumerate(points):
        add_member(db, email=f"m{i}@example.com", points=value, consent={"email": True})


def test_a_first_chunk_failing_for_everyone_pauses_the_campaign_with_the_reason(
    db, tmp_path, database_url, smtp_server, client, auth, viewer
):
    recorder, port = smtp_server
    settings = make_settings(
        tmp_path, database_url, smtp_port=str(port), batch_size="100", flush_every="10"
    )
    _members(db, [1200] * 60)
    campaign_id = start_campaign(
        db,
        {"channel": "email", "variants": [{"name": "A", "subject": "Hi", "html": BREAKS_AT_1200}]},
    )
    drain(db, settings)

    assert recorder.messages == []
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.status == "paused"
        assert "the first 10 messages all failed" in campaign.pause_reason
        assert "division by zero" in campaign.pause_reason
        counts = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
    assert counts == {"failed": 10, "pending": 50}  # the rest wait for a person
    shown = client.get(f"/api/v1/campaigns/{campaign_id}", headers=auth).json
    assert shown["status"] == "paused" and "division by zero" in shown["pause_reason"]
    login(client, viewer)
    page = client.get(f"/admin/campaigns/{campaign_id}/")
    assert page.status_code == 200
    assert 'id="pause-reason"' in page.text and "the first 10 messages all failed" in page.text

    with db.session() as session:
        service.resume(session, session.get(Campaign, campaign_id))
    with db.session() as session:
        assert session.get(Campaign, campaign_id).pause_reason is None


def test_a_first_chunk_with_some_successes_goes_on(db, tmp_path, database_url, smtp_server):
    recorder, port = smtp_server
    settings = make_settings(
        tmp_path, database_url, smtp_port=str(port), batch_size="100", flush_every="10"
    )
    _members(db, [1200] * 9 + [5] + [1200] * 10)
    campaign_id = start_campaign(
        db,
        {"channel": "email", "variants": [{"name": "A", "subject": "Hi", "html": BREAKS_AT_1200}]},
    )
    drain(db, settings)
    assert len(recorder.messages) == 1
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.status == "sent" and campaign.pause_reason is None
