"""Promotions in the admin through Flask's test client: roles, problems at their fields with
nothing written, the gallery's refusals, adding and taking out campaigns, deleting."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from herald.campaigns.models import Campaign, Run
from herald.campaigns.promotions import Promotion
from herald.core import clock
from herald.journeys.models import Journey
from tests.journeys.support import welcome
from tests.web.test_admin import csrf_token, login, make_campaign, users  # noqa: F401

FORM = {
    "name": "Spring launch",
    "kind": "launch",
    "starts_at": "2027-03-01T10:00",
    "ends_at": "2027-03-08T10:00",
    "goal_metric": "orders",
    "goal_target": "500",
    "budget": "10000",
    "description": "",
}


def _count(db) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return session.scalar(select(func.count(Promotion.id)))


def test_a_viewer_reads_promotions_but_cannot_change_them(client, db, users):  # noqa: F811
    login(client, users["viewer"])
    assert client.get("/admin/promotions/").status_code == 200
    assert client.get("/admin/promotions/templates/").status_code == 200
    assert client.get("/admin/promotions/new/").status_code == 403
    token = csrf_token(client, "/admin/promotions/templates/")
    applied = client.post(
        "/admin/promotions/templates/double11/apply", data={"csrf_token": token, "year": ""}
    )
    assert applied.status_code == 403
    assert _count(db) == 0


def test_the_form_names_each_problem_and_writes_nothing(client, db, users):  # noqa: F811
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/promotions/new/")
    for change, words in (
        ({"ends_at": "2027-02-01T10:00"}, "ends before it starts"),
        ({"goal_target": "-3"}, "cannot be negative"),
        ({"budget": "a lot"}, "the budget must be a number"),
        ({"name": ""}, "give the promotion a name"),
        ({"starts_at": ""}, "say when the promotion starts"),
    ):
        page = client.post("/admin/promotions/new/", data={**FORM, **change, "csrf_token": token})
        assert page.status_code == 200
        assert words in page.text
        assert "invalid-feedback" in page.text
    assert _count(db) == 0
    saved = client.post("/admin/promotions/new/", data={**FORM, "csrf_token": token})
    assert saved.status_code == 302
    with db.session() as session:
        promotion = session.scalars(select(Promotion)).one()
        # typed in the shop's zone (UTC here)
        assert promotion.starts_at.isoformat() == "2027-03-01T10:00:00+00:00"
        assert (promotion.goal_metric, int(promotion.goal_target)) == ("orders", 500)
    edit = client.get(f"/admin/promotions/{promotion.id}/edit/")
    assert 'value="2027-03-01T10:00"' in edit.text and 'value="10000"' in edit.text


def test_the_gallery_says_why_it_refuses_a_year(client, db, users):  # noqa: F811
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/promotions/templates/")
    for year, words in (("2020", "has begun or is over"), ("next", "must be a year")):
        page = client.post(
            "/admin/promotions/templates/double11/apply",
            data={"csrf_token": token, "year": year},
            follow_redirects=True,
        )
        assert words in page.text
    assert _count(db) == 0


def test_campaigns_are_added_taken_out_and_a_sent_promotion_is_kept(client, db, users):  # noqa: F811
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/promotions/new/")
    client.post("/admin/promotions/new/", data={**FORM, "csrf_token": token})
    campaign_id = make_campaign(db)
    with db.session() as session:
        pid = session.scalar(select(Promotion.id))
    page = client.get(f"/admin/promotions/{pid}/")
    assert f'<option value="{campaign_id}">' in page.text
    added = client.post(
        f"/admin/promotions/{pid}/campaigns",
        data={"csrf_token": token, "campaign_id": str(campaign_id), "do": "add"},
        follow_redirects=True,
    )
    assert "is now part of Spring launch" in added.text
    detail = client.get(f"/admin/campaigns/{campaign_id}/")
    assert f'href="/admin/promotions/{pid}/"' in detail.text

    with db.session() as session:
        session.add(Run(campaign_id=campaign_id, status="sent", due_at=clock.now()))
        session.commit()
    refused = client.post(
        f"/admin/promotions/{pid}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Not deleted" in refused.text and "has sent messages" in refused.text
    assert _count(db) == 1

    client.post(
        f"/admin/promotions/{pid}/campaigns",
        data={"csrf_token": token, "campaign_id": str(campaign_id), "do": "remove"},
    )
    with db.session() as session:
        assert session.get(Campaign, campaign_id).promotion_id is None
    deleted = client.post(
        f"/admin/promotions/{pid}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "deleted; its campaigns are kept" in deleted.text
    assert _count(db) == 0


def test_the_journey_builder_takes_and_shows_a_promotion_id(client, db, users):  # noqa: F811
    login(client, users["marketer"])
    token = csrf_token(client, "/admin/promotions/new/")
    client.post("/admin/promotions/new/", data={**FORM, "csrf_token": token})
    with db.session() as session:
        pid = session.scalar(select(Promotion.id))
    definition = {**welcome(), "promotion_id": pid}
    checked = client.post(
        "/admin/journeys/check",
        data=json.dumps(definition),
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    assert checked.json["ok"] is True, checked.json
    saved = client.post(
        "/admin/journeys/new", data={"csrf_token": token, "definition": json.dumps(definition)}
    )
    assert saved.status_code == 302
    with db.session() as session:
        journey = session.scalars(select(Journey)).one()
        assert journey.promotion_id == pid
    edit = client.get(f"/admin/journeys/{journey.id}/edit")
    assert f"&#34;promotion_id&#34;: {pid}" in edit.text or f'"promotion_id": {pid}' in edit.text
    page = client.get(f"/admin/promotions/{pid}/")
    assert f'href="/admin/journeys/{journey.id}/"' in page.text
