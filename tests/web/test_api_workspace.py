"""Contract section 12 at the API: list endpoints with cursor paging and filters, a campaign's
preview for a member, test sends through a real SMTP server and a real HTTP SMS provider that
leave the ledger untouched, the calendar, unschedule, and the save-time checks the admin
shares (a past once time, input bounds)."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from herald.audiences import contacts
from herald.campaigns.models import Delivery, Run
from herald.core import clock
from herald.web.app import create_app
from tests.channels.fake_provider import Answer, fake_provider
from tests.conftest import make_settings
from tests.helpers import email_campaign

SID = "AC0123456789abcdef"


def _member(db, **fields) -> int:
    with db.session() as session:
        contact, _ = contacts.upsert(session, fields, source="test")
        session.flush()
        return contact.id


def _create(client, auth, body) -> dict:
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert answer.status_code == 201, answer.json
    return answer.json


def test_campaign_list_pages_newest_first_with_filters(client, auth):
    ids = [_create(client, auth, email_campaign(name=f"c{i}"))["id"] for i in range(5)]
    sms = _create(
        client,
        auth,
        {"name": "text", "channel": "sms", "variants": [{"name": "A", "body": "Hi"}]},
    )["id"]
    client.post(f"/api/v1/campaigns/{ids[0]}/cancel", headers=auth)

    first = client.get("/api/v1/campaigns?limit=2", headers=auth).json
    assert [c["id"] for c in first["items"]] == [sms, ids[4]]
    second = client.get(f"/api/v1/campaigns?limit=2&cursor={first['next_cursor']}", headers=auth)
    assert [c["id"] for c in second.json["items"]] == [ids[3], ids[2]]
    third = client.get(
        f"/api/v1/campaigns?limit=2&cursor={second.json['next_cursor']}", headers=auth
    ).json
    assert [c["id"] for c in third["items"]] == [ids[1], ids[0]]
    assert third["next_cursor"] is None

    by_channel = client.get("/api/v1/campaigns?channel=sms", headers=auth).json["items"]
    assert [c["id"] for c in by_channel] == [sms]
    cancelled = client.get("/api/v1/campaigns?status=cancelled", headers=auth).json["items"]
    assert [c["id"] for c in cancelled] == [ids[0]]
    for query, field in (
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=forged", "cursor"),
        ("status=finished", "status"),
        ("channel=fax", "channel"),
    ):
        answer = client.get(f"/api/v1/campaigns?{query}", headers=auth)
        assert answer.status_code == 422 and field in answer.json["error"]["fields"], query


def test_contact_segment_and_trigger_lists(client, auth, db):
    for i, (email_address, name) in enumerate(
        [("ann@shop.com", "Ann"), ("bob@shop.com", "Bob"), ("cat@other.org", "Cat")]
    ):
        _member(db, external_id=f"x{i}", email=email_address, first_name=name)
    listed = client.get("/api/v1/contacts", headers=auth).json
    assert [c["email"] for c in listed["items"]] == [
        "cat@other.org",
        "bob@shop.com",
        "ann@shop.com",
    ]
    found = client.get("/api/v1/contacts?q=SHOP.com", headers=auth).json["items"]
    assert sorted(c["first_name"] for c in found) == ["Ann", "Bob"]
    assert [
        c["external_id"] for c in client.get("/api/v1/contacts?q=x2", headers=auth).json["items"]
    ] == ["x2"]
    assert client.get("/api/v1/contacts?q=100%25", headers=auth).json["items"] == []

    for name in ("gold", "silver"):
        client.post(
            "/api/v1/segments",
            json={"name": name, "rules": {"field": "tier", "op": "eq", "value": name}},
            headers=auth,
        )
    segments = client.get("/api/v1/segments?limit=1", headers=auth).json
    assert [s["name"] for s in segments["items"]] == ["silver"] and segments["next_cursor"]
    trigger = client.post(
        "/api/v1/triggers",
        json={
            "name": "welcome",
            "event": "customer.created",
            "channel": "email",
            "variants": [{"name": "A", "subject": "Welcome", "text": "Hi"}],
        },
        headers=auth,
    )
    assert trigger.status_code == 201, trigger.json
    triggers = client.get("/api/v1/triggers", headers=auth).json
    assert [t["name"] for t in triggers["items"]] == ["welcome"]


def test_preview_renders_for_a_member_without_tracking(client, auth, db):
    ann = _member(db, external_id="a", email="ann@shop.com", first_name="Ann", tier="gold")
    blank = _member(db, external_id="b", email="blank@shop.com")
    body = email_campaign(
        variants=[
            {"name": "A", "subject": "Hi {{ contact.first_name }}", "html": "<p>A</p>"},
            {
                "name": "B",
                "subject": "Hello {{ contact.first_name }}!",
                "html": "<p>Dear {{ contact.first_name }}</p><a href='https://shop.example/x'>Go</a>",
            },
        ],
        ab_test={"test_fraction": 0.2, "metric": "click_rate", "decide_after_hours": 4},
    )
    campaign = _create(client, auth, body)["id"]
    answer = client.get(f"/api/v1/campaigns/{campaign}/preview?contact_id={ann}", headers=auth)
    assert answer.status_code == 200 and answer.json["subject"] == "Hi Ann"
    b = client.get(
        f"/api/v1/campaigns/{campaign}/preview?contact_id={ann}&variant=B", headers=auth
    ).json
    assert b["subject"] == "Hello Ann!" and "<p>Dear Ann</p>" in b["html"]
    assert "https://shop.example/x" in b["html"]  # the real link, not a tracked redirect
    assert "/t/o/" not in b["html"] and "/t/c/" not in b["html"]
    assert "Dear Ann" in b["text"]
    empty = client.get(
        f"/api/v1/campaigns/{campaign}/preview?contact_id={blank}&variant=B", headers=auth
    ).json
    assert empty["subject"] == "Hello !"
    missing = client.get(f"/api/v1/campaigns/{campaign}/preview?variant=Z", headers=auth)
    assert missing.status_code == 422 and "variant" in missing.json["error"]["fields"]
    nobody = client.get(f"/api/v1/campaigns/{campaign}/preview?contact_id=999999", headers=auth)
    assert nobody.status_code == 404


def test_preview_by_channel_and_a_render_error_names_variant_field_and_line(client, auth, db):
    ann = _member(db, external_id="a", email="a@shop.com", first_name="安", tier="gold")
    sms = _create(
        client,
        auth,
        {
            "name": "text",
            "channel": "sms",
            "variants": [{"name": "A", "body": "你好 {{ contact.first_name }}, sale today"}],
        },
    )["id"]
    answer = client.get(f"/api/v1/campaigns/{sms}/preview?contact_id={ann}", headers=auth).json
    assert answer["body"] == "你好 安, sale today"
    assert answer["encoding"] == "ucs2" and answer["segments"] == 1
    post = _create(
        client,
        auth,
        {"name": "post", "channel": "social", "variants": [{"name": "A", "status": "Sale! 50%"}]},
    )["id"]
    answer = client.get(f"/api/v1/campaigns/{post}/preview", headers=auth).json
    assert answer == {**answer, "status": "Sale! 50%", "characters": 9}
    day = _create(
        client,
        auth,
        {
            "name": "member day",
            "channel": "member_day",
            "variants": [
                {
                    "name": "A",
                    "benefits": {
                        "gold": {"type": "coupon", "percent_off": 15, "valid_days": 2},
                        "silver": {"type": "points_multiplier", "multiplier": 2},
                    },
                    "notify": ["email"],
                    "subject": "Your day, {{ contact.first_name }}",
                    "text": "Enjoy",
                }
            ],
        },
    )["id"]
    answer = client.get(f"/api/v1/campaigns/{day}/preview?contact_id={ann}", headers=auth).json
    assert answer["benefit"] == {"type": "coupon", "percent_off": 15, "valid_days": 2}
    assert answer["notice"]["email"]["subject"] == "Your day, 安"
    broken = _create(
        client,
        auth,
        email_campaign(
            variants=[
                {
                    "name": "A",
                    "subject": "Hi",
                    "text": "line one\n{{ contact.points // contact.orders_count }}",
                }
            ]
        ),
    )["id"]
    answer = client.get(f"/api/v1/campaigns/{broken}/preview?contact_id={ann}", headers=auth)
    assert answer.status_code == 422
    assert list(answer.json["error"]["fields"]) == ["variants[0].text"]
    assert "variant A" in answer.json["error"]["message"]


def test_test_send_goes_through_smtp_and_records_nothing(
    tmp_path, database_url, db, auth, smtp_server
):
    recorder, port = smtp_server
    app = create_app(make_settings(tmp_path, database_url, smtp_port=str(port)), db)
    client = app.test_client()
    ann = _member(db, external_id="a", email="ann@shop.com", first_name="Ann")
    campaign = _create(client, auth, email_campaign())["id"]
    answer = client.post(
        f"/api/v1/campaigns/{campaign}/test-send",
        json={"to": "me@shop.com", "contact_id": ann},
        headers=auth,
    )
    assert answer.status_code == 200, answer.json
    assert [m.recipients for m in recorder.messages] == [["me@shop.com"]]
    message = email.message_from_bytes(recorder.messages[0].data, policy=email.policy.default)
    assert message["Subject"] == "Hi Ann"
    assert "Hello Ann" in message.get_body(("plain",)).get_content()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert session.scalar(select(func.count()).select_from(Run)) == 0
    assert client.get(f"/api/v1/campaigns/{campaign}", headers=auth).json["status"] == "draft"
    stats = client.get(f"/api/v1/campaigns/{campaign}/stats", headers=auth).json
    assert stats["total"]["sent"] == 0
    bad = client.post(
        f"/api/v1/campaigns/{campaign}/test-send", json={"to": "not an address"}, headers=auth
    )
    assert bad.status_code == 422 and "to" in bad.json["error"]["fields"]
    assert len(recorder.messages) == 1


def test_test_send_of_an_sms_reaches_the_provider(tmp_path, database_url, db, auth):
    ok = Answer(201, {"sid": "SMtest", "status": "queued"})
    with fake_provider(ok) as provider:
        settings = make_settings(
            tmp_path,
            database_url,
            sms_api_url=provider.url,
            sms_account_sid=SID,
            sms_auth_token="secret-token",
            sms_from="+15005550006",
        )
        client = create_app(settings, db).test_client()
        campaign = _create(
            client,
            auth,
            {"name": "t", "channel": "sms", "variants": [{"body": "Hi {{ contact.first_name }}"}]},
        )["id"]
        answer = client.post(
            f"/api/v1/campaigns/{campaign}/test-send", json={"to": "+8613800138000"}, headers=auth
        )
        assert answer.status_code == 200, answer.json
        sent = provider.requests("POST")
        assert len(sent) == 1 and sent[0].form()["To"] == "+8613800138000"
        assert sent[0].form()["Body"] == "Hi"


def test_calendar_lists_each_send_in_the_window(client, auth, db):
    now = clock.now()
    year = now.year + 1
    once = _create(
        client,
        auth,
        email_campaign(
            name="once", schedule={"type": "once", "at": f"{year}-11-11T10:00:00+08:00"}
        ),
    )["id"]
    monthly = _create(
        client,
        auth,
        email_campaign(
            name="monthly",
            schedule={"type": "recurring", "cron": "0 10 8 * *", "timezone": "Asia/Shanghai"},
        ),
    )["id"]
    local = _create(
        client,
        auth,
        email_campaign(
            name="local", schedule={"type": "local_time", "date": f"{year}-11-20", "time": "09:00"}
        ),
    )["id"]
    gone = _create(
        client,
        auth,
        email_campaign(name="gone", schedule={"type": "once", "at": f"{year}-11-12T10:00:00Z"}),
    )["id"]
    client.post(f"/api/v1/campaigns/{gone}/cancel", headers=auth)
    answer = client.get(f"/api/v1/calendar?from={year}-10-01&to={year}-11-30", headers=auth)
    assert answer.status_code == 200
    items = answer.json["items"]
    assert [(i["id"], i["at"][:10]) for i in items] == [
        (monthly, f"{year}-10-08"),
        (monthly, f"{year}-11-08"),
        (once, f"{year}-11-11"),
        (local, f"{year}-11-20"),
    ]
    assert {i["kind"] for i in items} == {"campaign"}
    assert items[2]["at"] == f"{year}-11-11T02:00:00+00:00" or items[2]["at"].startswith(
        f"{year}-11-11T10:00:00+08:00"
    )
    for query, field in (("from=x&to=2026-01-01", "from"), ("from=2026-02-01&to=2026-01-01", "to")):
        bad = client.get(f"/api/v1/calendar?{query}", headers=auth)
        assert bad.status_code == 422 and field in bad.json["error"]["fields"]


def test_unschedule_and_the_save_time_checks(client, auth):
    later = (clock.now() + timedelta(days=3)).isoformat()
    campaign = _create(client, auth, email_campaign(schedule={"type": "once", "at": later}))["id"]
    assert (
        client.post(f"/api/v1/campaigns/{campaign}/schedule", headers=auth).json["status"]
        == "scheduled"
    )
    back = client.post(f"/api/v1/campaigns/{campaign}/unschedule", headers=auth)
    assert back.status_code == 200 and back.json["status"] == "draft"
    assert back.json["next_run_at"] is None
    again = client.post(f"/api/v1/campaigns/{campaign}/unschedule", headers=auth)
    assert again.status_code == 409

    past = client.post(
        "/api/v1/campaigns",
        json=email_campaign(schedule={"type": "once", "at": "2020-01-01T10:00:00+08:00"}),
        headers=auth,
    )
    assert past.status_code == 422 and "schedule.at" in past.json["error"]["fields"]
    long_subject = email_campaign(variants=[{"name": "A", "subject": "x" * 999, "text": "t"}])
    answer = client.post("/api/v1/campaigns", json=long_subject, headers=auth)
    assert answer.status_code == 422
    assert "variants[0].subject" in answer.json["error"]["fields"]


@pytest.mark.parametrize("count", [9])
def test_at_most_eight_variants(client, auth, count):
    variants = [{"name": chr(65 + i), "subject": "s", "text": "t"} for i in range(count)]
    answer = client.post(
        "/api/v1/campaigns",
        json=email_campaign(variants=variants, ab_test={"test_fraction": 0.5}),
        headers=auth,
    )
    assert answer.status_code == 422 and "variants" in answer.json["error"]["fields"]
