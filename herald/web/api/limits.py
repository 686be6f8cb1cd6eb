"""Request limits for /api/v1, per token (or per address before authentication), shared across
web processes through Redis when ``HERALD_REDIS_URL`` is set."""

from __future__ import annotations

import hashlib

from flask import Flask, request
from flask_limiter import Limiter

from herald.web.api import blueprint


def _key() -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "unknown")


def init_app(app: Flask) -> Limiter:
    """Apply ``HERALD_API_RATE_LIMIT`` (default 600 per minute) to every API route; a breach is
    a 429 in the contract's error shape (the blueprint's HTTP error handler)."""
    settings = app.extensions["herald.settings"]
    limit = settings.api_rate_limit
    limiter = Limiter(
        key_func=_key,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        key_prefix="herald-api",
        default_limits=[],
    )
    limiter.limit(limit, key_func=_key)(blueprint)
    return limiter
