"""The journeys API: create a draft, list with a cursor, read, change, activate, pause, and
validation answered as a 422 naming the step."""

from __future__ import annotations

from tests.journeys.support import welcome


def test_create_read_list_and_change(client, auth):  # type: ignore[no-untyped-def]
    created = client.post("/api/v1/journeys", json=welcome(), headers=auth)
    assert created.status_code == 201, created.json
    journey = created.json
    assert journey["status"] == "draft"
    assert set(journey["step_campaigns"]) == {"hello", "offer", "sms"}
    read = client.get(f"/api/v1/journeys/{journey['id']}", headers=auth).json
    assert read["steps"][1] == {"id": "wait1", "type": "wait", "minutes": 2880, "next": "opened?"}
    for n in range(3):
        client.post("/api/v1/journeys", json=welcome(name=f"Other {n}"), headers=auth)
    first = client.get("/api/v1/journeys?limit=3", headers=auth).json
    assert [j["name"] for j in first["items"]] == ["Other 2", "Other 1", "Other 0"]
    rest = client.get(f"/api/v1/journeys?limit=3&cursor={first['next_cursor']}", headers=auth)
    assert [j["name"] for j in rest.json["items"]] == ["Welcome series"]
    assert rest.json["next_cursor"] is None
    assert client.get("/api/v1/journeys?cursor=zzz", headers=auth).status_code == 422
    steps = read["steps"]
    steps[0]["variants"][0]["subject"] = "Welcome aboard"
    changed = client.patch(f"/api/v1/journeys/{journey['id']}", json={"steps": steps}, headers=auth)
    assert changed.status_code == 200, changed.json
    assert changed.json["steps"][0]["variants"][0]["subject"] == "Welcome aboard"
    assert changed.json["step_campaigns"] == journey["step_campaigns"]


def test_activate_and_pause(client, auth):  # type: ignore[no-untyped-def]
    journey = client.post("/api/v1/journeys", json=welcome(), headers=auth).json
    path = f"/api/v1/journeys/{journey['id']}"
    assert client.post(f"{path}/pause", headers=auth).status_code == 409
    active = client.post(f"{path}/activate", headers=auth)
    assert active.status_code == 200 and active.json["status"] == "active"
    assert client.post(f"{path}/activate", headers=auth).status_code == 409
    assert client.post(f"{path}/pause", headers=auth).json["status"] == "paused"
    stats = client.get(f"{path}/stats", headers=auth).json
    assert stats["entered"] == 0 and set(stats["steps"]) == {
        "hello",
        "wait1",
        "opened?",
        "offer",
        "sms",
    }
    assert client.get("/api/v1/journeys/999/stats", headers=auth).status_code == 404


def test_a_broken_graph_is_a_422_naming_the_step(client, auth):  # type: ignore[no-untyped-def]
    body = welcome()
    body["steps"][3]["next"] = "nowhere"
    answer = client.post("/api/v1/journeys", json=body, headers=auth)
    assert answer.status_code == 422
    assert (
        answer.json["error"]["message"]
        == "steps.offer: step 'offer': leads to unknown step 'nowhere'"
    )
    assert "steps.offer" in answer.json["error"]["fields"]
    body = welcome()
    body["steps"][0]["variants"][0]["subject"] = "Hi {{ contact.first_name"
    answer = client.post("/api/v1/journeys", json=body, headers=auth)
    assert answer.status_code == 422
    assert "step 'hello'" in answer.json["error"]["message"]
    assert any(k.startswith("steps.hello.variants[0]") for k in answer.json["error"]["fields"])
    body = welcome(
        entry={"event": "order.placed", "filter": {"field": "nope", "op": "eq", "value": 1}}
    )
    answer = client.post("/api/v1/journeys", json=body, headers=auth)
    assert answer.status_code == 422 and "nope" in answer.json["error"]["message"]
    assert client.get("/api/v1/journeys", headers=auth).json["items"] == []
