"""Email over SMTP: one persistent connection per worker process, reopened when it drops."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, make_msgid
from typing import Any, ClassVar

from herald.campaigns import render as templates
from herald.channels.base import Outcome, Recipient, RunInfo
from herald.core.settings import Settings

TEMPLATE_FIELDS = {"subject": False, "html": True, "text": False}


@dataclass(frozen=True)
class PreparedEmail:
    run: RunInfo
    subject: Any
    html: Any
    text: Any | None
    sender: str


@dataclass(frozen=True)
class OutgoingEmail:
    """A rendered message and its envelope."""

    message: EmailMessage
    sender: str
    recipient: str


class EmailChannel:
    """Marketing email via SMTP (contract section 6)."""

    kind: ClassVar[str] = "email"
    address: ClassVar[str | None] = "email"
    consent: ClassVar[str | None] = "email"
    marketing: ClassVar[bool] = True
    # a second hand-off carries the same Message-ID, which receiving systems collapse
    resend_uncertain: ClassVar[bool] = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def check_variant(self, content: Mapping[str, Any]) -> dict[str, str]:
        problems = templates.check_templates(content, TEMPLATE_FIELDS)
        if not content.get("subject"):
            problems.setdefault("subject", "subject is required")
        if not content.get("html") and not content.get("text"):
            problems.setdefault("html", "html or text is required")
        sender = content.get("from")
        if sender is not None and (not isinstance(sender, str) or "@" not in sender):
            problems.setdefault("from", "from must be an address such as Shop <news@shop.com>")
        return problems

    def prepare(self, run: RunInfo) -> PreparedEmail:
        content = run.content
        html = content.get("html")
        text = content.get("text")
        return PreparedEmail(
            run=run,
            subject=templates.compile_template("subject", content["subject"]),
            html=templates.compile_template("html", html, html=True) if html else None,
            text=templates.compile_template("text", text) if text else None,
            sender=content.get("from") or self.settings.mail_from,
        )

    def render(self, prepared: PreparedEmail, recipient: Recipient) -> OutgoingEmail:
        context = recipient.context
        message = EmailMessage()
        message["Subject"] = " ".join(templates.render(prepared.subject, context).split())
        message["From"] = prepared.sender
        name = " ".join(
            filter(
                None, [context["contact"].get("first_name"), context["contact"].get("last_name")]
            )
        )
        message["To"] = formataddr((name, recipient.email or ""))
        domain = (getaddresses([prepared.sender])[0][1] or "herald.local").rpartition("@")[2]
        message["Message-ID"] = make_msgid(
            idstring=f"{prepared.run.run_id}.{recipient.delivery_id}", domain=domain
        )
        unsubscribe = context.get("unsubscribe_url")
        if unsubscribe:
            message["List-Unsubscribe"] = f"<{unsubscribe}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["X-Herald-Delivery"] = str(recipient.delivery_id)
        html = templates.render(prepared.html, context) if prepared.html else None
        text = templates.render(prepared.text, context) if prepared.text else None
        message.set_content(text or "")
        if html:
            message.add_alternative(html, subtype="html")
        return OutgoingEmail(message, _envelope(prepared.sender), recipient.email or "")

    def send(self, message: OutgoingEmail) -> Outcome:
        for attempt in (1, 2):
            try:
                smtp = self._connection()
                refused = smtp.send_message(
                    message.message, from_addr=message.sender, to_addrs=[message.recipient]
                )
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()))
                return _classify(code, reply)
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                return _classify(exc.smtp_code, exc.smtp_error)
            except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError, OSError) as exc:
                self._drop()
                if attempt == 2:
                    return Outcome.transient(f"SMTP connection failed: {exc}")
                continue
            except smtplib.SMTPResponseException as exc:
                self._drop()
                return _classify(exc.smtp_code, exc.smtp_error)
            if refused:
                code, reply = next(iter(refused.values()))
                return _classify(code, reply)
            return Outcome.sent(message.message["Message-ID"])
        return Outcome.transient("SMTP connection failed")  # pragma: no cover

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
        self._smtp = None

    def _drop(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.close()
        finally:
            self._smtp = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        s = self.settings
        if s.smtp_tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                timeout=s.smtp_timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password or "")
        self._smtp = smtp
        return smtp


def _envelope(sender: str) -> str:
    return getaddresses([sender])[0][1] or sender


def _classify(code: int, reply: bytes | str) -> Outcome:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    reason = f"SMTP {code}: {text}".strip()
    if 400 <= code < 500:
        return Outcome.transient(reason)
    return Outcome.permanent(reason)
