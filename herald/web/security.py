"""What every response carries: security headers (a nonce-based Content-Security-Policy fitted to
the admin's own vendored assets, no framing, nosniff, a strict Referrer-Policy, HSTS behind
https), cookie flags, and the reverse-proxy setting that decides which client address is real.

Inline ``<script>`` blocks run only with the request's nonce (``csp_nonce()`` in templates,
Flask-Admin's ``admin_csp_nonce_attribute``); inline event handlers never run, so the admin's
confirm buttons and bulk actions are wired by ``static/herald/herald.js`` instead.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import WSGIRequestHandler

# inline style attributes stay allowed: the admin's progress bars and the emailed report (shown
# in a srcdoc frame, which inherits this policy) are styled that way, and styles cannot run code
CSP = (
    "default-src 'self'; "
    "script-src 'self' 'nonce-{nonce}'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "frame-src 'self'; "
    "object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
SERVER = "Herald"


def csp_nonce() -> str:
    """This request's CSP nonce (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def header_pairs(nonce: str, secure: bool) -> list[tuple[str, str]]:
    """Every response's security headers (also used by the tracking paths, which answer before
    Flask)."""
    pairs = [
        ("Content-Security-Policy", CSP.format(nonce=nonce)),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
        # replaces Werkzeug's and gunicorn's version banner (both keep a Server header we set)
        ("Server", SERVER),
    ]
    if secure:
        pairs.append(("Strict-Transport-Security", HSTS))
    return pairs


def _secure_headers(response: Response) -> Response:
    from flask import current_app, request

    secure = request.is_secure or current_app.extensions["herald.settings"].secure_cookies
    for name, value in header_pairs(csp_nonce(), secure):
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    """Headers on every response, cookie flags, and ``HERALD_PROXY_COUNT`` trusted proxies."""
    settings = app.extensions["herald.settings"]
    if settings.proxy_count:
        count = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
    app.config.update(
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(_secure_headers)


class QuietRequestHandler(WSGIRequestHandler):
    """The development server's handler without its ``Server: Werkzeug/…`` banner (the app's own
    ``Server`` header is sent instead)."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())


def hide_gunicorn_banner() -> None:
    """gunicorn writes ``Server: gunicorn`` before the app's headers; name Herald instead."""
    try:
        import gunicorn.http.wsgi as gunicorn_wsgi
    except ImportError:
        return
    gunicorn_wsgi.SERVER = SERVER  # type: ignore[attr-defined]
