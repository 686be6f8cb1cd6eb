"""Error pages for the admin and the favicon: a 4xx or 5xx under ``/admin`` is a page in the
admin's layout saying what went wrong and how to get back, never a bare server page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, request, send_from_directory
from werkzeug.exceptions import HTTPException, InternalServerError

ADMIN_PREFIX = "/admin"
TITLES = {
    400: "That request could not be read",
    401: "Please log in",
    403: "Your role cannot do this",
    404: "There is nothing here",
    405: "That is not how this page is used",
    413: "That upload is too large",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}
HINTS = {
    403: "Viewers can read every page but cannot create, edit or send. Ask an admin for the "
    "marketer role if you need to.",
    404: "The page may have moved, or what it showed was deleted.",
    500: "The error has been logged. Try again, and tell whoever runs Herald if it keeps "
    "happening.",
}
log = logging.getLogger(__name__)


def _admin_page(exc: HTTPException) -> Any:
    code = exc.code or 500
    admin = current_app.extensions["herald.admin"]
    description = exc.description if code != 500 else None
    # Werkzeug's stock sentences speak to developers; a message we chose is kept
    stock = type(exc).description
    message = None if description == stock else description
    body = admin.index_view.render(
        "admin/herald/error.html",
        code=code,
        title=TITLES.get(code, exc.name),
        message=message,
        hint=HINTS.get(code),
        back=request.referrer if _same_site(request.referrer) else None,
    )
    return body, code


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url.rstrip("/") + ADMIN_PREFIX)


def init_app(app: Flask) -> None:
    """Answer admin errors with admin pages; other paths keep the handlers they had (the API's
    JSON errors). Also serves ``/favicon.ico``."""
    previous = {
        code: dict(app.error_handler_spec.get(None, {}).get(code, {})) for code in (404, 405)
    }

    def handle(exc: HTTPException) -> Any:
        if not isinstance(exc, HTTPException):
            log.exception("admin page failed", exc_info=exc)
            exc = InternalServerError()
        on_admin = request.path == ADMIN_PREFIX or request.path.startswith(ADMIN_PREFIX + "/")
        if on_admin and "herald.admin" in current_app.extensions:
            try:
                return _admin_page(exc)
            except Exception:  # the layout itself failed: fall back to the plain answer
                log.exception("admin error page failed")
                return exc
        for cls in type(exc).__mro__:
            handler = previous.get(exc.code or 500, {}).get(cls)
            if handler is not None:
                return handler(exc)
        return exc

    # Flask asks handlers registered for a code before those registered for a class, at every
    # level: registering codes would take errors away from the API blueprint's own handler. So
    # only the codes the app already answers (404, 405) are taken over, and passed on; every
    # other error reaches ``handle`` through the class, after the API's blueprint had its turn.
    for code in (404, 405):
        app.register_error_handler(code, handle)
    app.register_error_handler(HTTPException, handle)

    @app.get("/favicon.ico")
    def favicon() -> Any:
        return send_from_directory(
            app.static_folder or "static", "herald/favicon.svg", mimetype="image/svg+xml"
        )
