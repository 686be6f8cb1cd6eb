"""Promotions through the API: create, list, read, change, delete, 422s in a marketer's words,
campaigns and journeys carrying ``promotion_id``, the holiday gallery and the calendar's spans."""

from __future__ import annotations

from datetime import datetime

import pytest

from herald.campaigns.models import Campaign, Run
from herald.core import clock
from tests.conftest import make_settings
from tests.helpers import email_campaign
from tests.journeys.support import welcome

DOUBLE_11 = {
    "name": "Double 11 2027",
    "kind": "holiday",
    "starts_at": "2027-11-01T00:00:00+08:00",
    "ends_at": "2027-11-12T00:00:00+08:00",
    "goal": {"metric": "revenue", "target": 500000},
    "budget": 50000,
}


@pytest.fixture
def settings(tmp_path, database_url):  # type: ignore[no-untyped-def]
    """The shop's zone is China's: the gallery's dates and the calendar's days are in it."""
    return make_settings(tmp_path, database_url, timezone="Asia/Shanghai")


def _create(client, auth, **changes):  # type: ignore[no-untyped-def]
    answer = client.post("/api/v1/promotions", json={**DOUBLE_11, **changes}, headers=auth)
    assert answer.status_code == 201, answer.json
    return answer.json


def test_a_promotion_is_created_read_listed_changed_and_deleted(client, auth):
    created = _create(client, auth)
    assert created["kind"] == "holiday"
    assert created["goal"] == {"metric": "revenue", "target": 500000}
    assert created["budget"] == 50000
    assert created["status"] == "upcoming"
    assert datetime.fromisoformat(created["starts_at"]) == datetime.fromisoformat(
        DOUBLE_11["starts_at"]
    )
    pid = created["id"]
    assert client.get(f"/api/v1/promotions/{pid}", headers=auth).json["name"] == "Double 11 2027"
    listed = client.get("/api/v1/promotions?limit=1", headers=auth).json
    assert [p["id"] for p in listed["items"]] == [pid]
    assert listed["next_cursor"] is None

    changed = client.patch(
        f"/api/v1/promotions/{pid}", json={"budget": 60000.5, "goal": None}, headers=auth
    )
    assert changed.status_code == 200
    assert changed.json["budget"] == 60000.5
    assert changed.json["goal"] is None
    assert changed.json["name"] == "Double 11 2027"  # fields left out keep their values

    assert client.delete(f"/api/v1/promotions/{pid}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/promotions/{pid}", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"ends_at": "2027-10-01T00:00:00+08:00"}, "ends_at", "ends before it starts"),
        ({"starts_at": "2027-11-01T00:00:00"}, "starts_at", "has no time zone"),
        ({"kind": "clearance"}, "kind", "is not a kind of promotion"),
        ({"goal": {"metric": "likes", "target": 5}}, "goal.metric", "revenue, orders or signups"),
        ({"goal": {"metric": "revenue", "target": -1}}, "goal.target", "cannot be negative"),
        ({"budget": -5}, "budget", "the budget cannot be negative"),
        ({"budget": "lots"}, "budget", "the budget must be a number"),
        ({"name": "  "}, "name", "give the promotion a name"),
        ({"colour": "red"}, "colour", "no field 'colour'"),
        ({"goal": {"metric": "orders", "target": 2.5}}, "goal.target", "whole number"),
    ],
)
def test_bad_values_are_422s_in_a_marketers_words(client, auth, change, field, words):
    answer = client.post("/api/v1/promotions", json={**DOUBLE_11, **change}, headers=auth)
    assert answer.status_code == 422
    assert field in answer.json["error"]["fields"]
    assert words in answer.json["error"]["message"]
    assert client.get("/api/v1/promotions", headers=auth).json["items"] == []


