"""The admin shows what an SMS costs: its encoding and segments, for the template and for it
rendered with a real member."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from herald.audiences import contacts
from herald.campaigns import service
from tests.web.test_admin import login, users  # noqa: F401


def _sms_campaign(db, body: str) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        contacts.upsert(
            session,
            {
                "external_id": "m1",
                "phone": "+8613800138000",
                "first_name": "小明",
                "consent": {"sms": True},
            },
            source="test",
        )
        campaign = service.create_campaign(
            session,
            {"name": "Flash sale", "channel": "sms", "variants": [{"name": "A", "body": body}]},
            ZoneInfo("UTC"),
        )
        return campaign.id


def test_an_sms_campaign_shows_its_segments(client, db, users):  # noqa: F811
    campaign_id = _sms_campaign(db, "Hi {{ contact.first_name }}, 11.11 sale: 30% off today only")
    login(client, users["viewer"])
    page = client.get(f"/admin/campaigns/{campaign_id}/").text
    assert "Template: GSM-7, 1 segment per message." in page
    # the member's Chinese name turns the rendered text into UCS-2
    assert "Hi 小明, 11.11 sale" in page
    assert 'UCS-2, <strong id="sms-sample-segments">1</strong> segment.' in page
