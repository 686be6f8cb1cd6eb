"""The wire form of a marketing email, built with stdlib ``email`` once per run and variant.

:func:`build_skeleton` serialises a real ``multipart/alternative`` :class:`EmailMessage` whose
bodies are markers, and cuts its bytes around them. Per member :meth:`Skeleton.assemble` joins
the per-member headers, the prebuilt header block and boundaries, and the two bodies encoded
quoted-printable, which costs a fraction of building and serialising a message each time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, getaddresses

import dkim

TEXT_MARK = "hrldtextbodyx"
HTML_MARK = "hrldhtmlbodyx"
DKIM_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
)


@dataclass(frozen=True)
class DkimKey:
    """What signing needs: the domain, the selector and the PEM private key."""

    domain: bytes
    selector: bytes
    private_key: bytes


@dataclass(frozen=True)
class Skeleton:
    """A message cut around its bodies: ``head`` is the static header block (From, MIME-Version,
    List-Unsubscribe-Post, Content-Type with its boundary); ``parts`` the bytes between bodies."""

    head: bytes
    parts: tuple[bytes, ...]
    domain: str
    id_tag: str

    def message_id(self, run_id: int, delivery_id: int) -> str:
        """Stable per delivery: a second hand-off of the same delivery carries the same id."""
        return f"<{delivery_id}.{run_id}.{self.id_tag}@{self.domain}>"

    def assemble(
        self,
        *,
        message_id: str,
        date: str,
        to: str,
        subject: str,
        unsubscribe: str | None,
        text: str,
        html: str | None,
    ) -> bytes:
        """The whole message, CRLF line ends, ready for SMTP ``DATA``."""
        headers = [
            b"Message-ID: ",
            message_id.encode("ascii"),
            b"\r\nDate: ",
            date.encode("ascii"),
            b"\r\nTo: ",
            to.encode("ascii"),
            b"\r\n",
            encode_subject(subject),
        ]
        if unsubscribe:
            headers += [b"List-Unsubscribe: <", unsubscribe.encode("ascii"), b">\r\n"]
        bodies = [qp(text)] if html is None else [qp(text), qp(html)]
        out = [*headers, self.head]
        for part, body in zip(self.parts, bodies, strict=False):
            out += [part, body]
        out.append(self.parts[-1])
        return b"".join(out)


def build_skeleton(sender: str, *, html: bool, secret: str, unsubscribe: bool) -> Skeleton:
    """Serialise the message structure once with stdlib ``email`` and cut it at the markers."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    if unsubscribe:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(TEXT_MARK, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html:
        message.add_alternative(HTML_MARK, subtype="html", charset="utf-8", cte="quoted-printable")
    raw = message.as_bytes(policy=SMTP)
    head, _, body = raw.partition(b"\r\n\r\n")
    head += b"\r\n\r\n"
    if html:
        first, rest = body.split(TEXT_MARK.encode() + b"\r\n", 1)
        middle, last = rest.split(HTML_MARK.encode() + b"\r\n", 1)
        parts: tuple[bytes, ...] = (first, middle, last)
    else:
        # a single text/plain part: the body follows the header block directly
        first, last = body.split(TEXT_MARK.encode() + b"\r\n", 1)
        parts = (first, last)
    # stdlib repeats MIME-Version inside the html part; it belongs in the top header block only
    parts = tuple(part.replace(b"MIME-Version: 1.0\r\n", b"") for part in parts)
    domain = (getaddresses([sender])[0][1] or "herald.local").rpartition("@")[2] or "herald.local"
    tag = hmac.new(secret.encode(), b"herald.message-id", hashlib.sha256).hexdigest()[:10]
    return Skeleton(head=head, parts=parts, domain=domain, id_tag=f"herald{tag}")


def qp(text: str) -> bytes:
    """Quoted-printable body with CRLF line ends, ending in CRLF."""
    normalised = "\n".join(text.splitlines()) + "\n"
    return binascii.b2a_qp(normalised.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def encode_subject(subject: str) -> bytes:
    """``Subject:`` line(s): plain when short ASCII, else RFC 2047 encoded words, folded."""
    subject = " ".join(subject.split())
    if subject.isascii() and len(subject) <= 66:
        return b"Subject: " + subject.encode("ascii") + b"\r\n"
    words = [b"=?utf-8?b?" + base64.b64encode(chunk) + b"?=" for chunk in _utf8_chunks(subject, 42)]
    return b"Subject: " + b"\r\n ".join(words) + b"\r\n"


def _utf8_chunks(text: str, limit: int) -> list[bytes]:
    """UTF-8 of ``text`` cut into pieces of at most ``limit`` bytes, never inside a character
    (RFC 2047: each encoded word decodes on its own; 42 bytes keep each line within 78)."""
    chunks: list[bytes] = []
    current = bytearray()
    for char in text:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > limit:
            chunks.append(bytes(current))
            current = bytearray()
        current += encoded
    chunks.append(bytes(current))
    return chunks


def format_to(name: str, address: str) -> str:
    """``To:`` value: the display name encoded when it is not ASCII."""
    return formataddr((" ".join(name.split()), address), charset="utf-8")


def format_date(moment: datetime) -> str:
    """RFC 5322 date."""
    return format_datetime(moment)


def dkim_sign(message: bytes, key: DkimKey) -> bytes:
    """The message with a ``DKIM-Signature`` header prepended (relaxed/relaxed)."""
    signature = dkim.sign(
        message,
        key.selector,
        key.domain,
        key.private_key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(DKIM_HEADERS),
    )
    return signature + message
