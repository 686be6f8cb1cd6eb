"""SMS webhooks: signed status callbacks become sms.delivered / sms.failed events; inbound STOP
keywords revoke SMS consent at once; forged requests change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from herald.audiences.models import Contact, Event, Suppression
from herald.campaigns.models import Campaign, Delivery, Run
from herald.channels import sms_feedback
from herald.core import clock
from herald.web.app import create_app
from tests.channels.members import add_member
from tests.conftest import make_settings

TOKEN = "auth-token-xyz"
STATUS_URL = "http://herald.test/webhooks/sms/status"
INBOUND_URL = "http://herald.test/webhooks/sms/inbound"


@pytest.fixture
def sms_client(tmp_path, database_url, db):
    settings = make_settings(tmp_path, database_url, sms_auth_token=TOKEN)
    app = create_app(settings, db)
    app.config.update(TESTING=True)
    return app.test_client()


def signed_post(client, url: str, params: dict[str, str], token: str = TOKEN):
    signature = sms_feedback.signature(token, url, params)
    path = url.removeprefix("http://herald.test")
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def sent_delivery(db, sid: str) -> tuple[int, int]:
    contact = add_member(db, external_id="s1", phone="+8613800138000", consent={"sms": True})
    with db.session() as session:
        campaign = Campaign(name="Flash", channel="sms", status="sent", schedule={})
        session.add(campaign)
        session.flush()
        run = Run(campaign_id=campaign.id, due_at=clock.now(), status="sent")
        session.add(run)
        session.flush()
        delivery = Delivery(run_id=run.id, contact_id=contact, status="sent", provider_id=sid)
        session.add(delivery)
        session.flush()
        return delivery.id, contact


def events(db) -> list[Event]:
    with db.session() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def test_the_signature_follows_twilios_scheme():
    # the worked example of Twilio's documentation
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675310",
        "Digits": "1234",
        "From": "+14158675310",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sms_feedback.signature("12345", url, params) == "GvWf1cFY/Q7PnoempGyD5oXAezc="


def test_a_delivered_callback_records_one_event_on_the_delivery(db, sms_client):
    delivery_id, contact = sent_delivery(db, "SM0001")
    params = {"MessageSid": "SM0001", "MessageStatus": "delivered", "To": "+8613800138000"}
    assert signed_post(sms_client, STATUS_URL, params).status_code == 204
    assert signed_post(sms_client, STATUS_URL, params).status_code == 204  # a repeat
    (event,) = events(db)
    assert (event.type, event.delivery_id, event.contact_id) == (
        "sms.delivered",
        delivery_id,
        contact,
    )
    assert event.campaign_id is not None and event.run_id is not None


def test_a_failed_callback_keeps_the_error_code(db, sms_client):
    sent_delivery(db, "SM0002")
    params = {"MessageSid": "SM0002", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert signed_post(sms_client, STATUS_URL, params).status_code == 204
    (event,) = events(db)
    assert event.type == "sms.failed"
    assert event.data == {"status": "undelivered", "sid": "SM0002", "error_code": "30003"}


def test_a_forged_callback_is_refused_and_changes_nothing(db, sms_client):
    sent_delivery(db, "SM0003")
    params = {"MessageSid": "SM0003", "MessageStatus": "delivered"}
    assert signed_post(sms_client, STATUS_URL, params, token="wrong").status_code == 403
    assert sms_client.post("/webhooks/sms/status", data=params).status_code == 403
    assert events(db) == []


@pytest.mark.parametrize(
    "body", ["STOP", " stop. ", "Stop all", "STOPALL", "退订", "取消", "cancel"]
)
def test_a_stop_keyword_revokes_sms_consent_at_once(db, sms_client, body):
    contact = add_member(db, external_id="s1", phone="+8613800138000", consent={"sms": True})
    answer = signed_post(
        sms_client, INBOUND_URL, {"From": "+8613800138000", "Body": body, "To": "+1500"}
    )
    assert answer.status_code == 200 and answer.mimetype == "text/xml"
    assert b"<Response><Message>" in answer.data
    with db.session() as session:
        assert not session.get(Contact, contact).consent_for("sms")
        (suppression,) = session.scalars(select(Suppression))
        assert (suppression.channel, suppression.address) == ("sms", "+8613800138000")


def test_other_texts_change_nothing(db, sms_client):
    contact = add_member(db, external_id="s1", phone="+8613800138000", consent={"sms": True})
    answer = signed_post(
        sms_client, INBOUND_URL, {"From": "+8613800138000", "Body": "stop sending me socks?"}
    )
    assert answer.status_code == 200 and b"<Message>" not in answer.data
    with db.session() as session:
        assert session.get(Contact, contact).consent_for("sms")


def test_a_forged_stop_is_refused(db, sms_client):
    contact = add_member(db, external_id="s1", phone="+8613800138000", consent={"sms": True})
    params = {"From": "+8613800138000", "Body": "STOP"}
    assert signed_post(sms_client, INBOUND_URL, params, token="nope").status_code == 403
    with db.session() as session:
        assert session.get(Contact, contact).consent_for("sms")


def test_a_member_who_texted_stop_gets_no_more_campaigns(db, sms_client, tmp_path, database_url):
    from tests.channels.fake_provider import Answer, fake_provider
    from tests.channels.members import start_campaign
    from tests.helpers import drain

    add_member(db, external_id="s1", phone="+8613800138000", consent={"sms": True})
    signed_post(sms_client, INBOUND_URL, {"From": "+8613800138000", "Body": "退订"})
    with fake_provider(Answer(201, {"sid": "SM9"})) as twilio:
        settings = make_settings(
            tmp_path,
            database_url,
            sms_api_url=twilio.url,
            sms_account_sid="AC1",
            sms_auth_token=TOKEN,
            sms_from="+15005550006",
            sms_quiet_hours="off",
        )
        start_campaign(db, {"channel": "sms", "variants": [{"name": "A", "body": "Sale!"}]})
        drain(db, settings)
    assert twilio.seen == []
    with db.session() as session:
        (delivery,) = session.scalars(select(Delivery))
    assert (delivery.status, delivery.reason) == ("skipped", "suppressed")
