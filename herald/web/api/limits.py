"""Request limits for /api/v1, per token (or per address before authentication), shared across
web processes through Redis when ``HERALD_REDIS_URL`` is set."""

from __future__ import annotations

import hashlib

from flask import Flask, Response, request
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
        headers_enabled=True,  # 429 answers carry Retry-After
        storage_uri=settings.redis_url or "memory://",
        key_prefix="herald-api",
        default_limits=[],
    )
    limiter.limit(limit, key_func=_key)(blueprint)
    # random bad tokens each get a fresh bucket above: failures also count per client address
    limiter.limit(settings.api_auth_failure_limit, key_func=_address, deduct_when=_refused_token)(
        blueprint
    )
    return limiter


def _address() -> str:
    return "auth-failures:" + (request.remote_addr or "unknown")


def _refused_token(response: Response) -> bool:
    return response.status_code == 401
