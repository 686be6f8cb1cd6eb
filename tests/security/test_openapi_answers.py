"""Finding "OpenAPI omits nullability and the 200-on-update and 204 answers": the everyday answers
of the API (members without optional fields, an upsert that updates, an erasure) match the
document exactly, status code and body."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from tests.helpers import email_campaign


def _check(document: dict[str, Any], method: str, path: str, answer: Any) -> None:
    """The answer's status is documented for the operation and its body matches the schema."""
    operation = document["paths"][path][method.lower()]
    status = str(answer.status_code)
    assert status in operation["responses"], f"{method} {path} answered undocumented {status}"
    documented = operation["responses"][status]
    if answer.status_code == 204:
        assert "content" not in documented and answer.data == b""
        return
    schema = documented["content"]["application/json"]["schema"]
    validator = jsonschema_rs.Draft202012Validator(schema)
    errors = [str(e) for e in validator.iter_errors(answer.json)]
    assert errors == [], f"{method} {path} {status}: {errors}"


def test_openapi_documents_nullable_fields_200_on_update_and_204(client, auth):
    document = client.get("/api/v1/openapi.json").json
    first = client.post("/api/v1/contacts", json={"email": "ann@example.com"}, headers=auth)
    assert first.status_code == 201
    _check(document, "POST", "/contacts", first)  # phone, names, birthday... are null
    again = client.post(
        "/api/v1/contacts", json={"email": "ann@example.com", "first_name": "Ann"}, headers=auth
    )
    assert again.status_code == 200
    _check(document, "POST", "/contacts", again)
    contact_id = first.json["id"]
    _check(
        document,
        "GET",
        "/contacts/{id}",
        client.get(f"/api/v1/contacts/{contact_id}", headers=auth),
    )
    _check(
        document,
        "PATCH",
        "/contacts/{id}",
        client.patch(f"/api/v1/contacts/{contact_id}", json={"phone": None}, headers=auth),
    )
    segment = client.post("/api/v1/segments", json={"name": "All", "rules": {}}, headers=auth)
    _check(document, "POST", "/segments", segment)
    _check(document, "GET", "/segments", client.get("/api/v1/segments", headers=auth))
    campaign = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth)
    _check(document, "POST", "/campaigns", campaign)
    campaign_id = campaign.json["id"]
    _check(
        document,
        "GET",
        "/campaigns/{id}",
        client.get(f"/api/v1/campaigns/{campaign_id}", headers=auth),
    )
    _check(
        document,
        "GET",
        "/campaigns/{id}/stats",
        client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=auth),
    )
    trigger = client.post(
        "/api/v1/triggers",
        json={
            "name": "Cart reminder",
            "event": "cart.abandoned",
            "delay_minutes": 60,
            "channel": "email",
            "variants": email_campaign()["variants"],
        },
        headers=auth,
    )
    _check(document, "POST", "/triggers", trigger)
    listed = client.post("/api/v1/lists", json={"name": "VIP"}, headers=auth)
    _check(document, "POST", "/lists", listed)
    erased = client.delete(f"/api/v1/contacts/{contact_id}", headers=auth)
    _check(document, "DELETE", "/contacts/{id}", erased)
    _check(
        document,
        "GET",
        "/contacts/{id}",
        client.get(f"/api/v1/contacts/{contact_id}", headers=auth),
    )
