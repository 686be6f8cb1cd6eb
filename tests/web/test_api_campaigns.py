"""The campaign API: auth, the error shape, validation that names the field, status moves."""

from __future__ import annotations

from datetime import timedelta

import pytest

from herald.core import clock
from herald.core.accounts import create_token
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign


def test_it_refuses_requests_without_a_valid_token(client):
    missing = client.get("/api/v1/campaigns/1")
    wrong = client.get("/api/v1/campaigns/1", headers={"Authorization": "Bearer hrld_forged"})
    for answer in (missing, wrong):
        assert answer.status_code == 401
        assert set(answer.json["error"]) == {"code", "message", "fields"}


def test_a_viewer_token_reads_but_cannot_write(client, db):
    with db.session() as session:
        _, plain = create_token(session, "dashboard", "viewer")
    headers = {"Authorization": f"Bearer {plain}"}
    answer = client.post("/api/v1/campaigns", json=email_campaign(), headers=headers)
    assert answer.status_code == 403
    assert answer.json["error"]["code"] == "forbidden"


def test_malformed_json_is_a_400(client, auth):
    answer = client.post(
        "/api/v1/campaigns", data="{not json", headers={**auth, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json["error"]["message"] == "the body is not valid JSON"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"name": 7}, "name"),
        ({"channel": "fax"}, "channel"),
        ({"segment_id": 999}, "segment_id"),
        ({"variants": []}, "variants"),
        ({"schedule": {"type": "once", "at": "2026-11-11T10:00:00"}}, "schedule.at"),
        ({"schedule": {"type": "recurring", "cron": "every day"}}, "schedule.cron"),
        ({"schedule": {"type": "weekly"}}, "schedule.type"),
        ({"ab_test": {"test_fraction": 2}}, "ab_test.test_fraction"),
        ({"segment_id": 2**70}, "segment_id"),
        ({"segment_id": 2**31}, "segment_id"),
        ({"schedule": {"type": "once", "at": "9999-12-31T23:59:59+00:00"}}, "schedule.at"),
        (
            {"schedule": {"type": "local_time", "date": "0001-01-01", "time": "10:00"}},
            "schedule.date",
        ),
        ({"schedule": {"type": "local_time", "date": 20301111, "time": "10:00"}}, "schedule.date"),
    ],
)
def test_invalid_values_are_a_422_naming_the_field(client, auth, db, change, field):
    answer = client.post("/api/v1/campaigns", json=email_campaign(**change), headers=auth)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["error"]["fields"]
    with db.session() as session:
        from herald.campaigns.models import Campaign

        assert session.query(Campaign).count() == 0  # nothing half-written


def test_a_template_that_fails_to_compile_names_variant_field_and_line(client, auth):
    body = email_campaign()
    body["variants"].append({"name": "B", "subject": "Hi", "html": "<p>ok</p>\n<p>{% if %}</p>"})
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    assert list(fields) == ["variants[1].html"]
    assert fields["variants[1].html"].startswith("variant B: html (line 2):")


def test_creating_never_starts_and_status_moves_follow_the_rules(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    client.post(
        "/api/v1/contacts",
        json={"email": "a@example.com", "consent": {"email": True}},
        headers=auth,
    )
    at = (clock.now() + timedelta(hours=1)).isoformat()
    created = client.post(
        "/api/v1/campaigns", json=email_campaign(schedule={"type": "once", "at": at}), headers=auth
    ).json
    drain(db, settings)
    assert recorder.messages == []
    base = f"/api/v1/campaigns/{created['id']}"
    assert client.post(f"{base}/resume", headers=auth).status_code == 409
    scheduled = client.post(f"{base}/schedule", headers=auth).json
    assert scheduled["status"] == "scheduled" and scheduled["next_run_at"] is not None
    drain(db, settings)
    assert recorder.messages == []  # not due yet
    assert client.post(f"{base}/pause", headers=auth).json["status"] == "paused"
    assert client.post(f"{base}/resume", headers=auth).json["status"] == "scheduled"
    clock.shift(timedelta(hours=1, seconds=1))
    drain(db, settings)
    assert len(recorder.messages) == 1
    assert client.get(base, headers=auth).json["status"] == "sent"
    conflict = client.post(f"{base}/cancel", headers=auth)
    assert conflict.status_code == 409 and conflict.json["error"]["code"] == "conflict"
    assert client.get("/api/v1/campaigns/999", headers=auth).status_code == 404


def test_cancel_mid_send_stops_the_rest(client, auth, db, tmp_path, database_url, smtp_server):
    from herald.campaigns import dispatch

    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="5")
    for i in range(20):
        client.post(
            "/api/v1/contacts",
            json={"email": f"c{i}@example.com", "consent": {"email": True}},
            headers=auth,
        )
    campaign = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json
    client.post(f"/api/v1/campaigns/{campaign['id']}/send-now", headers=auth)
    with db.session() as session:
        batch_ids = dispatch.start_due_runs(session, settings)
    dispatch.send_batch(db, settings, batch_ids[0])
    assert (
        client.post(f"/api/v1/campaigns/{campaign['id']}/cancel", headers=auth).status_code == 200
    )
    drain(db, settings)
    stats = client.get(f"/api/v1/campaigns/{campaign['id']}/stats", headers=auth).json
    assert len(recorder.messages) == 5
    assert stats["total"]["recipients"] == 20 and stats["total"]["sent"] == 5
    assert stats["status"] == "cancelled"


