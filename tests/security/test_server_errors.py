"""Finding "500s": each input that used to crash the server now gets the contract's answer, on
SQLite and PostgreSQL alike."""

from __future__ import annotations

import base64
import json
import time

import pytest
from sqlalchemy import func, select

from herald.audiences.models import Contact, Segment, WebhookInbox
from herald.core.accounts import create_token
from herald.web.webhooks.email import sign
from tests.conftest import make_settings
from tests.web.test_admin import csrf_token, login, users  # noqa: F401  (fixture)

KEY = b"a shop webhook key of 32 bytes!!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()


@pytest.fixture
def settings(tmp_path, database_url):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, database_url, shop_webhook_secret=SECRET)


def _contact(client, auth, external_id: str, email: str) -> int:  # type: ignore[no-untyped-def]
    answer = client.post(
        "/api/v1/contacts", json={"external_id": external_id, "email": email}, headers=auth
    )
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def test_patch_a_contact_to_another_contacts_external_id_is_a_409(client, auth):
    _contact(client, auth, "ann", "ann@example.com")
    bob = _contact(client, auth, "bob", "bob@example.com")
    answer = client.patch(f"/api/v1/contacts/{bob}", json={"external_id": "ann"}, headers=auth)
    assert answer.status_code == 409
    assert answer.json["error"]["fields"] == {"external_id": "belongs to another contact"}
    assert client.get(f"/api/v1/contacts/{bob}", headers=auth).json["external_id"] == "bob"
    # its own external_id again is no conflict
    same = client.patch(f"/api/v1/contacts/{bob}", json={"external_id": "bob"}, headers=auth)
    assert same.status_code == 200


def test_list_members_with_ids_beyond_int32_are_not_found_not_a_500(client, auth):
    ann = _contact(client, auth, "ann", "ann@example.com")
    made = client.post("/api/v1/lists", json={"name": "VIP"}, headers=auth)
    assert made.status_code == 201
    answer = client.post(
        f"/api/v1/lists/{made.json['id']}/members",
        json={"ids": [ann, 2**31, 2**63 + 5, -1, 0]},
        headers=auth,
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["not_found"] == [2**31, 2**63 + 5, -1, 0]


@pytest.mark.parametrize("depth", [33, 200, 900])
def test_segment_preview_with_rules_nested_deep_is_a_422(client, db, depth):
    with db.session() as session:
        _, viewer = create_token(session, "viewer", "viewer")  # viewers may preview
    raw = '{"field": "tier", "op": "eq", "value": "gold"}'
    for level in range(depth):
        raw = f'{{"not": {raw}}}' if level % 2 else f'{{"all": [{raw}]}}'
    answer = client.post(
        "/api/v1/segments/preview",
        data='{"rules": ' + raw + "}",
        headers={"Authorization": f"Bearer {viewer}", "Content-Type": "application/json"},
    )
    if depth > 500:  # beyond what the JSON parser itself nests: malformed, never a 500
        assert answer.status_code == 400, answer.json
        return
    assert answer.status_code == 422, answer.json
    assert "nested too deep" in json.dumps(answer.json["error"])


def test_segment_preview_nested_within_the_limit_still_works(client, auth):
    rules: dict = {"field": "tier", "op": "eq", "value": "gold"}
    for _ in range(30):
        rules = {"all": [rules]}
    answer = client.post("/api/v1/segments/preview", json={"rules": rules}, headers=auth)
    assert answer.status_code == 200, answer.json


def test_admin_bulk_delete_selected_works_on_both_databases(client, db, users):  # noqa: F811
    with db.session() as session:
        ids = []
        for name in ("one", "two", "three"):
            segment = Segment(name=name, rules={})
            session.add(segment)
            session.flush()
            ids.append(segment.id)
    login(client, users["marketer"])
    answer = client.post(
        "/admin/segments/action/",
        data={
            "action": "delete",
            "rowid": [str(ids[0]), str(ids[1]), "99999999999", "x"],
            "url": "/admin/segments/",
            "csrf_token": csrf_token(client, "/admin/segments/"),
        },
    )
    assert answer.status_code == 302
    with db.session() as session:
        left = session.scalars(select(Segment.id)).all()
    assert left == [ids[2]]


# --------------------------------------------------------------------------- webhooks


def _signed(client, raw: bytes, path: str = "/webhooks/shop", webhook_id: str = "msg_1"):  # type: ignore[no-untyped-def]
    headers = sign(SECRET, webhook_id, raw, int(time.time()))
    return client.post(path, data=raw, headers=headers)


def _inbox_rows(db) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(WebhookInbox))


CUSTOMER = '{"type": "customer.updated", "data": {"customer": {"external_id": "c1", "points": %s}}}'


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_signed_shop_webhook_with_nan_or_huge_numbers_is_a_400(client, db, number):
    answer = _signed(client, (CUSTOMER % number).encode())
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["code"] == "malformed"
    assert _inbox_rows(db) == 0


@pytest.mark.parametrize("depth", [100_000, 5_000, 40])
def test_signed_shop_webhook_nested_deep_is_refused_not_a_500(client, db, depth):
    raw = '{"type": "customer.updated", "data": {"customer": {"external_id": "c1", "attributes": '
    raw += '{"a": ' * depth + "1" + "}" * depth + "}}}"
    answer = _signed(client, raw.encode())
    assert answer.status_code in (400, 422), answer.json
    assert _inbox_rows(db) == 0


def test_signed_shop_webhook_with_nul_in_a_text_is_a_422(client, db):
    body = {"type": "customer.created", "data": {"customer": {"external_id": "c\u00001"}}}
    answer = _signed(client, json.dumps(body).encode())
    assert answer.status_code == 422
    assert "data.customer.external_id" in answer.json["error"]["fields"]
    assert _inbox_rows(db) == 0


def test_signed_non_utf8_webhook_body_is_a_400(client, db):
    answer = _signed(client, b'{"type": "customer.created", "data": "\xff\xfe"}')
    assert answer.status_code == 400
    assert "UTF-8" in answer.json["error"]["message"]


def test_unsigned_non_utf8_webhook_body_is_still_a_401(client):
    headers = sign(SECRET, "msg_1", b"something else", int(time.time()))
    answer = client.post("/webhooks/shop", data=b"\xff\xfe", headers=headers)
    assert answer.status_code == 401


def test_email_events_webhook_with_a_nul_in_reason_is_a_422_not_a_500(client, db):
    with db.session() as session:
        session.add(Contact(email="ann@example.com", external_id="ann"))
    body = {
        "events": [
            {"type": "bounce", "email": "ann@example.com", "kind": "hard", "reason": "550\u0000x"}
        ]
    }
    answer = _signed(client, json.dumps(body).encode(), "/webhooks/email/events")
    assert answer.status_code == 422, answer.json
    assert "events[0].reason" in answer.json["error"]["fields"]
    assert _inbox_rows(db) == 0


def test_email_events_webhook_with_nan_is_a_400(client, db):
    raw = b'{"events": [{"type": "bounce", "email": "a@example.com", "score": NaN}]}'
    answer = _signed(client, raw, "/webhooks/email/events")
    assert answer.status_code == 400
