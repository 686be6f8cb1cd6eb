"""A small pool of persistent SMTP connections, and the classification of SMTP replies.

Connections are checked out one thread at a time (Celery's threads pool shares the channel),
at most ``HERALD_SMTP_POOL_SIZE`` open at once, and kept between messages. A connection that
fails is closed and replaced. Only a connection that fails before the message was submitted
(a pooled one the server dropped while idle) is retried at once; one that fails during or after
``DATA`` is a transient outcome the ledger retries later, with the same Message-ID. A server
that cannot be reached, or refuses the session (``421``, a 4xx to ``MAIL FROM``), is an outage:
no fault of the message, so it costs the message no retry attempt. When the
server offers PIPELINING (RFC 2920; Postfix, Exim, Mailpit and most relays do), the envelope
goes in one write: two round trips a message instead of four.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from smtplib import quoteaddr
from typing import Any

from herald.channels.base import Outcome
from herald.core.settings import Settings

_LEADING_DOT = re.compile(rb"(?m)^\.")
_DROPPED = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError, OSError)


@dataclass
class _Lease:
    smtp: smtplib.SMTP
    reused: bool
    broken: bool = False


class SmtpPool:
    """Persistent connections to the configured SMTP server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._idle: list[smtplib.SMTP] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.smtp_pool_size)
        self.opened = 0  # connections opened so far (tests, logs)

    def submit(self, sender: str, recipient: str, data: bytes) -> Outcome:
        """Hand one message over and classify the reply; never raises for SMTP trouble."""
        for _ in (1, 2):
            stage = "connect"
            try:
                with self._checkout() as lease:
                    try:
                        stage = "mail"
                        if lease.smtp.has_extn("pipelining"):
                            refused = _pipelined(lease, sender, recipient)
                            if refused is not None:
                                return refused
                            stage = "data"
                            code, reply = _body(lease.smtp, data)
                            if code != 250:
                                _reset(lease)
                                return classify(code, reply, "DATA", recipient)
                            return Outcome.sent()
                        code, reply = lease.smtp.mail(sender)
                        if code != 250:
                            _reset(lease)
                            return classify(code, reply, "MAIL FROM")
                        stage = "rcpt"
                        code, reply = lease.smtp.rcpt(recipient)
                        if code not in (250, 251):
                            _reset(lease)
                            return classify(code, reply, "RCPT TO", recipient)
                        stage = "data"
                        code, reply = lease.smtp.data(data)
                        if code != 250:
                            _reset(lease)
                            return classify(code, reply, "DATA", recipient)
                        return Outcome.sent()
                    except smtplib.SMTPResponseException as exc:
                        lease.broken = True
                        return classify(exc.smtp_code, exc.smtp_error, stage.upper(), recipient)
                    except _DROPPED:
                        lease.broken = True
                        if stage == "mail" and lease.reused:
                            continue  # idle connection closed by the server: nothing was sent
                        raise
            except smtplib.SMTPServerDisconnected as exc:
                return _lost(stage, exc)
            except smtplib.SMTPException as exc:  # (an OSError too, hence this order)
                # login or STARTTLS refused: a configuration problem, retried within the ceiling
                code = getattr(exc, "smtp_code", "")
                detail = getattr(exc, "smtp_error", b"") or str(exc).encode()
                text = " ".join(detail.decode(errors="replace").split())
                return Outcome.transient(f"SMTP session refused at {stage}: {code} {text}"[:480])
            except OSError as exc:
                return _lost(stage, exc)
        return Outcome.unavailable("SMTP connection lost before the message was sent")

    @contextlib.contextmanager
    def _checkout(self) -> Iterator[_Lease]:
        if not self._slots.acquire(timeout=self.settings.smtp_timeout):
            raise TimeoutError("no SMTP connection free in the pool")
        lease: _Lease | None = None
        try:
            with self._lock:
                idle = self._idle.pop() if self._idle else None
            lease = _Lease(idle, True) if idle is not None else _Lease(self._open(), False)
            yield lease
        finally:
            if lease is not None:
                if lease.broken:
                    _close(lease.smtp)
                else:
                    with self._lock:
                        self._idle.append(lease.smtp)
            self._slots.release()

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=tls_context(s)
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_tls == "starttls":
                smtp.starttls(context=tls_context(s))
        try:
            smtp.ehlo_or_helo_if_needed()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
        except Exception:
            _close(smtp)
            raise
        with self._lock:
            self.opened += 1
        return smtp

    def close(self) -> None:
        """Quit every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for smtp in idle:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            _close(smtp)


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verified TLS, always. ``HERALD_SMTP_CA_FILE`` names extra CA certificates to trust (a
    relay with a private CA or a local sink's self-signed certificate)."""
    cafile = (settings.extra.get("HERALD_SMTP_CA_FILE") or "").strip() or None
    return ssl.create_default_context(cafile=cafile)


