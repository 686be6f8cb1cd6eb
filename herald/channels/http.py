"""What the HTTP channels (SMS, social, member day) share: one ``requests`` session with timeouts,
and one reading of a provider's answer as an :class:`Outcome`.

429 and 5xx are transient (with the provider's ``Retry-After``, capped); other 4xx are permanent
with the provider's own message; a timeout, a refused connection or an answer that is not the
JSON we expect is transient with a reason a marketer can read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from herald.channels.base import Outcome
from herald.channels.outbound import BlockedAddress, GuardedAdapter

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
RETRY_AFTER_CAP = 300.0


class HttpClient:
    """Mixin for channels that call an HTTP provider: one ``requests`` session per channel
    instance, opened on first use (after a worker forks) and closed with the channel."""

    _http: requests.Session | None = None

    def _session(self) -> requests.Session:
        if self._http is None:
            settings = getattr(self, "settings", None)
            allow = bool(getattr(settings, "allow_link_local_urls", False))
            self._http = session(allow_link_local=allow)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self._http = None


def session(user_agent: str = "Herald/1.0", *, allow_link_local: bool = False) -> requests.Session:
    """A session reused across hand-offs (keep-alive); requests never retries by itself here.
    Link-local and cloud metadata addresses are refused unless ``allow_link_local``."""
    http = requests.Session()
    http.headers["User-Agent"] = user_agent
    if not allow_link_local:
        for prefix in ("http://", "https://"):
            http.mount(prefix, GuardedAdapter())
    return http


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), capped; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, min(seconds, RETRY_AFTER_CAP))


def provider_message(response: requests.Response) -> str:
    """The provider's own words for an error answer (Twilio ``message``, Mastodon ``error``)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        for key in ("message", "error", "detail", "error_description"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key][:300]
    text = (response.text or "").strip()
    return text[:300] if text else (response.reason or "no message")


def call(
    label: str,
    send: Callable[[], requests.Response],
    success: Callable[[requests.Response], Outcome],
    ok_statuses: tuple[int, ...] = (200, 201, 202),
) -> Outcome:
    """Make one request and classify it. ``success`` reads a 2xx answer (and may itself answer
    transient when the body is garbage)."""
    try:
        response = send()
    except BlockedAddress as exc:
        return Outcome.permanent(
            f"{label} not called: {exc} (set HERALD_ALLOW_LINK_LOCAL_URLS to allow it)"
        )
    except requests.Timeout:
        return Outcome.transient(f"{label} did not answer in time")
    except requests.ConnectionError as exc:
        return Outcome.transient(f"could not reach {label}: {_short(exc)}")
    except requests.RequestException as exc:
        return Outcome.transient(f"{label} request failed: {_short(exc)}")
    status = response.status_code
    if status in ok_statuses:
        try:
            return success(response)
        except (ValueError, KeyError, TypeError):
            return Outcome.transient(f"{label} answered {status} with an unreadable body")
    message = provider_message(response)
    if status == 429 or status >= 500:
        return Outcome.transient(
            f"{label} {status}: {message}", retry_after(response.headers.get("Retry-After"))
        )
    if 300 <= status < 400 or 200 <= status < 300:
        return Outcome.transient(f"{label} answered {status} unexpectedly")
    return Outcome.permanent(f"{label} {status}: {message}")


def json_object(response: requests.Response) -> dict[str, Any]:
    """The body as a JSON object; ValueError for anything else."""
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "…"
