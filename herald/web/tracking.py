"""Tracking links: the open pixel, click redirects and one-click unsubscribe (contract 6, 9).

``GET /t/o/<token>.gif`` answers a 1x1 GIF and records ``email.opened``; ``GET /t/c/<token>``
records ``email.clicked`` and redirects (302) to the signed target; ``/u/<token>`` shows a
confirm page (GET) and unsubscribes (POST, RFC 8058 one-click: no CSRF token is possible, and
the signed token is the proof). A forged or altered token is a 404 and never redirects.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, redirect, request
from markupsafe import escape
from sqlalchemy.exc import DBAPIError

from herald.campaigns import feedback
from herald.campaigns.machine import is_machine_agent
from herald.core import clock
from herald.intake import engagement
from herald.templating.tracking import read_click_link, read_delivery
from herald.web import deps

log = logging.getLogger(__name__)

# the blueprint name "tracking" is exempt from the admin's CSRF checks
blueprint = Blueprint("tracking", __name__)

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0"}


def _gif(status: int = 200) -> Response:
    return Response(GIF, status=status, mimetype="image/gif", headers=NO_STORE)


def _not_found() -> Response:
    return Response("Not found\n", status=404, mimetype="text/plain", headers=NO_STORE)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def from_own_pages() -> bool:
    """True when the fetch comes from one of Herald's own pages (the admin's outbox, previews,
    report), or carries the preview marker: the admin looking is not a recipient opening.
    Browsers send at least the origin as Referer for an image in a sandboxed ``srcdoc`` frame;
    a mail client never presents Herald's own origin."""
    if request.args.get("preview") or request.headers.get("X-Herald-Preview"):
        return True
    referrer = request.headers.get("Referer") or ""
    if not referrer:
        return False
    own = {_origin(request.host_url), _origin(deps.settings().public_url)}
    return _origin(referrer) in own


def _track(kind: str, delivery_id: int, data: dict[str, Any]) -> None:
    """Record one open or click in one statement; a database problem never breaks the pixel or
    the redirect. The admin's own pages looking at a message record nothing."""
    if from_own_pages():
        return
    settings = deps.settings()
    agent = request.method == "HEAD" or is_machine_agent(request.user_agent.string)
    # a proxy's or scanner's fetch moves no journey: one autocommit statement records it; a
    # person's may, so it is recorded and handed to journeys in one transaction
    database = deps.database()
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


@blueprint.route("/t/o/<token>.gif", methods=["GET"])
def open_pixel(token: str) -> Response:
    """The open pixel: always an image; 404 status for a forged token."""
    delivery_id = read_delivery(deps.settings().secret_key, "open", token)
    if delivery_id is None:
        return _gif(404)
    _track("email.opened", delivery_id, {"user_agent": request.user_agent.string[:200]})
    return _gif()


@blueprint.route("/t/c/<token>", methods=["GET"])
def click(token: str) -> Response:
    """A tracked link: record the click and redirect to the signed target."""
    found = read_click_link(deps.settings().secret_key, token)
    if found is None:
        return _not_found()
    delivery_id, target, position = found
    data = {"url": target[:1000], "user_agent": request.user_agent.string[:200]}
    if position is not None:
        data["position"] = position
    _track("email.clicked", delivery_id, data)
    response = redirect(target, code=302)
    response.headers.update(NO_STORE)
    return response


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
    """Register the tracking links (the email settings are checked by ``Settings.from_env``, at
    every process's start)."""
    app.register_blueprint(blueprint)
