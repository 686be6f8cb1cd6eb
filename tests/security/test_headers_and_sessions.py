"""Findings "no security headers", "Server: Werkzeug" and "sessions": every response carries the
headers, cookies are Secure behind https, and a session ends at logout and at a password change
(copies of its cookies included)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.client import HTTPConnection

import pytest
from werkzeug.serving import make_server

from herald.core.accounts import User, create_user
from herald.web.app import create_app
from herald.web.security import QuietRequestHandler
from tests.conftest import free_port, make_settings
from tests.web.test_admin import PASSWORD, csrf_token, login

PATHS = [
    "/admin/login",
    "/admin/",
    "/api/v1/openapi.json",
    "/api/v1/contacts/1",
    "/healthz",
    "/t/o/forged.gif",
    "/u/forged",
    "/no/such/page",
]


@pytest.fixture
def viewer(db) -> str:  # type: ignore[no-untyped-def]
    with db.session() as session:
        create_user(session, "viewer@example.com", PASSWORD, "viewer")
    return "viewer@example.com"


@pytest.mark.parametrize("path", PATHS)
def test_no_security_headers_every_response_carries_them(client, path):
    answer = client.get(path)
    csp = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert re.search(r"script-src 'self' 'nonce-[\w-]{16,}'", csp)
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in answer.headers  # plain http here
    assert answer.headers["Server"] == "Herald"


def test_no_security_headers_hsts_is_sent_when_herald_is_served_over_https(tmp_path, db):
    settings = make_settings(tmp_path, db.url, public_url="https://herald.example")
    app = create_app(settings, db)
    answer = app.test_client().get("/admin/login")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_no_security_headers_each_response_gets_its_own_nonce(client):
    first = client.get("/admin/login").headers["Content-Security-Policy"]
    second = client.get("/admin/login").headers["Content-Security-Policy"]
    assert first != second


@pytest.fixture
def served(app) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """The app on Werkzeug's real server, as ``herald web`` runs it."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()


def test_server_werkzeug_banner_is_not_advertised_by_the_development_server(served):
    connection = HTTPConnection("127.0.0.1", served, timeout=5)
    connection.request("GET", "/admin/login")
    response = connection.getresponse()
    servers = response.headers.get_all("Server")
    assert servers == ["Herald"]
    assert response.headers.get("Date")
    connection.close()


def test_server_banner_gunicorn_is_renamed(monkeypatch):
    import gunicorn.http.wsgi as gunicorn_wsgi

    from herald.web.security import hide_gunicorn_banner

    monkeypatch.setattr(gunicorn_wsgi, "SERVER", "gunicorn")
    hide_gunicorn_banner()
    assert gunicorn_wsgi.SERVER == "Herald"


# --------------------------------------------------------------------------- cookies


def _cookie_headers(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return answer.headers.getlist("Set-Cookie")


def test_sessions_cookies_are_secure_when_the_public_url_is_https(tmp_path, db, viewer):
    settings = make_settings(tmp_path, db.url, public_url="https://herald.example")
    app = create_app(settings, db)
    app.config.update(TESTING=True)
    client = app.test_client()
    https = "https://herald.example"
    page = client.get("/admin/login", base_url=https)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = client.post(
        "/admin/login",
        data={"email": viewer, "password": PASSWORD, "remember": "y", "csrf_token": token},
        base_url=https,
        headers={"Referer": https + "/admin/login"},  # Flask-WTF checks it over https
    )
    assert answer.status_code == 302, answer.text
    cookies = {c.split("=", 1)[0]: c for c in _cookie_headers(answer)}
    assert set(cookies) >= {"session", "remember_token"}
    for cookie in cookies.values():
        assert "; Secure" in cookie
        assert "; HttpOnly" in cookie
        assert "; SameSite=Lax" in cookie


def test_sessions_remember_me_cookie_has_samesite_on_plain_http(client, viewer):
    answer = client.post(
        "/admin/login",
        data={
            "email": viewer,
            "password": PASSWORD,
            "remember": "y",
            "csrf_token": csrf_token(client),
        },
    )
    remember = [c for c in _cookie_headers(answer) if c.startswith("remember_token=")]
    assert remember and "; SameSite=Lax" in remember[0] and "; HttpOnly" in remember[0]
    assert "; Secure" not in remember[0]  # http://herald.test: a Secure cookie would be lost


def test_sessions_secure_cookies_can_be_forced_by_setting(tmp_path, db):
    settings = make_settings(tmp_path, db.url, secure_cookies="true")
    assert settings.secure_cookies
    assert create_app(settings, db).config["SESSION_COOKIE_SECURE"] is True


def _copy_cookies(source, target) -> None:  # type: ignore[no-untyped-def]
    for name in ("session", "remember_token"):
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value)


def test_sessions_a_session_copied_before_logout_does_not_work_after_it(app, viewer):
    browser, thief = app.test_client(), app.test_client()
    assert login(browser, viewer).status_code == 302
    _copy_cookies(browser, thief)
    assert thief.get("/admin/").status_code == 200  # the copy works while the session lives
    browser.post("/admin/logout", data={"csrf_token": csrf_token(browser, "/admin/")})
    assert thief.get("/admin/").status_code == 302  # to the login page


def test_sessions_a_remember_me_cookie_copied_before_logout_does_not_work_after_it(app, viewer):
    browser, thief = app.test_client(), app.test_client()
    browser.post(
        "/admin/login",
        data={
            "email": viewer,
            "password": PASSWORD,
            "remember": "y",
            "csrf_token": csrf_token(browser),
        },
    )
    remember = browser.get_cookie("remember_token")
    assert remember is not None
    thief.set_cookie("remember_token", remember.value)  # only the long-lived cookie
    assert thief.get("/admin/").status_code == 200
    browser.post("/admin/logout", data={"csrf_token": csrf_token(browser, "/admin/")})
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember.value)
    assert fresh.get("/admin/").status_code == 302


def test_sessions_end_when_an_admin_changes_the_users_password(app, db, viewer):
    with db.session() as session:
        create_user(session, "boss@example.com", PASSWORD, "admin")
        user_id = session.query(User).filter_by(email=viewer).one().id
    victim, boss = app.test_client(), app.test_client()
    login(victim, viewer)
    assert victim.get("/admin/").status_code == 200
    login(boss, "boss@example.com")
    edit = f"/admin/users/edit/?id={user_id}"
    answer = boss.post(
        edit,
        data={
            "role": "viewer",
            "active": "y",
            "password": "a brand new password",
            "csrf_token": csrf_token(boss, edit),
        },
    )
    assert answer.status_code == 302
    assert victim.get("/admin/").status_code == 302  # logged out everywhere
    assert login(app.test_client(), viewer, "a brand new password").status_code == 302


def test_sessions_a_password_change_outside_the_admin_also_ends_them(app, db, viewer):
    victim = app.test_client()
    login(victim, viewer)
    with db.session() as session:
        session.query(User).filter_by(email=viewer).one().set_password("another password 1")
    assert victim.get("/admin/").status_code == 302


@pytest.mark.parametrize("cookie_id", ["1", "1:x", "99999999999:0", ":", "abc"])
def test_sessions_a_malformed_session_id_is_anonymous_not_an_error(app, viewer, cookie_id):
    from flask.sessions import SecureCookieSessionInterface

    client = app.test_client()
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    client.set_cookie("session", serializer.dumps({"_user_id": cookie_id, "_fresh": True}))
    assert client.get("/admin/").status_code == 302
