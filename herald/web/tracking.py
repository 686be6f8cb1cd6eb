"""Tracking links: the open pixel, click redirects and one-click unsubscribe (contract 6, 9).

``GET /t/o/<token>.gif`` answers a 1x1 GIF and records ``email.opened``; ``GET /t/c/<token>``
records ``email.clicked`` and redirects (302) to the signed target; ``/u/<token>`` shows a
confirm page (GET) and unsubscribes (POST, RFC 8058 one-click: no CSRF token is possible, and
the signed token is the proof). A forged or altered token is a 404 and never redirects.
"""

from __future__ import annotations

import atexit
import base64
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, request
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from herald.campaigns import feedback
from herald.campaigns.machine import is_machine_agent
from herald.core import clock
from herald.core.db import Database
from herald.core.settings import Settings
from herald.intake import engagement
from herald.intake.tracking_journal import TrackingJournal
from herald.templating.tracking import read_click_link, read_delivery
from herald.web import deps, security

log = logging.getLogger(__name__)

# the blueprint name "tracking" is exempt from the admin's CSRF checks
blueprint = Blueprint("tracking", __name__)

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0"}


def _not_found() -> Response:
    return Response("Not found\n", status=404, mimetype="text/plain", headers=NO_STORE)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def from_own_pages(request: Request, public_url: str) -> bool:
    """True when the fetch comes from one of Herald's own pages (the admin's outbox, previews,
    report), or carries the preview marker: the admin looking is not a recipient opening.
    Browsers send at least the origin as Referer for an image in a sandboxed ``srcdoc`` frame;
    a mail client never presents Herald's own origin."""
    if request.args.get("preview") or request.headers.get("X-Herald-Preview"):
        return True
    referrer = request.headers.get("Referer") or ""
    if not referrer:
        return False
    own = {_origin(request.host_url), _origin(public_url)}
    return _origin(referrer) in own


class TrackingPaths:
    """The open pixel and click redirects, answered before Flask (WSGI middleware).

    These are the busiest requests Herald serves (every open and click of every campaign) and
    need none of what Flask's request handling brings (sessions, logins, rate limits, the
    admin): verify the token, journal the event, answer, with the same security headers as
    every other response. Anything else goes on to Flask."""

    def __init__(self, app: Flask, inner: Any) -> None:
        self.inner = inner
        self.settings = app.extensions["herald.settings"]
        self.database = app.extensions["herald.db"]
        self.journal: TrackingJournal | None = app.extensions.get("herald.tracking_journal")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or ""
        if path.startswith(("/t/o/", "/t/c/")):
            response = self.answer(Request(environ), path)
            return response(environ, start_response)
        return self.inner(environ, start_response)

    def answer(self, request: Request, path: str) -> Response:
        """The response for a tracking path (recording the event on the way)."""
        if request.method not in ("GET", "HEAD"):
            response = Response("Method not allowed\n", status=405, mimetype="text/plain")
            response.headers["Allow"] = "GET, HEAD"
        elif path.startswith("/t/o/"):
            response = self._pixel(request, path[5:])
        else:
            response = self._click(request, path[5:])
        secure = request.is_secure or self.settings.secure_cookies
        for name, value in security.header_pairs(secrets.token_urlsafe(18), secure):
            response.headers[name] = value
        return response

    def _pixel(self, request: Request, name: str) -> Response:
        """The open pixel: always an image; 404 status for a forged token."""
        token = name[:-4] if name.endswith(".gif") else None
        delivery_id = read_delivery(self.settings.secret_key, "open", token) if token else None
        if delivery_id is None:
            return Response(GIF, status=404, mimetype="image/gif", headers=NO_STORE)
        agent = request.user_agent.string
        self._track(request, "email.opened", delivery_id, {"user_agent": agent[:200]})
        return Response(GIF, mimetype="image/gif", headers=NO_STORE)

    def _click(self, request: Request, token: str) -> Response:
        """A tracked link: record the click and redirect to the signed target."""
        found = read_click_link(self.settings.secret_key, token) if "/" not in token else None
        if found is None:
            return _not_found()
        delivery_id, target, position = found
        data: dict[str, Any] = {"url": target[:1000], "user_agent": request.user_agent.string[:200]}
        if position is not None:
            data["position"] = position
        self._track(request, "email.clicked", delivery_id, data)
        response = redirect(target, code=302)
        response.headers.update(NO_STORE)
        return response

    def _track(self, request: Request, kind: str, delivery_id: int, data: dict[str, Any]) -> None:
        """Record one open or click: appended to this process's journal when there is one (its
        drainer records it within a fraction of a second), else in one statement here. A
        database problem never breaks the pixel or the redirect; the admin's own pages looking
        at a message record nothing."""
        if from_own_pages(request, self.settings.public_url):
            return
        agent = request.method == "HEAD" or is_machine_agent(request.user_agent.string)
        if self.journal is not None:
            try:
                self.journal.record(kind, delivery_id, clock.now(), agent, data)
                return
            except OSError:
                # the journal's disk is full or gone: record it the slow way rather than lose it
                log.exception("tracking journal unwritable; recording %s in the request", kind)
        record_now(self.database, self.settings, kind, delivery_id, data, agent)