def test_campaigns_and_journeys_carry_a_checked_promotion_id(client, auth, db):
    pid = _create(client, auth)["id"]
    bad = client.post("/api/v1/campaigns", json=email_campaign(promotion_id=999), headers=auth)
    assert bad.status_code == 422
    assert bad.json["error"]["fields"] == {"promotion_id": "promotion 999 does not exist"}
    campaign = client.post(
        "/api/v1/campaigns", json=email_campaign(promotion_id=pid), headers=auth
    ).json
    assert campaign["promotion_id"] == pid
    assert (
        client.get(f"/api/v1/campaigns/{campaign['id']}", headers=auth).json["promotion_id"] == pid
    )
    detached = client.patch(
        f"/api/v1/campaigns/{campaign['id']}", json={"promotion_id": None}, headers=auth
    )
    assert detached.json["promotion_id"] is None

    journey = client.post("/api/v1/journeys", json={**welcome(), "promotion_id": pid}, headers=auth)
    assert journey.status_code == 201, journey.json
    assert journey.json["promotion_id"] == pid
    with db.session() as session:
        steps = [session.get(Campaign, c) for c in journey.json["step_campaigns"].values()]
        assert {c.promotion_id for c in steps} == {pid}  # its messages count for the promotion
    assert client.get(f"/api/v1/promotions/{pid}", headers=auth).json["campaign_ids"] == sorted(
        c.id for c in steps
    )
    moved = client.patch(
        f"/api/v1/journeys/{journey.json['id']}", json={"promotion_id": None}, headers=auth
    )
    assert moved.json["promotion_id"] is None
    bad_journey = client.patch(
        f"/api/v1/journeys/{journey.json['id']}", json={"promotion_id": "x"}, headers=auth
    )
    assert bad_journey.status_code == 422


def test_deleting_detaches_drafts_but_is_refused_once_a_campaign_has_sent(client, auth, db):
    pid = _create(client, auth)["id"]
    draft = client.post(
        "/api/v1/campaigns", json=email_campaign(promotion_id=pid), headers=auth
    ).json
    journey = client.post(
        "/api/v1/journeys", json={**welcome(), "promotion_id": pid}, headers=auth
    ).json
    assert client.delete(f"/api/v1/promotions/{pid}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/campaigns/{draft['id']}", headers=auth).json["promotion_id"] is None
    assert (
        client.get(f"/api/v1/journeys/{journey['id']}", headers=auth).json["promotion_id"] is None
    )

    pid = _create(client, auth)["id"]
    sent = client.post(
        "/api/v1/campaigns", json=email_campaign(promotion_id=pid), headers=auth
    ).json
    with db.session() as session:
        session.add(Run(campaign_id=sent["id"], status="sent", due_at=clock.now()))
    refused = client.delete(f"/api/v1/promotions/{pid}", headers=auth)
    assert refused.status_code == 409
    assert "has sent messages" in refused.json["error"]["message"]
    assert client.get(f"/api/v1/promotions/{pid}", headers=auth).status_code == 200


