"""SMS through a Twilio-compatible API (contract section 6), and GSM-7 / UCS-2 segment counting.

A second hand-off of an SMS is a second message the member pays attention to and the shop pays
for, so a hand-off whose outcome is unknown is never resent (``resend_uncertain = False``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import phonenumbers
import requests

from herald.channels import http
from herald.channels.base import Outcome, Recipient, RunInfo
from herald.channels.ratelimit import Limiter, limiter_for
from herald.core.settings import Settings
from herald.templating import render as templates
from herald.templating.checks import check_templates
from herald.templating.track_links import LinkTracker

TEMPLATE_FIELDS = {"body": False}
MAX_BODY = 1600  # Twilio's limit on one message's body, in characters

# GSM 03.38: the basic character set (one septet each; ESC excluded) and the extension table
# (reached through ESC, so two septets each)
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7 = "GSM-7"
UCS2 = "UCS-2"


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in GSM 03.38 (basic or extension table)."""
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def _pack(units: list[int], single: int, per_part: int) -> int:
    """Parts needed for characters costing ``units`` each; a character is never split across
    two parts (an ESC pair, a UTF-16 surrogate pair)."""
    total = sum(units)
    if total <= single:
        return 1 if total else 0
    parts, used = 1, 0
    for cost in units:
        if used + cost > per_part:
            parts += 1
            used = 0
        used += cost
    return parts


def segments(text: str) -> tuple[str, int]:
    """``(encoding, segments)`` for one SMS body: GSM-7 carries 160 septets in one segment and
    153 per part once concatenated (extension characters take two); anything else is UCS-2 with
    70 UTF-16 units in one segment and 67 per part. An empty body is 0 segments."""
    if is_gsm7(text):
        return GSM7, _pack([2 if ch in GSM_EXTENSION else 1 for ch in text], 160, 153)
    return UCS2, _pack([2 if ord(ch) > 0xFFFF else 1 for ch in text], 70, 67)


@dataclass(frozen=True)
class PreparedSms:
    run: RunInfo
    body: Any


@dataclass(frozen=True)
class OutgoingSms:
    """One message as the provider will get it; ``problem`` makes the send a permanent failure
    without calling the provider (no usable number, an empty body)."""

    to: str
    body: str
    problem: str | None = None


class SmsChannel(http.HttpClient):
    """SMS via a Twilio-compatible REST API."""

    kind: ClassVar[str] = "sms"
    address: ClassVar[str | None] = "phone"
    consent: ClassVar[str | None] = "sms"
    marketing: ClassVar[bool] = True
    # an SMS sent twice costs twice and annoys; no idempotency key exists in the API
    resend_uncertain: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # the send policy defers (never skips) messages that fall in these local hours
        self.quiet_hours = getattr(settings, "sms_quiet_hours", None)

    def check_variant(self, content: Mapping[str, Any]) -> dict[str, str]:
        problems = check_templates(content, TEMPLATE_FIELDS)
        body = content.get("body")
        if not body:
            problems.setdefault("body", "body is required")
        elif isinstance(body, str) and len(body) > MAX_BODY:
            problems.setdefault("body", f"body is longer than {MAX_BODY} characters")
        return problems

    def prepare(self, run: RunInfo) -> PreparedSms:
        body = templates.compile_template("body", run.content["body"], links="text")
        return PreparedSms(run=run, body=body)

    def render(self, prepared: PreparedSms, recipient: Recipient) -> OutgoingSms:
        # links are rewritten to {PUBLIC_URL}/t/c/{token} like email links (contract 13)
        s = self.settings
        links = (
            LinkTracker(
                s.public_url,
                s.secret_key,
                recipient.delivery_id,
                str(recipient.context.get("unsubscribe_url") or ""),
            )
            if getattr(s, "public_url", None) and getattr(s, "secret_key", None)
            else None
        )
        body = templates.render(prepared.body, recipient.context, links).strip()
        to, problem = self.e164(recipient.phone)
        if problem is None and not body:
            problem = "the message body rendered empty"
        return OutgoingSms(to=to or "", body=body, problem=problem)

    def e164(self, phone: str | None) -> tuple[str | None, str | None]:
        """The number in E.164, or a reason it cannot be texted."""
        if not phone:
            return None, "no phone number"
        region = getattr(self.settings, "default_phone_region", None) or "CN"
        try:
            number = phonenumbers.parse(phone, region)
        except phonenumbers.NumberParseException:
            return None, f"{phone!r} is not a phone number"
        if not phonenumbers.is_valid_number(number):
            return None, f"{phone!r} is not a valid phone number"
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None

    def send(self, message: OutgoingSms) -> Outcome:
        if message.problem:
            return Outcome.permanent(message.problem)
        s = self.settings
        if not (s.sms_api_url and s.sms_account_sid and s.sms_auth_token and s.sms_from):
            return Outcome.permanent(
                "SMS is not configured (HERALD_SMS_API_URL, _ACCOUNT_SID, _AUTH_TOKEN, _FROM)"
            )
        if not self.limiter.acquire():
            return Outcome.transient("SMS rate limit: no slot free in time", retry_after=5)
        url = f"{s.sms_api_url}/2010-04-01/Accounts/{s.sms_account_sid}/Messages.json"
        form = {
            "To": message.to,
            "From": s.sms_from,
            "Body": message.body,
            "StatusCallback": f"{s.public_url}/webhooks/sms/status",
        }
        return http.call(
            "the SMS provider",
            lambda: self._session().post(
                url,
                data=form,
                auth=(s.sms_account_sid or "", s.sms_auth_token or ""),
                timeout=(http.CONNECT_TIMEOUT, http.READ_TIMEOUT),
            ),
            _accepted,
        )

    @cached_property
    def limiter(self) -> Limiter:
        """The SMS provider's rate limit (``HERALD_SMS_RATE`` messages per second)."""
        return limiter_for(self.settings, "sms")


def _accepted(response: requests.Response) -> Outcome:
    body = http.json_object(response)
    sid = body["sid"]
    if not isinstance(sid, str) or not sid:
        raise ValueError("no message sid")
    if body.get("status") in ("failed", "undelivered"):
        return Outcome.permanent(f"the SMS provider refused the message ({body['status']})")
    return Outcome.sent(sid)
