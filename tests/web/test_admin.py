"""The web admin through Flask's test client: login, CSRF, roles, the campaign form, actions,
live progress, segments, tokens and the outbox (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from herald.audiences.models import Contact, Segment
from herald.campaigns import service
from herald.campaigns.models import Campaign
from herald.core.accounts import ApiToken, create_user, find_token
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def users(db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One user per role; returns role -> email."""
    emails = {role: f"{role}@example.com" for role in ("admin", "marketer", "viewer")}
    with db.session() as session:
        for role, email in emails.items():
            create_user(session, email, PASSWORD, role)
    return emails


def csrf_token(client: Any, url: str = "/admin/login") -> str:
    """The CSRF token from a page's form."""
    page = client.get(url)
    match = CSRF.search(page.text)
    assert match, f"no csrf_token on {url} ({page.status_code})"
    return match.group(1)


def login(client: Any, email: str, password: str = PASSWORD) -> Any:
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client)},
    )


def make_campaign(db: Any, segment_id: int | None = None) -> int:
    with db.session() as session:
        campaign = service.create_campaign(
            session, email_campaign(segment_id), make_settings_zone()
        )
        return campaign.id


def make_settings_zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("UTC")


def add_contacts(db: Any, n: int) -> None:
    from herald.audiences import contacts

    with db.session() as session:
        for i in range(n):
            contacts.upsert(
                session,
                {
                    "external_id": f"m{i}",
                    "email": f"member{i}@example.com",
                    "first_name": f"Member{i}",
                    "tier": "gold" if i % 2 else "silver",
                    "consent": {"email": True},
                },
                source="test",
            )


# --------------------------------------------------------------------------- login


@pytest.mark.parametrize(
    "path",
    ["/admin/", "/admin/contacts/", "/admin/campaigns/", "/admin/outbox/", "/admin/users/"],
)
def test_every_admin_page_sends_anonymous_visitors_to_the_login_page(client, path):
    answer = client.get(path)
    assert answer.status_code == 302
    assert answer.location.startswith("/admin/login?next=")


def test_progress_json_needs_a_login_too(client, db):
    campaign_id = make_campaign(db)
    answer = client.get(f"/admin/campaigns/{campaign_id}/progress.json")
    assert answer.status_code == 302 and "/admin/login" in answer.location


def test_it_logs_in_with_the_right_password_and_out_again(client, users):
    answer = login(client, users["marketer"])
    assert answer.status_code == 302 and answer.location == "/admin/"
    home = client.get("/admin/")
    assert home.status_code == 200
    assert "Herald" in home.text and "marketer@example.com" in home.text
    token = CSRF.search(home.text).group(1)
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_a_wrong_password_is_refused(client, users):
    answer = login(client, users["marketer"], "not the password")
    assert answer.status_code == 401
    assert "Wrong email or password" in answer.text
    assert client.get("/admin/").status_code == 302


def test_it_never_redirects_off_site_after_login(client, users):
    token = csrf_token(client)
    answer = client.post(
        "/admin/login?next=https://evil.example/",
        data={"email": users["viewer"], "password": PASSWORD, "csrf_token": token},
    )
    assert answer.location == "/admin/"


def test_login_posts_are_rate_limited(app, client, users):
    app.config["HERALD_LOGIN_RATE_LIMIT"] = "3 per minute"
    token = csrf_token(client)
    codes = [
        client.post(
            "/admin/login",
            data={"email": users["viewer"], "password": "wrong", "csrf_token": token},
        ).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]


# --------------------------------------------------------------------------- CSRF


def test_a_form_post_without_csrf_token_is_refused(client, db, users):
    login(client, users["marketer"])
    campaign_id = make_campaign(db)
    answer = client.post(f"/admin/campaigns/{campaign_id}/send-now")
    assert answer.status_code == 400
    answer = client.post("/admin/segments/new/", data={"name": "x", "rules_json": "{}"})
    assert answer.status_code == 400
    with db.session() as session:
        assert session.get(Campaign, campaign_id).status == "draft"
        assert session.scalars(select(Segment)).first() is None