def test_the_double_11_template_fills_in_a_promotion_and_draft_campaigns(client, auth, db):
    gallery = client.get("/api/v1/promotion-templates", headers=auth).json["items"]
    keys = [t["key"] for t in gallery]
    assert keys == [
        "double11",
        "double12",
        "spring_festival",
        "618",
        "member_day",
        "flash_sale",
        "launch",
        "winback",
    ]
    double11 = gallery[0]
    assert double11["next"]["first_day"][4:] == "-11-01"
    assert double11["next"]["last_day"][4:] == "-11-11"
    assert [c["channel"] for c in double11["campaigns"]] == [
        "email",
        "member_day",
        "email",
        "sms",
        "social",
    ]
    applied = client.post(
        "/api/v1/promotion-templates/double11/apply", json={"year": 2027}, headers=auth
    )
    assert applied.status_code == 201, applied.json
    promotion = applied.json["promotion"]
    assert promotion["name"] == "Double 11 2027"
    assert promotion["template"] == "double11"
    assert promotion["starts_at"].startswith("2027-10-31T16:00:00")  # 1 November in UTC+0 form
    ids = applied.json["campaign_ids"]
    assert promotion["campaign_ids"] == ids
    campaigns = [client.get(f"/api/v1/campaigns/{i}", headers=auth).json for i in ids]
    assert [(c["channel"], c["status"]) for c in campaigns] == [
        ("email", "draft"),
        ("member_day", "draft"),
        ("email", "draft"),
        ("sms", "draft"),
        ("social", "draft"),
    ]
    assert {c["promotion_id"] for c in campaigns} == {promotion["id"]}
    listed = client.get(f"/api/v1/campaigns?promotion_id={promotion['id']}", headers=auth).json
    assert sorted(c["id"] for c in listed["items"]) == ids
    assert client.get("/api/v1/campaigns?promotion_id=x", headers=auth).status_code == 422
    flash = campaigns[2]
    assert "promotion.ends_at | countdown" in flash["variants"][0]["subject"]
    preview = client.get(f"/api/v1/campaigns/{flash['id']}/preview", headers=auth).json
    assert preview["promotion"]["name"] == "Double 11 2027"
    assert "left" in preview["subject"]

    over = client.post(
        "/api/v1/promotion-templates/double11/apply", json={"year": 2025}, headers=auth
    )
    assert over.status_code == 422
    assert "choose 2026" in over.json["error"]["message"]
    unknown = client.post("/api/v1/promotion-templates/easter/apply", json={}, headers=auth)
    assert unknown.status_code == 404
    no_date = client.post(
        "/api/v1/promotion-templates/spring_festival/apply", json={"year": 2040}, headers=auth
    )
    assert no_date.status_code == 422
    assert "not known" in no_date.json["error"]["message"]


@pytest.mark.parametrize(
    "key", ["double12", "spring_festival", "618", "member_day", "flash_sale", "launch", "winback"]
)
def test_every_gallery_template_passes_the_save_checks(client, auth, key):
    applied = client.post(f"/api/v1/promotion-templates/{key}/apply", headers=auth)
    assert applied.status_code == 201, applied.json
    assert len(applied.json["campaign_ids"]) >= 2


def test_the_calendar_shows_the_promotion_as_a_span_with_its_campaigns(client, auth):
    applied = client.post(
        "/api/v1/promotion-templates/double11/apply", json={"year": 2027}, headers=auth
    ).json
    items = client.get("/api/v1/calendar?from=2027-11-01&to=2027-11-30", headers=auth).json["items"]
    spans = [i for i in items if i["kind"] == "promotion"]
    assert len(spans) == 1
    assert spans[0]["first_day"] == "2027-11-01" and spans[0]["last_day"] == "2027-11-11"
    assert spans[0]["campaign_ids"] == applied["campaign_ids"]
    sends = [i for i in items if i["kind"] != "promotion"]
    assert {i["promotion_id"] for i in sends} == {applied["promotion"]["id"]}
    assert len(sends) == 5
    # a window that only touches the last day still shows it
    late = client.get("/api/v1/calendar?from=2027-11-11&to=2027-11-11", headers=auth).json
    assert [i["kind"] for i in late["items"]].count("promotion") == 1
    after = client.get("/api/v1/calendar?from=2027-11-12&to=2027-11-30", headers=auth).json
    assert [i["kind"] for i in after["items"]].count("promotion") == 0


def test_a_preview_without_a_promotion_shows_a_sample_one(client, auth):
    body = email_campaign()
    body["variants"][0]["subject"] = (
        "{{ promotion.name }} ends in {{ promotion.ends_at | countdown }}"
    )
    campaign = client.post("/api/v1/campaigns", json=body, headers=auth).json
    preview = client.get(f"/api/v1/campaigns/{campaign['id']}/preview", headers=auth).json
    assert preview["promotion"] == {"id": None, "name": "Double 11 (sample)"}
    assert preview["subject"] == "Double 11 (sample) ends in 2 days 4 hours"
