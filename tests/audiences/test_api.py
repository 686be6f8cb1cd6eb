"""The audiences API: bulk upsert, erasure, export, segments and previews, lists, suppressions."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from herald.audiences import suppression
from herald.core.db import Database


def _post(client: FlaskClient, auth: dict[str, str], path: str, body: Any) -> Any:
    return client.post(f"/api/v1{path}", json=body, headers=auth)


def test_bulk_upsert_counts_and_names_rejected_items(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    items = [
        {"external_id": "c1", "email": "Ann@Example.com", "tier": "gold"},
        {"external_id": "c2", "email": "not-an-email"},
        {"external_id": "c3", "email": "bob@example.com", "timezone": "Mars/Base"},
        {"email": "li@example.com", "consent": {"email": True}},
    ]
    first = _post(client, auth, "/contacts/bulk", {"contacts": items})
    assert first.status_code == 200, first.json
    assert first.json["created"] == 2
    assert [r["index"] for r in first.json["rejected"]] == [1, 2]
    assert first.json["rejected"][1]["error"]["field"] == "timezone"
    again = _post(client, auth, "/contacts/bulk", {"contacts": [items[0], items[3]]})
    assert again.json == {"created": 0, "updated": 0, "unchanged": 2, "rejected": []}
    changed = _post(
        client, auth, "/contacts/bulk", {"contacts": [{"external_id": "c1", "points": 9}]}
    )
    assert changed.json["updated"] == 1


def test_bulk_rejects_more_than_ten_thousand(client: FlaskClient, auth: dict[str, str]) -> None:
    answer = _post(client, auth, "/contacts/bulk", {"contacts": [{}] * 10_001})
    assert answer.status_code == 422
    assert "contacts" in answer.json["error"]["fields"]


def test_erasure_blanks_personal_data_and_keeps_counts(
    client: FlaskClient, auth: dict[str, str], db: Database
) -> None:
    created = _post(client, auth, "/contacts", {"email": "ann@example.com", "first_name": "Ann"})
    cid = created.json["id"]
    assert _post(client, auth, "/segments/preview", {"rules": {}}).json["count"] == 1
    export = client.get(f"/api/v1/contacts/{cid}/export", headers=auth)
    assert export.status_code == 200
    assert export.json["contact"]["email"] == "ann@example.com"
    assert client.delete(f"/api/v1/contacts/{cid}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/contacts/{cid}", headers=auth).status_code == 404
    assert _post(client, auth, "/segments/preview", {"rules": {}}).json["count"] == 0
    from sqlalchemy import func, select

    from herald.audiences.models import Contact

    with db.session() as session:
        row = session.get(Contact, cid)
        assert row is not None and row.email is None and row.first_name is None
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_segments_save_preview_and_name_bad_rules(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    for i, tier in enumerate(["new", "silver", "gold"]):
        _post(client, auth, "/contacts", {"email": f"m{i}@example.com", "tier": tier})
    rules = {"field": "tier", "op": "gte", "value": "silver"}
    saved = _post(client, auth, "/segments", {"name": "silver+", "rules": rules})
    assert saved.status_code == 201
    preview = client.get(f"/api/v1/segments/{saved.json['id']}/preview", headers=auth)
    assert preview.json["count"] == 2
    assert {c["tier"] for c in preview.json["sample"]} == {"silver", "gold"}
    bad = _post(
        client, auth, "/segments/preview", {"rules": {"field": "shoe", "op": "eq", "value": 1}}
    )
    assert bad.status_code == 422
    assert "shoe" in bad.json["error"]["message"]
    bad_op = _post(
        client, auth, "/segments", {"name": "x", "rules": {"field": "tier", "op": "like"}}
    )
    assert bad_op.status_code == 422 and "rules.op" in bad_op.json["error"]["fields"]
    assert _post(client, auth, "/segments", {"name": "silver+", "rules": rules}).status_code == 409


def test_a_static_list_is_a_segment_rule(client: FlaskClient, auth: dict[str, str]) -> None:
    ids = [
        _post(client, auth, "/contacts", {"email": f"m{i}@example.com"}).json["id"]
        for i in range(3)
    ]
    made = _post(client, auth, "/lists", {"name": "VIP"})
    assert made.status_code == 201
    list_id = made.json["id"]
    added = _post(
        client,
        auth,
        f"/lists/{list_id}/members",
        {"ids": [ids[0], 999], "emails": ["M1@example.com"]},
    )
    assert added.json == {"added": 2, "already": 0, "not_found": [999]}
    again = _post(client, auth, f"/lists/{list_id}/members", {"ids": [ids[0]]})
    assert again.json["already"] == 1
    preview = _post(client, auth, "/segments/preview", {"rules": {"list": list_id}})
    assert preview.json["count"] == 2


def test_a_suppression_wins_over_later_consent(
    client: FlaskClient, auth: dict[str, str], db: Database
) -> None:
    body = {"email": "ann@example.com", "consent": {"email": True}}
    cid = _post(client, auth, "/contacts", body).json["id"]
    with db.session() as session:
        suppression.suppress(session, "email", "ANN@example.com", "hard_bounce", "550 no such user")
    assert client.get(f"/api/v1/contacts/{cid}", headers=auth).json["consent"] == {"email": False}
    _post(client, auth, "/contacts", body)
    _post(client, auth, "/contacts/bulk", {"contacts": [body]})
    assert client.get(f"/api/v1/contacts/{cid}", headers=auth).json["consent"] == {"email": False}
    rules = {"field": "consent.email", "op": "eq", "value": True}
    assert _post(client, auth, "/segments/preview", {"rules": rules}).json["count"] == 0
    manual = _post(client, auth, "/suppressions", {"channel": "sms", "address": "+8613800138000"})
    assert manual.status_code == 201 and manual.json["reason"] == "manual"


def test_a_new_member_twice_in_one_bulk_call_is_created_once(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    items = [
        {"external_id": "d1", "email": "d@example.com", "attributes": {"a": 1}},
        {"external_id": "d1", "attributes": {"b": 2}, "consent": {"sms": True}},
        {"external_id": "d1", "attributes": {"b": 2}},
        {"external_id": "e1", "email": "e@example.com"},
        {"external_id": "e1", "email": "d@example.com"},
    ]
    answer = _post(client, auth, "/contacts/bulk", {"contacts": items})
    assert answer.json["created"] == 2 and answer.json["updated"] == 1
    assert answer.json["unchanged"] == 1
    assert answer.json["rejected"] == [
        {"index": 4, "error": {"field": "email", "message": "belongs to another contact"}}
    ]
    found = _post(client, auth, "/segments/preview", {"rules": {}}).json["sample"][0]
    assert found["attributes"] == {"a": 1, "b": 2} and found["consent"] == {"sms": True}