def test_the_login_form_needs_its_csrf_token(client, users):
    answer = client.post("/admin/login", data={"email": users["admin"], "password": PASSWORD})
    assert answer.status_code == 400


def test_the_json_api_is_not_subject_to_csrf(client, auth):
    answer = client.post("/api/v1/contacts", json={"email": "a@example.com"}, headers=auth)
    assert answer.status_code == 201


# --------------------------------------------------------------------------- roles


def test_a_viewer_gets_403_on_send_edit_and_create(client, db, users):
    campaign_id = make_campaign(db)
    login(client, users["viewer"])
    detail = client.get(f"/admin/campaigns/{campaign_id}/")
    assert detail.status_code == 200
    assert "Send now" not in detail.text and "action-send-now" not in detail.text
    token = CSRF.search(detail.text).group(1)
    for action in ("send-now", "schedule", "cancel"):
        answer = client.post(f"/admin/campaigns/{campaign_id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 403
    assert client.get("/admin/campaigns/new/").status_code == 403
    assert client.get(f"/admin/campaigns/edit/?id={campaign_id}").status_code == 403
    answer = client.post(
        f"/admin/campaigns/edit/?id={campaign_id}", data={"csrf_token": token, "name": "x"}
    )
    assert answer.status_code == 403
    assert client.post("/admin/contacts/new/", data={"csrf_token": token}).status_code == 403
    with db.session() as session:
        assert session.get(Campaign, campaign_id).status == "draft"


def test_a_viewer_sees_no_create_or_edit_buttons(client, db, users):
    add_contacts(db, 2)
    login(client, users["viewer"])
    listing = client.get("/admin/contacts/")
    assert listing.status_code == 200
    assert "/admin/contacts/new/" not in listing.text
    assert "/admin/contacts/edit/" not in listing.text


def test_users_and_tokens_pages_are_for_admins_only(client, users):
    login(client, users["marketer"])
    assert client.get("/admin/users/").status_code == 403
    assert client.get("/admin/tokens/").status_code == 403
    client.get("/admin/login")
    client2 = client.application.test_client()
    login(client2, users["admin"])
    assert client2.get("/admin/users/").status_code == 200
    assert client2.get("/admin/tokens/").status_code == 200


# --------------------------------------------------------------------------- campaigns


def _campaign_form(token: str, segment_id: int | None, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "name": "Spring sale",
        "channel": "email",
        "segment_id": str(segment_id or ""),
        "subject": "Hi {{ contact.first_name }}",
        "html": "<p>Hello {{ contact.first_name }}</p>",
        "text": "Hello {{ contact.first_name }}",
        "schedule_type": "immediate",
        "schedule_at": "",
    }
    form.update(overrides)
    return form


def _segment(db: Any, rules: dict[str, Any] | None = None) -> int:
    with db.session() as session:
        segment = Segment(
            name="Gold", rules=rules or {"field": "tier", "op": "eq", "value": "gold"}
        )
        session.add(segment)
        session.flush()
        return segment.id


def test_a_marketer_creates_a_campaign_through_the_form(client, db, users):
    segment_id = _segment(db)
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/campaigns/new/")
    answer = client.post("/admin/campaigns/new/", data=_campaign_form(token, segment_id))
    assert answer.status_code == 302, answer.text
    with db.session() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert (campaign.name, campaign.status, campaign.segment_id) == (
            "Spring sale",
            "draft",
            segment_id,
        )
        assert campaign.variants[0].name == "A"
        assert campaign.variants[0].content["subject"] == "Hi {{ contact.first_name }}"
        assert campaign.schedule["type"] == "immediate"
    assert answer.location == f"/admin/campaigns/{campaign.id}/"


def test_a_template_error_shows_the_field_and_line_in_the_form(client, db, users):
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/campaigns/new/")
    answer = client.post(
        "/admin/campaigns/new/",
        data=_campaign_form(token, None, html="<p>\nHello {{ contact.first_name }\n</p>"),
    )
    assert answer.status_code == 200
    assert "html (line 2)" in answer.text
    assert "unexpected" in answer.text
    with db.session() as session:
        assert session.scalars(select(Campaign)).first() is None


def test_a_once_schedule_without_an_offset_is_shown_on_its_field(client, db, users):
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/campaigns/new/")
    answer = client.post(
        "/admin/campaigns/new/",
        data=_campaign_form(token, None, schedule_type="once", schedule_at="2030-01-01T10:00"),
    )
    assert answer.status_code == 200
    assert "schedule.at" in answer.text or "offset" in answer.text


def test_a_marketer_edits_a_draft(client, db, users):
    campaign_id = make_campaign(db)
    login(client, users["marketer"])
    token = csrf_token(client, f"/admin/campaigns/edit/?id={campaign_id}")
    answer = client.post(
        f"/admin/campaigns/edit/?id={campaign_id}",
        data=_campaign_form(token, None, name="Renamed", subject="New {{ contact.tier }}"),
    )
    assert answer.status_code == 302
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.name == "Renamed"
        assert campaign.variants[0].content["subject"] == "New {{ contact.tier }}"


def test_send_now_pause_and_cancel_go_through_the_service(client, db, users):
    campaign_id = make_campaign(db)
    login(client, users["marketer"])
    token = csrf_token(client, f"/admin/campaigns/{campaign_id}/")

    def act(action: str) -> str:
        answer = client.post(f"/admin/campaigns/{campaign_id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 302
        with db.session() as session:
            return session.get(Campaign, campaign_id).status

    assert act("send-now") == "scheduled"
    assert act("pause") == "paused"
    assert act("resume") == "scheduled"
    assert act("cancel") == "cancelled"
    assert act("resume") == "cancelled"  # refused: shown as a message, nothing changes
    assert "cannot resume" in client.get(f"/admin/campaigns/{campaign_id}/").text


def test_progress_json_reports_the_ledger_and_stats(
    client, db, users, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    add_contacts(db, 4)
    campaign_id = make_campaign(db)
    login(client, users["marketer"])
    token = csrf_token(client, f"/admin/campaigns/{campaign_id}/")
    client.post(f"/admin/campaigns/{campaign_id}/send-now", data={"csrf_token": token})
    before = client.get(f"/admin/campaigns/{campaign_id}/progress.json").json
    assert before["progress"] == 0 and before["status"] == "scheduled"
    drain(db, make_settings(tmp_path, database_url, smtp_port=str(port)))
    after = client.get(f"/admin/campaigns/{campaign_id}/progress.json").json
    assert after["status"] == "sent"
    assert after["recipients"] == 4 and after["done"] == 4 and after["progress"] == 1.0
    assert after["ledger"] == {"sent": 4}
    assert after["stats"]["total"]["sent"] == 4
    assert len(recorder.messages) == 4
    ledger = client.get(f"/admin/campaigns/{campaign_id}/deliveries/?status=sent")
    assert ledger.status_code == 200 and "member3@example.com" in ledger.text
    home = client.get("/admin/")
    assert "100.0% of 4" in home.text


# --------------------------------------------------------------------------- segments


def test_segment_preview_counts_members_and_shows_a_sample(client, db, users):
    add_contacts(db, 6)
    login(client, users["viewer"])
    token = csrf_token(client, "/admin/")
    answer = client.post(
        "/admin/segments/preview.json",
        json={"rules": '{"field": "tier", "op": "eq", "value": "gold"}'},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 200
    assert answer.json["count"] == 3
    assert {m["tier"] for m in answer.json["sample"]} == {"gold"}


def test_segment_preview_names_an_unknown_field(client, db, users):
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/")
    answer = client.post(
        "/admin/segments/preview.json",
        json={"rules": '{"field": "shoe_size", "op": "eq", "value": 4}'},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 422
    assert "shoe_size" in answer.json["error"]


def test_a_segment_with_bad_rules_is_not_saved_and_the_form_says_why(client, db, users):
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/segments/new/")
    answer = client.post(
        "/admin/segments/new/",
        data={"csrf_token": token, "name": "Broken", "rules_json": '{"field": "nope"'},
    )
    assert answer.status_code == 200
    assert "not valid JSON" in answer.text
    good = client.post(
        "/admin/segments/new/",
        data={
            "csrf_token": token,
            "name": "Gold",
            "rules_json": '{"field": "tier", "op": "in", "value": ["gold"]}',
        },
    )
    assert good.status_code == 302
    with db.session() as session:
        segment = session.scalars(select(Segment)).one()
        assert segment.rules == {"field": "tier", "op": "in", "value": ["gold"]}


# --------------------------------------------------------------------------- contacts


def test_contacts_are_searchable_by_email(client, db, users):
    add_contacts(db, 5)
    login(client, users["viewer"])
    answer = client.get("/admin/contacts/?search=member3@")
    assert answer.status_code == 200
    assert "member3@example.com" in answer.text and "member2@example.com" not in answer.text


def test_a_marketer_edits_a_contact(client, db, users):
    add_contacts(db, 1)
    with db.session() as session:
        contact_id = session.scalars(select(Contact.id)).one()
    login(client, users["marketer"])
    url = f"/admin/contacts/edit/?id={contact_id}"
    token = csrf_token(client, url)
    answer = client.post(
        url,
        data={
            "csrf_token": token,
            "email": "member0@example.com",
            "tier": "platinum",
            "points": "9",
        },
    )
    assert answer.status_code == 302, re.findall(
        r"(?s)(?:invalid-feedback|alert)[^>]*>(.*?)</", answer.text
    )
    with db.session() as session:
        contact = session.get(Contact, contact_id)
        assert (contact.tier, contact.points) == ("platinum", 9)


# --------------------------------------------------------------------------- admin pages


def test_an_admin_creates_a_token_and_sees_it_once(client, db, users):
    login(client, users["admin"])
    token = csrf_token(client, "/admin/tokens/new/")
    answer = client.post(
        "/admin/tokens/new/",
        data={"csrf_token": token, "name": "shop", "role": "viewer"},
        follow_redirects=True,
    )
    plain = re.search(r"hrld_[A-Za-z0-9_-]+", answer.text).group(0)
    with db.session() as session:
        found = find_token(session, plain)
        assert found is not None and found.role == "viewer" and found.name == "shop"
        assert session.scalars(select(ApiToken.token_hash)).all() != [plain]
    assert plain not in client.get("/admin/tokens/").text


def test_an_admin_creates_a_user_who_can_log_in(client, db, users):
    login(client, users["admin"])
    token = csrf_token(client, "/admin/users/new/")
    answer = client.post(
        "/admin/users/new/",
        data={
            "csrf_token": token,
            "email": "new@example.com",
            "password": "a long password",
            "role": "viewer",
        },
    )
    assert answer.status_code == 302
    other = client.application.test_client()
    assert login(other, "new@example.com", "a long password").status_code == 302


def test_the_outbox_lists_and_shows_messages(client, users, settings):
    folder = settings.instance_path / "outbox"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "1700000000000000000-1.eml").write_bytes(
        b"From: shop@example.com\r\nTo: a@example.com\r\nSubject: Hello outbox\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain body here\r\n"
    )
    login(client, users["viewer"])
    listing = client.get("/admin/outbox/")
    assert "Hello outbox" in listing.text
    message = client.get("/admin/outbox/1700000000000000000-1.eml")
    assert message.status_code == 200 and "Plain body here" in message.text
    assert client.get("/admin/outbox/..%2Fsecret_key").status_code == 404


@pytest.mark.redis
def test_login_rate_limits_are_shared_through_redis_when_configured(tmp_path, database_url, db):
    import secrets

    from herald.web.app import create_app
    from tests.conftest import REDIS_URL

    settings = make_settings(
        tmp_path, database_url, redis_url=REDIS_URL, queue=f"admin-rl-{secrets.token_hex(4)}"
    )
    with db.session() as session:
        create_user(session, "viewer@example.com", PASSWORD, "viewer")
    codes = []
    for _ in range(2):  # two app instances, like two web processes
        app = create_app(settings, db)
        app.config.update(TESTING=True, HERALD_LOGIN_RATE_LIMIT="3 per minute")
        client = app.test_client()
        token = csrf_token(client)
        for _ in range(2):
            codes.append(
                client.post(
                    "/admin/login",
                    data={"email": "viewer@example.com", "password": "no", "csrf_token": token},
                ).status_code
            )
    assert codes == [401, 401, 401, 429]
