"""The builder's JSON endpoints without a browser: login and roles, CSRF, and the same message
for the same bad input as the API (both call the campaign service)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers import email_campaign
from tests.web.test_admin import PASSWORD, login, users  # noqa: F401 (fixture)

META = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def backend() -> str:
    return "sqlite"


def page_token(client: Any) -> str:
    page = client.get("/admin/build/")
    assert page.status_code == 200
    match = META.search(page.text)
    assert match
    return match.group(1)


def builder_body(**overrides: Any) -> dict[str, Any]:
    body = email_campaign(**overrides)
    body.pop("segment_id", None)
    body["audience"] = "everyone"
    return body


@pytest.mark.parametrize("path", ["/admin/build/", "/admin/calendar/"])
def test_anonymous_visitors_go_to_the_login_page(client, path):
    answer = client.get(path)
    assert answer.status_code == 302 and answer.location.startswith("/admin/login")


def test_saving_needs_the_csrf_token_and_a_writer(client, users):  # noqa: F811
    login(client, users["marketer"])
    assert client.post("/admin/build/save.json", json=builder_body()).status_code == 400
    token = page_token(client)
    saved = client.post(
        "/admin/build/save.json", json=builder_body(), headers={"X-CSRFToken": token}
    )
    assert saved.status_code == 200 and saved.json["status"] == "draft"
    client.post("/admin/logout", data={"csrf_token": token})
    login(client, users["viewer"])
    token = page_token(client)
    assert client.get(f"/admin/build/{saved.json['id']}/").status_code == 200
    refused = client.post(
        "/admin/build/save.json", json=builder_body(), headers={"X-CSRFToken": token}
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"variants": [{"name": "A", "subject": "x" * 999, "text": "t"}]}, "variants[0].subject"),
        (
            {"variants": [{"name": "A", "subject": "{{ contact.first_name ", "text": "t"}]},
            "variants[0].subject",
        ),
        ({"name": "n" * 201}, "name"),
        ({"schedule": {"type": "once", "at": "2020-01-01T10:00:00+08:00"}}, "schedule.at"),
    ],
)
def test_the_admin_and_the_api_refuse_alike(client, users, auth, change, field):  # noqa: F811
    api = client.post("/api/v1/campaigns", json=email_campaign(**change), headers=auth)
    assert api.status_code == 422
    login(client, users["marketer"])
    admin = client.post(
        "/admin/build/save.json",
        json=builder_body(**change),
        headers={"X-CSRFToken": page_token(client)},
    ).json
    assert admin["ok"] is False and field in admin["fields"]
    assert admin["error"] == api.json["error"]["message"]
    assert admin["fields"] == api.json["error"]["fields"]


def test_no_silent_everyone_and_a_once_time_from_the_pickers(client, users):  # noqa: F811
    login(client, users["marketer"])
    token = page_token(client)
    body = builder_body()
    body["audience"] = ""
    answer = client.post("/admin/build/save.json", json=body, headers={"X-CSRFToken": token})
    assert answer.json["fields"] == {"segment_id": "pick an audience"}
    body = builder_body(
        schedule={"type": "once", "local": "2999-11-11T10:00", "zone": "Asia/Shanghai"}
    )
    answer = client.post("/admin/build/save.json", json=body, headers={"X-CSRFToken": token})
    assert answer.json["status"] == "draft"
    page = client.get(f"/admin/build/{answer.json['id']}/").text
    assert "2999-11-11T10:00:00+08:00" in page.replace("&#34;", '"').replace("\\u0026", "&")