def test_pause_holds_batches_and_resume_finishes_them(
    client, auth, db, tmp_path, database_url, smtp_server
):
    from herald.campaigns import dispatch

    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="5")
    for i in range(15):
        client.post(
            "/api/v1/contacts",
            json={"email": f"p{i}@example.com", "consent": {"email": True}},
            headers=auth,
        )
    campaign = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json
    base = f"/api/v1/campaigns/{campaign['id']}"
    client.post(f"{base}/send-now", headers=auth)
    with db.session() as session:
        batch_ids = dispatch.start_due_runs(session, settings)
    dispatch.send_batch(db, settings, batch_ids[0])
    assert client.post(f"{base}/pause", headers=auth).json["status"] == "paused"
    drain(db, settings)
    assert len(recorder.messages) == 5
    assert client.post(f"{base}/resume", headers=auth).json["status"] == "sending"
    drain(db, settings)
    assert len(recorder.messages) == 15 and set(recorder.by_recipient().values()) == {1}
    assert client.get(base, headers=auth).json["status"] == "sent"


def test_a_recurring_campaign_runs_each_occurrence_once(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    client.post(
        "/api/v1/contacts",
        json={"email": "r@example.com", "consent": {"email": True}},
        headers=auth,
    )
    body = email_campaign(
        schedule={"type": "recurring", "cron": "0 10 * * *", "timezone": "Asia/Shanghai"}
    )
    campaign = client.post("/api/v1/campaigns", json=body, headers=auth).json
    base = f"/api/v1/campaigns/{campaign['id']}"
    armed = client.post(f"{base}/schedule", headers=auth).json
    first_due = armed["next_run_at"]
    assert first_due.endswith("+00:00") and "T02:00:00" in first_due  # 10:00 in Shanghai
    for day in range(3):
        clock.shift(timedelta(days=1))
        drain(db, settings)
        drain(db, settings)
        assert len(recorder.messages) == day + 1
        assert client.get(base, headers=auth).json["status"] == "scheduled"
    assert client.get(f"{base}/stats", headers=auth).json["runs"] == 3


def test_the_openapi_document_lists_every_route(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    for path in ("/contacts", "/campaigns", "/campaigns/{id}/stats", "/campaigns/{id}/send-now"):
        assert path in document["paths"], path
    assert "requestBody" in document["paths"]["/campaigns"]["post"]


def test_too_many_requests_get_a_429_in_the_error_shape(db, tmp_path, database_url, token):
    from herald.web.app import create_app

    settings = make_settings(tmp_path, database_url, api_rate_limit="3 per minute")
    client = create_app(settings, db).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    answers = [client.get("/api/v1/campaigns/1", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert answers[-1].json["error"]["code"] == "too_many_requests"
    other = client.get("/api/v1/campaigns/1", headers={"Authorization": "Bearer hrld_other"})
    assert other.status_code == 401  # another key has its own budget


def test_a_draft_can_be_changed_and_a_sent_one_cannot(client, auth):
    created = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json
    base = f"/api/v1/campaigns/{created['id']}"
    changed = client.patch(
        base,
        json={
            "name": "Double 12",
            "variants": [{"name": "B", "subject": "New", "html": "<p>n</p>"}],
        },
        headers=auth,
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["name"] == "Double 12"
    assert [v["name"] for v in changed.json["variants"]] == ["B"]
    assert changed.json["schedule"] == {"type": "immediate"}  # left out, kept
    bad = client.patch(
        base, json={"variants": [{"name": "A", "subject": "{% if %}"}]}, headers=auth
    )
    assert bad.status_code == 422 and "variants[0].subject" in bad.json["error"]["fields"]
    assert client.get(base, headers=auth).json["variants"][0]["name"] == "B"  # nothing half-written
    assert client.patch(base, json={"channel": "sms"}, headers=auth).status_code == 422
    client.post(f"{base}/cancel", headers=auth)
    assert client.patch(base, json={"name": "x"}, headers=auth).status_code == 409


def test_arming_a_once_schedule_in_the_past_is_refused(client, auth):
    # refused at save; a once time that passed while the draft waited is refused at schedule
    body = email_campaign(schedule={"type": "once", "at": "2020-01-01T10:00:00+08:00"})
    refused = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert refused.status_code == 422 and "schedule.at" in refused.json["error"]["fields"]
    soon = (clock.now() + timedelta(minutes=5)).isoformat()
    body = email_campaign(schedule={"type": "once", "at": soon})
    created = client.post("/api/v1/campaigns", json=body, headers=auth).json
    clock.shift(timedelta(hours=1))
    answer = client.post(f"/api/v1/campaigns/{created['id']}/schedule", headers=auth)
    assert answer.status_code == 422 and "schedule.at" in answer.json["error"]["fields"]


def test_a_campaign_that_cannot_be_planned_fails_alone(client, auth, db, settings, monkeypatch):
    from herald.campaigns import dispatch, planning

    good = client.post("/api/v1/campaigns", json=email_campaign(name="good"), headers=auth).json
    bad = client.post("/api/v1/campaigns", json=email_campaign(name="bad"), headers=auth).json
    for campaign in (bad, good):
        client.post(f"/api/v1/campaigns/{campaign['id']}/send-now", headers=auth)
    real = planning.plan_run

    def plan(session, settings, campaign, due_at, now):  # type: ignore[no-untyped-def]
        if campaign.name == "bad":
            raise RuntimeError("corrupt segment")
        return real(session, settings, campaign, due_at, now)

    monkeypatch.setattr(planning, "plan_run", plan)
    dispatch.tick(db, settings)
    assert client.get(f"/api/v1/campaigns/{bad['id']}", headers=auth).json["status"] == "failed"
    assert client.get(f"/api/v1/campaigns/{good['id']}", headers=auth).json["status"] == "sent"


TWO_VARIANTS = [
    {"name": "A", "subject": "Hi", "html": "<p>a</p>"},
    {"name": "B", "subject": "Hey", "html": "<p>b</p>"},
]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_a_body_are_malformed_json(client, auth, constant):
    raw = (
        '{"name": "c", "channel": "email", "variants": [{"name": "A", "subject": "Hi", '
        '"html": "x"}, {"name": "B", "subject": "Hi", "html": "x"}], '
        f'"ab_test": {{"decide_after_hours": {constant}}}}}'
    )
    answer = client.post(
        "/api/v1/campaigns", data=raw, headers={**auth, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json["error"]["message"] == "the body is not valid JSON"


@pytest.mark.parametrize(
    ("ab_test", "field"),
    [
        ({"decide_after_hours": 1e308}, "ab_test.decide_after_hours"),
        ({"decide_after_hours": 10**30}, "ab_test.decide_after_hours"),
        ({"decide_after_hours": 721}, "ab_test.decide_after_hours"),
        ({"decide_after_hours": True}, "ab_test.decide_after_hours"),
        ({"test_fraction": True}, "ab_test.test_fraction"),
        ({"confidence": True}, "ab_test.confidence"),
    ],
)
def test_ab_test_numbers_must_be_real_and_in_range(client, auth, ab_test, field):
    body = email_campaign(variants=TWO_VARIANTS, ab_test=ab_test)
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["error"]["fields"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_ids_beyond_the_database_range_are_a_404(client, auth, method):
    path = "/api/v1/campaigns/99999999999999999999"
    if method == "POST":
        path += "/pause"
    answer = client.open(path, method=method, headers=auth)
    assert answer.status_code == 404
    assert set(answer.json["error"]) == {"code", "message", "fields"}
    assert client.get("/api/v1/campaigns/2147483648", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nope", 404),
        ("GET", "/api/v1/campaigns/abc", 404),
        ("DELETE", "/api/v1/campaigns", 405),
        ("GET", "/webhooks/nope", 404),
        ("PUT", "/webhooks/shop", 405),
    ],
)
def test_routing_errors_under_the_api_and_webhooks_use_the_error_shape(
    client, auth, method, path, status
):
    answer = client.open(path, method=method, headers=auth)
    assert answer.status_code == status
    assert answer.mimetype == "application/json"
    assert set(answer.json["error"]) == {"code", "message", "fields"}


def test_routing_errors_elsewhere_stay_html(client):
    answer = client.get("/no-such-page")
    assert answer.status_code == 404
    assert answer.mimetype == "text/html"


def test_a_nul_character_anywhere_in_a_body_is_a_422_naming_the_place(client, auth, db):
    body = email_campaign()
    body["variants"][0]["subject"] = "Hi\u0000there"
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert answer.status_code == 422, answer.json
    assert "variants[0].subject" in answer.json["error"]["fields"]
    trigger = {
        "name": "t\u0000",
        "event": "cart.abandoned",
        "channel": "email",
        "variants": email_campaign()["variants"],
    }
    assert client.post("/api/v1/triggers", json=trigger, headers=auth).status_code == 422
    with db.session() as session:
        from herald.campaigns.models import Campaign

        assert session.query(Campaign).count() == 0
