"""Marketing email over SMTP (contract section 6).

``prepare`` does the expensive work once per run and variant: templates compiled, links turned
into markers, CSS inlined, the text part derived, and the MIME structure serialised by stdlib
``email`` into a skeleton. ``render`` only renders the member's templates, signs their tracking
URLs and joins bytes (plus a DKIM signature when configured). ``send`` waits for the provider's
rate limit and hands the bytes to a pooled SMTP connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import getaddresses
from functools import cached_property
from typing import Any, ClassVar

from herald.channels.base import Outcome, Recipient, RunInfo
from herald.channels.email_content import PreparedContent, prepare_content
from herald.channels.email_mime import (
    DkimKey,
    Skeleton,
    build_skeleton,
    dkim_sign,
    format_date,
    format_to,
)
from herald.channels.ratelimit import Limiter, limiter_for
from herald.channels.smtp_pool import SmtpPool
from herald.core import clock
from herald.core.settings import Settings, hard_bounce_limit
from herald.templating import render as templates
from herald.templating.checks import check_templates

TEMPLATE_FIELDS = {"subject": False, "html": True, "text": False}


@dataclass(frozen=True)
class PreparedEmail:
    """A run and variant ready for per-member rendering."""

    run: RunInfo
    subject: Any
    content: PreparedContent
    skeleton: Skeleton
    sender: str
    envelope_from: str


@dataclass(frozen=True)
class OutgoingEmail:
    """A rendered message (bytes as they go over ``DATA``) and its envelope."""

    data: bytes
    sender: str
    recipient: str
    message_id: str


class EmailChannel:
    """Marketing email via SMTP."""

    kind: ClassVar[str] = "email"
    address: ClassVar[str | None] = "email"
    consent: ClassVar[str | None] = "email"
    marketing: ClassVar[bool] = True
    # a second hand-off carries the same Message-ID, which receiving systems collapse
    resend_uncertain: ClassVar[bool] = True

    def __init__(self, settings: Settings) -> None:
        # cheap: the campaign service builds channels with stand-in settings to check variants
        self.settings = settings
        self._date: tuple[int, str] = (0, "")

    @cached_property
    def pool(self) -> SmtpPool:
        """Pooled SMTP connections, opened on first send."""
        hard_bounce_limit(self.settings)  # a malformed value fails the first send, loudly
        return SmtpPool(self.settings)

    @cached_property
    def limiter(self) -> Limiter:
        """The email provider's rate limit (``HERALD_EMAIL_RATE``)."""
        return limiter_for(self.settings, "email")

    @cached_property
    def dkim(self) -> DkimKey | None:
        """The DKIM key when signing is configured."""
        return _dkim_key(self.settings)

    def check_variant(self, content: Mapping[str, Any]) -> dict[str, str]:
        """Field problems of an email variant; templates are compiled."""
        problems = check_templates(content, TEMPLATE_FIELDS)
        if not content.get("subject"):
            problems.setdefault("subject", "subject is required")
        if not content.get("html") and not content.get("text"):
            problems.setdefault("html", "html or text is required")
        sender = content.get("from")
        if sender is not None and (not isinstance(sender, str) or "@" not in sender):
            problems.setdefault("from", "from must be an address such as Shop <news@shop.com>")
        return problems

    def prepare(self, run: RunInfo) -> PreparedEmail:
        """Compile the variant and build the message skeleton, once per run and variant."""
        content = run.content
        sender = " ".join(str(content.get("from") or self.settings.mail_from).split())
        prepared = prepare_content(
            content.get("html"),
            content.get("text"),
            self.settings.public_url,
            self.settings.secret_key,
        )
        skeleton = build_skeleton(
            sender,
            html=prepared.html is not None,
            secret=self.settings.secret_key,
            unsubscribe=True,
        )
        return PreparedEmail(
            run=run,
            subject=templates.compile_template("subject", content["subject"]),
            content=prepared,
            skeleton=skeleton,
            sender=sender,
            envelope_from=getaddresses([sender])[0][1] or sender,
        )

    def render(self, prepared: PreparedEmail, recipient: Recipient) -> OutgoingEmail:
        """The bytes for one member."""
        address = (recipient.email or "").strip()
        if not address or any(ch.isspace() for ch in address) or "@" not in address:
            raise ValueError(f"not a deliverable address: {address!r}")
        if not address.isascii():
            raise ValueError(f"{address!r}: non-ASCII addresses need SMTPUTF8, not supported")
        context = recipient.context
        contact = context.get("contact") or {}
        name = " ".join(filter(None, [contact.get("first_name"), contact.get("last_name")]))
        text, html = prepared.content.render(context, recipient.delivery_id)
        message_id = prepared.skeleton.message_id(prepared.run.run_id, recipient.delivery_id)
        data = prepared.skeleton.assemble(
            message_id=message_id,
            date=self._now(),
            to=format_to(name, address),
            subject=templates.render(prepared.subject, context),
            unsubscribe=str(context.get("unsubscribe_url") or "") or None,
            text=text,
            html=html,
        )
        if self.dkim is not None:
            data = dkim_sign(data, self.dkim)
        return OutgoingEmail(data, prepared.envelope_from, address, message_id)

    def send(self, message: OutgoingEmail) -> Outcome:
        """Wait for the rate limit, hand over, classify; sent carries the Message-ID."""
        if not self.limiter.acquire():
            return Outcome.transient("email rate limit: no slot free in time", retry_after=5)
        outcome = self.pool.submit(message.sender, message.recipient, message.data)
        if outcome.status == "sent":
            return Outcome.sent(message.message_id)
        return outcome

    def close(self) -> None:
        """Quit pooled SMTP connections."""
        if "pool" in self.__dict__:
            self.pool.close()

    def _now(self) -> str:
        moment = clock.now()
        second = int(moment.timestamp())
        if self._date[0] != second:
            self._date = (second, format_date(moment))
        return self._date[1]


def _dkim_key(settings: Settings) -> DkimKey | None:
    if not settings.dkim_enabled or settings.dkim_key_file is None:
        return None
    return DkimKey(
        domain=str(settings.dkim_domain).encode(),
        selector=str(settings.dkim_selector).encode(),
        private_key=settings.dkim_key_file.read_bytes(),
    )
