"""Every admin endpoint refuses anonymous users, too-low roles and missing CSRF tokens; every API
endpoint refuses no token, a wrong token and a too-low role. Both walk Flask's route map, so a
route added tomorrow is checked without anyone remembering to list it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from werkzeug.routing import Rule

from herald.core.accounts import create_token
from herald.web.api import OPERATIONS
from tests.conftest import make_settings
from tests.web.test_admin import csrf_token, login, users  # noqa: F401  (fixture)

# the only admin routes anyone may use: logging in and out, and the vendored static files
PUBLIC_ADMIN = {"herald_auth.login", "herald_auth.logout", "admin.static"}
ADMIN_ONLY_PREFIXES = ("/admin/users/", "/admin/tokens/")
# Flask-Admin view functions that show a form for a change (read-only roles get 403 on GET too)
WRITE_FORMS = {"create_view", "edit_view"}
# POSTs that read only (viewers may preview, as in the API): the segment builder's live count,
# the campaign builder's preview and schedule occurrences, the journey builder's graph check
READ_POSTS = {
    "segments.preview_view",
    "builder.preview_view",
    "builder.schedule_view",
    "journeys.check",
}
SAMPLE_ARGS = {
    "export_type": "csv",
    "filename": "1700000000-1.eml",
    "action": "pause",
    "tier": "gold",
}


@pytest.fixture
def settings(tmp_path, database_url):  # type: ignore[no-untyped-def]
    # the route walk sends many refused requests from one address on purpose
    return make_settings(
        tmp_path,
        database_url,
        api_auth_failure_limit="10000 per minute",
        api_rate_limit="10000 per minute",
    )


def _url(rule: Rule) -> str:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        values[name] = (
            1 if type(converter).__name__ == "IntegerConverter" else SAMPLE_ARGS.get(name, "x")
        )
    return rule.build(values)[1]  # type: ignore[index]


def _admin_routes(app) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(endpoint, method, url) for every admin route."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint in PUBLIC_ADMIN:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, _url(rule)))
    assert len(routes) > 50, "the admin's routes were not found"
    return routes


def _call(client, method: str, url: str, token: str | None):  # type: ignore[no-untyped-def]
    data = {"csrf_token": token} if token else {}
    return client.open(url, method=method, data=data)


def _is_write(endpoint: str, method: str) -> bool:
    if endpoint in READ_POSTS:
        return False
    return method != "GET" or endpoint.rsplit(".", 1)[1] in WRITE_FORMS


def test_every_admin_endpoint_refuses_anonymous_users(app):
    client = app.test_client()
    token = csrf_token(client)  # a valid token: the refusal must come from the login check
    wrong = []
    for endpoint, method, url in _admin_routes(app):
        answer = _call(client, method, url, token)
        refused = answer.status_code in (401, 403) or (
            answer.status_code == 302 and "/admin/login" in answer.location
        )
        if not refused:
            wrong.append((endpoint, method, answer.status_code))
    assert wrong == []


@pytest.mark.parametrize("role", ["viewer", "marketer"])
def test_every_admin_endpoint_refuses_too_low_roles(app, users, role):  # noqa: F811
    client = app.test_client()
    login(client, users[role])
    token = csrf_token(client, "/admin/")
    wrong, checked = [], 0
    for endpoint, method, url in _admin_routes(app):
        admin_only = url.startswith(ADMIN_ONLY_PREFIXES)
        if not (admin_only or (role == "viewer" and _is_write(endpoint, method))):
            continue
        checked += 1
        answer = _call(client, method, url, token)
        if answer.status_code != 403:
            wrong.append((endpoint, method, answer.status_code))
    assert checked > 20
    assert wrong == []


def test_every_admin_post_refuses_a_missing_csrf_token(app, users):  # noqa: F811
    client = app.test_client()
    login(client, users["admin"])
    wrong, checked = [], 0
    for endpoint, method, url in _admin_routes(app):
        if method == "GET":
            continue
        checked += 1
        answer = _call(client, method, url, None)
        if answer.status_code != 400 or "CSRF" not in answer.text:
            wrong.append((endpoint, method, answer.status_code))
    assert checked > 15
    assert wrong == []


def test_logout_also_needs_a_csrf_token(app, users):  # noqa: F811
    client = app.test_client()
    login(client, users["viewer"])
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200  # still logged in


# --------------------------------------------------------------------------- API


def _operation(rule: Rule, method: str) -> Any:
    # ids are <int:id>; text parameters (a gallery template's key, a tier's name) are <key>,
    # <tier>; both read {name} in OpenAPI
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
    found = [op for op in OPERATIONS if op.path == path and op.method == method]
    assert found, f"{method} {rule.rule} is not registered with @operation (undocumented)"
    return found[0]


def _api_routes(app) -> list[tuple[str, str, Any]]:  # type: ignore[no-untyped-def]
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, _url(rule), _operation(rule, method)))
    assert len(routes) > 25, "the API's routes were not found"
    return routes


def test_every_api_endpoint_refuses_no_token_and_a_wrong_token(app):
    client = app.test_client()
    wrong = []
    for method, url, op in _api_routes(app):
        if op.public:
            assert url == "/api/v1/openapi.json", f"{method} {url} is public"
            continue
        for headers in (
            {},
            {"Authorization": "Bearer hrld_not-a-real-token"},
            {"Authorization": "Basic YWRtaW46YWRtaW4="},
            {"Authorization": "Bearer "},
        ):
            answer = client.open(url, method=method, headers=headers, json={})
            if answer.status_code != 401 or answer.json["error"]["code"] != "unauthorized":
                wrong.append((method, url, headers, answer.status_code))
    assert wrong == []


def test_every_api_endpoint_refuses_a_revoked_token(app, db):
    from herald.core.accounts import ApiToken

    with db.session() as session:
        token, plain = create_token(session, "old", "admin")
        session.get(ApiToken, token.id).revoked = True
    client = app.test_client()
    for method, url, op in _api_routes(app):
        if op.public:
            continue
        answer = client.open(url, method=method, headers={"Authorization": f"Bearer {plain}"})
        assert answer.status_code == 401, (method, url)


def test_every_api_write_endpoint_refuses_a_viewer_token(app, db):
    with db.session() as session:
        _, viewer = create_token(session, "viewer", "viewer")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {viewer}"}
    wrong, reads = [], 0
    for method, url, op in _api_routes(app):
        answer = client.open(url, method=method, headers=headers, json={})
        if op.write:
            if answer.status_code != 403:
                wrong.append((method, url, answer.status_code))
        else:
            reads += 1
            if answer.status_code in (401, 403):
                wrong.append((method, url, answer.status_code))
    assert reads > 8
    assert wrong == []


def test_every_api_change_is_a_write_operation():
    """A route that changes data but is not marked ``write`` would let viewers change it."""
    reads_that_post = {("POST", "/segments/preview")}  # a live count: it stores nothing
    for op in OPERATIONS:
        if op.method in ("POST", "PATCH", "PUT", "DELETE") and not op.public:
            assert op.write or (op.method, op.path) in reads_that_post, (op.method, op.path)