def record_now(
    database: Database,
    settings: Settings,
    kind: str,
    delivery_id: int,
    data: dict[str, Any],
    agent: bool,
) -> None:
    """Record one open or click in the request: one statement, or one transaction with the
    journeys for a person's. Logged, never raised."""
    # a proxy's or scanner's fetch moves no journey: one autocommit statement records it
    engine = database.single_statements if agent else database.engine
    for attempt in (1, 2):
        try:
            with engine.begin() as connection:
                engagement.tracked(
                    connection,
                    kind,
                    delivery_id,
                    data,
                    machine_agent=agent,
                    window=settings.machine_event_window,
                    now=clock.now(),
                    zone=settings.timezone,
                )
            return
        except DBAPIError as exc:
            if exc.connection_invalidated and attempt == 1:
                continue  # a pooled connection the database had closed: once more, afresh
            log.exception("could not record %s for delivery %s", kind, delivery_id)
            return
        except Exception:
            log.exception("could not record %s for delivery %s", kind, delivery_id)
            return


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""


@blueprint.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Response:
    """GET: a confirm page with one button. POST (the button, or a mail client's one-click
    ``List-Unsubscribe=One-Click``): revoke email consent and suppress the address."""
    delivery_id = read_delivery(deps.settings().secret_key, "unsubscribe", token)
    if delivery_id is None:
        return _not_found()
    if request.method == "GET":
        body = (
            "<p>Stop receiving marketing email from us at this address?</p>"
            f'<form method="post" action="/u/{escape(token)}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">Unsubscribe</button></form>'
        )
        return Response(_PAGE.format(title="Unsubscribe", body=body), mimetype="text/html")
    session = deps.session()
    ref = feedback.find_delivery(session, delivery_id)
    if ref is not None:
        feedback.unsubscribe(session, ref)
        session.commit()
    body = "<p>You will not receive marketing email from us at this address any more.</p>"
    return Response(
        _PAGE.format(title="You are unsubscribed", body=body),
        mimetype="text/html",
        headers=NO_STORE,
    )


def init_app(app: Flask) -> None:
    """Register the unsubscribe page and the tracking paths (inside any ProxyFix, so they see
    the real scheme) with, when configured, the process's tracking journal. The email settings
    are checked by ``Settings.from_env``, at every process's start."""
    app.register_blueprint(blueprint)
    settings = app.extensions["herald.settings"]
    if settings.tracking_journal is not None:
        journal = TrackingJournal(
            settings.tracking_journal,
            app.extensions["herald.db"].engine,
            window=settings.machine_event_window,
            zone=settings.timezone,
        )
        app.extensions["herald.tracking_journal"] = journal
        # a clean exit records what is left; after a kill another process adopts the file
        atexit.register(journal.stop)
    outer = app.wsgi_app
    if isinstance(outer, ProxyFix):
        outer.app = TrackingPaths(app, outer.app)
    else:
        app.wsgi_app = TrackingPaths(app, outer)  # type: ignore[method-assign]
