"""The marketer's workspace, part 2, through Flask's test client (SQLite and PostgreSQL): the
truthful status on the campaign list and page, results, members, triggers, lists, suppressions,
the outbox's pages, error pages and the weekly report's defaults."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from herald.audiences import contacts
from herald.audiences.models import Contact, Event, Suppression
from herald.campaigns.models import Trigger
from herald.core import clock
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.web.test_admin import PASSWORD, csrf_token, login


@pytest.fixture
def users(db: Any) -> dict[str, str]:
    """One user per role; returns role -> email."""
    from herald.core.accounts import create_user

    emails = {role: f"{role}@example.com" for role in ("admin", "marketer", "viewer")}
    with db.session() as session:
        for role, email in emails.items():
            create_user(session, email, PASSWORD, role)
    return emails


def _member(db: Any, n: int, consent: bool = True) -> int:
    with db.session() as session:
        contact, _ = contacts.upsert(
            session,
            {
                "external_id": f"w{n}",
                "email": f"w{n}@example.com",
                "first_name": f"W{n}",
                "consent": {"email": consent},
            },
            source="test",
        )
        return contact.id


def _sent_campaign(client: Any, db: Any, settings: Any, auth: dict[str, str]) -> int:
    campaign_id = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    return campaign_id


def test_an_all_failed_campaign_is_red_and_says_why_on_the_list_and_the_page(
    client, db, users, auth, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    # chunks of one, so the all-failed chunk does not pause the campaign first (autopause)
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), flush_every="1")
    for n in range(3):
        _member(db, n)
        recorder.refuse[f"w{n}@example.com"] = "550 5.1.1 no such mailbox"
    campaign_id = _sent_campaign(client, db, settings, auth)
    login(client, users["viewer"])

    listing = client.get("/admin/campaigns/").text
    assert "status-failed" in listing
    assert "3 failed" in listing and "no such mailbox" in listing

    page = client.get(f"/admin/campaigns/{campaign_id}/").text
    assert 'class="progress-bar bg-danger"' in page
    assert "3 failed" in page and "no such mailbox" in page
    assert client.get(f"/admin/campaigns/{campaign_id}/progress.json").json["tone"] == "danger"

    results = client.get(f"/admin/results/{campaign_id}/")
    assert results.status_code == 200
    assert "Nothing was sent." in results.text
    assert "no such mailbox" in results.text


def test_the_results_page_draws_the_funnel_and_counts_cancelled_rows(
    client, db, users, auth, tmp_path, database_url, smtp_server
):
    _, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    for n in range(4):
        _member(db, n, consent=n != 0)
    campaign_id = _sent_campaign(client, db, settings, auth)
    login(client, users["viewer"])
    page = client.get(f"/admin/results/{campaign_id}/").text
    assert page.count("<svg") >= 1 and 'aria-label="Funnel from recipients to conversions"' in page
    assert re.search(r'data-stat="sent">3<', page)
    assert "1 skipped" in page and "no consent" in page
    assert client.get("/admin/results/999999/").status_code == 404


def test_a_member_page_shows_consent_attributes_loyalty_events_and_messages(
    client, db, users, auth, tmp_path, database_url, smtp_server
):
    _, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    contact_id = _member(db, 1)
    with db.session() as session:
        contact = session.get(Contact, contact_id)
        contact.attributes = {"city": "Hangzhou"}
        session.add(
            Event(
                contact_id=contact_id, type="points.changed", data={"points": 800, "previous": 200}
            )
        )
        session.add(
            Event(
                contact_id=contact_id,
                type="order.placed",
                data={"order_id": "o-9", "total": 88.0, "currency": "CNY"},
            )
        )
    campaign_id = _sent_campaign(client, db, settings, auth)
    login(client, users["viewer"])
    page = client.get(f"/admin/members/{contact_id}/").text
    consent = page[page.index('id="consent"') : page.index('id="attributes"')]
    assert "email" in consent and "yes" in consent and "test" in consent
    assert "Hangzhou" in page
    assert "200" in page[page.index('id="loyalty"') :] and "800" in page
    assert "ordered o-9 for 88.0" in page
    assert f"/admin/campaigns/{campaign_id}/" in page and "Double 11 early access" in page
    assert client.get("/admin/contacts/").text.count(f"/admin/members/{contact_id}/") >= 1
    assert client.get("/admin/members/424242/").status_code == 404


def _trigger_form(**overrides: str) -> dict[str, str]:
    form = {
        "name": "Cart reminder",
        "event": "cart.abandoned",
        "rules_json": "",
        "delay_minutes": "60",
        "cancel_on": "order.placed",
        "channel": "email",
        "subject": "You left {{ contact.first_name }}'s cart",
        "html": "<p>Come back</p>",
        "text": "",
        "body": "",
        "max_per_contact_days": "",
    }
    form.update(overrides)
    return form


def test_triggers_are_created_edited_and_switched_in_the_admin(client, db, users):
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/triggers/new/")
    bad = client.post(
        "/admin/triggers/new/", data={**_trigger_form(html="<p>{{ x }</p>"), "csrf_token": token}
    )
    assert bad.status_code == 200 and "line 1" in bad.text
    bad_filter = client.post(
        "/admin/triggers/new/",
        data={
            **_trigger_form(rules_json='{"field": "shoe", "op": "eq", "value": 1}'),
            "csrf_token": token,
        },
    )
    assert "shoe" in bad_filter.text
    made = client.post(
        "/admin/triggers/new/",
        data={
            **_trigger_form(rules_json='{"field": "tier", "op": "eq", "value": "gold"}'),
            "csrf_token": token,
        },
    )
    assert made.status_code == 302
    with db.session() as session:
        trigger = session.scalar(select(Trigger))
        assert (trigger.event, trigger.delay_minutes, trigger.cancel_on) == (
            "cart.abandoned",
            60.0,
            "order.placed",
        )
        assert trigger.filter == {"field": "tier", "op": "eq", "value": "gold"}
        trigger_id = trigger.id
    detail = client.get(f"/admin/triggers/{trigger_id}/").text
    assert "Cart reminder" in detail and "60 minutes" in detail

    edited = client.post(
        f"/admin/triggers/{trigger_id}/edit/",
        data={
            **_trigger_form(name="Cart nudge", delay_minutes="30", subject="Still there?"),
            "csrf_token": token,
        },
    )
    assert edited.status_code == 302
    with db.session() as session:
        trigger = session.get(Trigger, trigger_id)
        assert (trigger.name, trigger.delay_minutes) == ("Cart nudge", 30.0)
        assert trigger.campaign.variants[0].content["subject"] == "Still there?"

    client.post(f"/admin/triggers/{trigger_id}/active", data={"active": "off", "csrf_token": token})
    with db.session() as session:
        assert session.get(Trigger, trigger_id).active is False
    assert "Cart nudge" in client.get("/admin/triggers/").text


def test_a_viewer_reads_triggers_but_cannot_change_them(client, db, users):
    login(client, users["viewer"])
    assert client.get("/admin/triggers/").status_code == 200
    refused = client.get("/admin/triggers/new/")
    assert refused.status_code == 403
    assert "Your role cannot do this" in refused.text and "Go to the dashboard" in refused.text
    assert 'class="navbar' in refused.text  # in the admin's layout


def test_lists_and_suppressions_are_managed_in_the_admin(client, db, users):
    contact_id = _member(db, 1)
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/lists/")
    made = client.post("/admin/lists/", data={"name": "VIP", "csrf_token": token})
    assert made.status_code == 302
    list_url = made.headers["Location"]
    added = client.post(
        list_url,
        data={"members": f"w1@example.com, {contact_id}, nobody@x.org", "csrf_token": token},
        follow_redirects=True,
    )
    assert "Added 1" in added.text and "nobody@x.org" in added.text
    assert "w1@example.com" in added.text
    assert "VIP" in client.get("/admin/lists/").text

    client.post(
        "/admin/suppressions/add",
        data={"channel": "email", "address": "W1@Example.com", "csrf_token": token},
    )
    with db.session() as session:
        row = session.scalar(select(Suppression))
        assert (row.address, row.reason) == ("w1@example.com", "manual")
        row_id = row.id
    page = client.get("/admin/suppressions/?channel=email&q=w1").text
    assert "w1@example.com" in page
    assert "w1@example.com" not in client.get("/admin/suppressions/?q=zzz").text
    bad = client.post(
        "/admin/suppressions/add",
        data={"channel": "fax", "address": "x", "csrf_token": token},
        follow_redirects=True,
    )
    assert "unknown channel" in bad.text
    client.post(f"/admin/suppressions/{row_id}/delete", data={"csrf_token": token})
    with db.session() as session:
        assert session.scalar(select(Suppression)) is None


def test_the_outbox_pages_and_filters(client, db, users, settings):
    folder = settings.instance_path / "outbox"
    folder.mkdir(parents=True)
    for n in range(60):
        (folder / f"{1000 + n}-1.eml").write_bytes(
            f"From: shop@example.com\r\nTo: buyer{n}@example.com\r\nSubject: Sale {n}\r\n\r\n"
            "hello\r\n".encode()
        )
    login(client, users["viewer"])
    first = client.get("/admin/outbox/").text
    assert "Sale 59" in first and "Sale 10" in first and "Sale 9<" not in first
    assert "page 1 of 2" in first
    second = client.get("/admin/outbox/?page=1").text
    assert "Sale 9<" in second and "Sale 59" not in second
    found = client.get("/admin/outbox/?q=buyer42@").text
    assert "Sale 42" in found and "Sale 41" not in found and "1 message match" in found


def test_a_contact_needs_an_external_id_an_email_or_a_phone(client, db, users):
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/contacts/new/")
    answer = client.post(
        "/admin/contacts/new/",
        data={"first_name": "Nobody", "tier": "new", "points": "0", "csrf_token": token},
    )
    assert answer.status_code == 200
    assert "at least one of external id, email or phone" in answer.text
    with db.session() as session:
        assert session.scalar(select(Contact).where(Contact.first_name == "Nobody")) is None


def test_bad_urls_answer_4xx_pages_with_a_message_and_a_way_back(client, db, users):
    login(client, users["viewer"])
    csv = client.get("/admin/reports/weekly.csv?week=bad")
    assert csv.status_code == 400
    assert "is not an ISO week like 2026-W47" in csv.text and "Go to the dashboard" in csv.text
    missing = client.get("/admin/no-such-page/")
    assert missing.status_code == 404 and "There is nothing here" in missing.text
    assert client.get("/admin/campaigns/999999/").status_code == 404
    # the API keeps its JSON errors
    assert client.get("/api/v1/nope").json["error"]["code"] == "not_found"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


def test_the_report_opens_on_this_week_when_last_week_is_empty(
    client, db, users, auth, tmp_path, database_url, smtp_server
):
    _, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    _member(db, 1)
    clock.shift(datetime(2026, 11, 11, 10, 0, tzinfo=UTC) - clock.now())  # Wednesday, 2026-W46
    _sent_campaign(client, db, settings, auth)
    login(client, users["viewer"])
    page = client.get("/admin/reports/").text
    assert "Weekly report 2026-W46" in page
    assert "Nothing ran in 2026-W45, so this is 2026-W46 to date." in page
    assert "GET /api/v1" not in page  # the footer speaks to a reader
    asked = client.get("/admin/reports/?week=2026-W45").text
    assert "Weekly report 2026-W45" in asked and "to date" not in asked


def test_the_api_refuses_to_clear_a_contacts_last_identifier(client, db, auth):
    made = client.post(
        "/api/v1/contacts", json={"external_id": "only-id", "first_name": "Li"}, headers=auth
    )
    assert made.status_code == 201
    cleared = client.patch(
        f"/api/v1/contacts/{made.json['id']}", json={"external_id": None}, headers=auth
    )
    assert cleared.status_code == 422
    assert "external_id" in cleared.json["error"]["fields"]
    kept = client.get(f"/api/v1/contacts/{made.json['id']}", headers=auth).json
    assert kept["external_id"] == "only-id"
