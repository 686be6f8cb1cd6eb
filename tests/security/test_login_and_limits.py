"""Findings "login timing", "login throttling per IP only, ignoring a reverse proxy", "unlimited
bad-token API requests" and "429 without Retry-After"."""

from __future__ import annotations

import statistics
import time

import pytest

from herald.core.accounts import create_user
from herald.web.app import create_app
from tests.conftest import make_settings
from tests.web.test_admin import PASSWORD, csrf_token


@pytest.fixture
def viewer(db) -> str:  # type: ignore[no-untyped-def]
    with db.session() as session:
        create_user(session, "viewer@example.com", PASSWORD, "viewer")
    return "viewer@example.com"


def _attempt(client, email: str, password: str = "wrong password", **kw):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client)},
        **kw,
    )


def _timed(client, email: str) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    assert _attempt(client, email).status_code == 401
    return time.perf_counter() - started


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_login_timing_does_not_tell_which_emails_exist(app, viewer):
    app.config["HERALD_LOGIN_RATE_LIMIT"] = "1000 per minute"
    app.config["HERALD_LOGIN_ACCOUNT_RATE_LIMIT"] = "1000 per minute"
    client = app.test_client()
    known, unknown = [], []
    for index in range(8):
        known.append(_timed(client, viewer))
        unknown.append(_timed(client, f"nobody{index}@example.com"))
    fast, slow = statistics.median(unknown), statistics.median(known)
    # before the fix: 13 ms against 177 ms; now both check one password hash
    assert fast > slow * 0.5, (fast, slow)


def test_login_throttling_counts_failures_per_account_across_addresses(app, viewer):
    app.config["HERALD_LOGIN_ACCOUNT_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    codes = [
        _attempt(client, viewer, environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    # another account from the same addresses is not locked out with it
    assert (
        _attempt(client, "other@example.com", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code
        == 401
    )


def test_login_throttling_per_address_lets_the_real_user_in_from_elsewhere(app, viewer):
    app.config["HERALD_LOGIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    attacker = {"REMOTE_ADDR": "198.51.100.7"}
    codes = [
        _attempt(client, f"guess{i}@example.com", environ_base=attacker).status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    answer = _attempt(client, viewer, PASSWORD, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert answer.status_code == 302


def test_login_throttling_a_429_carries_retry_after(app, viewer):
    app.config["HERALD_LOGIN_RATE_LIMIT"] = "1 per minute"
    client = app.test_client()
    _attempt(client, viewer)
    answer = _attempt(client, viewer)
    assert answer.status_code == 429
    assert 0 < int(answer.headers["Retry-After"]) <= 60


def _behind_proxy(tmp_path, db, count: str):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(tmp_path, db.url, proxy_count=count), db)
    app.config.update(TESTING=True, HERALD_LOGIN_RATE_LIMIT="2 per minute")
    return app.test_client()


def test_login_throttling_honours_the_reverse_proxy_when_configured(tmp_path, db, viewer):
    client = _behind_proxy(tmp_path, db, "1")
    proxy = {"REMOTE_ADDR": "10.1.1.1"}  # every request arrives from the proxy

    def from_client(address: str):  # type: ignore[no-untyped-def]
        return _attempt(
            client, viewer, environ_base=proxy, headers={"X-Forwarded-For": address}
        ).status_code

    assert [from_client("198.51.100.1") for _ in range(3)] == [401, 401, 429]
    assert from_client("198.51.100.2") == 401  # another client behind the same proxy


def test_login_throttling_ignores_forwarded_headers_without_a_proxy_setting(tmp_path, db, viewer):
    client = _behind_proxy(tmp_path, db, "0")
    codes = [
        _attempt(client, viewer, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
        for i in range(3)
    ]
    assert codes == [401, 401, 429]  # a forged header does not buy fresh attempts


def test_bad_token_api_requests_are_rate_limited_per_address(tmp_path, db):
    from herald.core.accounts import create_token

    settings = make_settings(tmp_path, db.url, api_auth_failure_limit="5 per minute")
    client = create_app(settings, db).test_client()
    codes = [
        client.get(
            "/api/v1/segments", headers={"Authorization": f"Bearer hrld_guess{i}"}
        ).status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    refused = client.get("/api/v1/segments", headers={"Authorization": "Bearer hrld_guess9"})
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # good tokens from another address are not affected
    with db.session() as session:
        _, plain = create_token(session, "ok", "viewer")
    fine = client.get(
        "/api/v1/segments",
        headers={"Authorization": f"Bearer {plain}"},
        environ_base={"REMOTE_ADDR": "192.0.2.50"},
    )
    assert fine.status_code == 200


def test_api_429_carries_retry_after(tmp_path, db):
    from herald.core.accounts import create_token

    settings = make_settings(tmp_path, db.url, api_rate_limit="2 per minute")
    client = create_app(settings, db).test_client()
    with db.session() as session:
        _, plain = create_token(session, "ok", "viewer")
    headers = {"Authorization": f"Bearer {plain}"}
    codes = [client.get("/api/v1/segments", headers=headers).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    last = client.get("/api/v1/segments", headers=headers)
    assert 0 < int(last.headers["Retry-After"]) <= 60
