"""Baselines for the HTTP benchmarks: the least a Flask app can do for the same requests, served
by the same gunicorn as ``herald web``. ``gunicorn bench.bare_apps:app``."""

from __future__ import annotations

import base64
import os

from flask import Flask, Response, request
from standardwebhooks import Webhook

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0"}

app = Flask(__name__)
_hook = Webhook(os.environ.get("HERALD_SHOP_WEBHOOK_SECRET", "whsec_" + "A" * 32))


@app.get("/t/o/<token>.gif")
def pixel(token: str) -> Response:
    """A 1x1 GIF, nothing recorded."""
    return Response(GIF, mimetype="image/gif", headers=NO_STORE)


@app.post("/webhooks/shop")
def webhook() -> tuple[str, int]:
    """Signature checked, nothing stored."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    _hook.verify(request.get_data(), headers)
    return "", 204