def classify(code: int, reply: Any, stage: str, recipient: str | None = None) -> Outcome:
    """4xx → transient; 5xx → permanent, and a hard bounce when it refuses the recipient or the
    message (RCPT TO, DATA)."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    reason = f"SMTP {code} at {stage}: {' '.join(text.split())}"[:480]
    if code == 421 or (400 <= code < 500 and stage == "MAIL FROM"):
        # 421: the service is closing the channel; a 4xx to MAIL FROM refuses the session, not
        # this recipient
        return Outcome.unavailable(reason)
    if 400 <= code < 500 or code < 200:
        return Outcome.transient(reason)
    if recipient is not None and stage in ("RCPT TO", "DATA"):
        event = {
            "type": "bounced",
            "data": {"kind": "hard", "reason": reason, "code": code},
            "address": recipient,
        }
        return Outcome("permanent", reason=reason, event=event)
    return Outcome.permanent(reason)


def _lost(stage: str, exc: BaseException) -> Outcome:
    if stage in ("connect", "mail"):
        # nothing of the message left: the server is down or unreachable, an outage
        return Outcome.unavailable(
            f"SMTP connection lost before the message was sent: {exc or 'closed'}"
        )
    return Outcome.transient(
        f"SMTP connection lost during the message; it will be sent again: {exc or 'closed'}"
    )


def _pipelined(lease: _Lease, sender: str, recipient: str) -> Outcome | None:
    """MAIL, RCPT and DATA in one write, their three replies read after (RFC 2920 PIPELINING):
    one round trip instead of three. ``None`` once the server waits for the message; else the
    outcome of the first refusal. Nothing of the message has left before ``None``."""
    smtp = lease.smtp
    smtp.send(f"MAIL FROM:{_quote(sender)}\r\nRCPT TO:{_quote(recipient)}\r\nDATA\r\n")
    (mail, mail_reply), (rcpt, rcpt_reply), (data, data_reply) = (smtp.getreply() for _ in "123")
    if data == 354 and (mail != 250 or rcpt not in (250, 251)):
        # a server that accepts DATA after refusing the envelope gets an empty message ended
        smtp.send(b".\r\n")
        smtp.getreply()
    if mail != 250:
        _reset(lease)
        return classify(mail, mail_reply, "MAIL FROM")
    if rcpt not in (250, 251):
        _reset(lease)
        return classify(rcpt, rcpt_reply, "RCPT TO", recipient)
    if data != 354:
        _reset(lease)
        return classify(data, data_reply, "DATA", recipient)
    return None


# a bare addr-spec: nothing for smtplib's parser (``quoteaddr``) to take apart
_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"\\@]+@[^\s<>()\[\],;:\"\\@]+")


def _quote(address: str) -> str:
    """``<address>`` for the envelope, as ``smtplib.quoteaddr`` gives it; a bare addr-spec (every
    recipient: the channel checked it) skips the RFC 5322 parser, 60 µs a message."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return quoteaddr(address)


def _body(smtp: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """The message after ``354``, dot-stuffed and ended as ``smtplib.SMTP.data`` does it."""
    quoted = _LEADING_DOT.sub(b"..", data)
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    smtp.send(quoted + b".\r\n")
    return smtp.getreply()


def _reset(lease: _Lease) -> None:
    try:
        lease.smtp.rset()
    except _DROPPED:
        lease.broken = True


def _close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        smtp.close()
