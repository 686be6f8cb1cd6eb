"""Bounce and complaint reports from mail systems, as plain values.

:func:`parse_dsn` reads an RFC 3464 delivery status notification (``multipart/report;
report-type=delivery-status``) and also an RFC 5965 abuse report (``report-type=
feedback-report``), returning one :class:`Report` per failed recipient. The original message's
``Message-ID`` (from the returned ``message/rfc822`` or ``text/rfc822-headers`` part) ties the
report to the delivery.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import Message


@dataclass(frozen=True)
class Report:
    """One bounce or complaint about one recipient."""

    type: str  # "bounce" or "complaint"
    email: str
    message_id: str | None
    kind: str  # "hard" or "soft" for bounces; "abuse" etc. for complaints
    reason: str


class NotAReport(ValueError):
    """The bytes are not a delivery status notification or feedback report."""


def parse_dsn(raw: bytes) -> list[Report]:
    """Failed and delayed recipients of a DSN (or the complaint of an ARF report)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    report = _find_report(message)
    if report is None:
        raise NotAReport("not a multipart/report message")
    original_id = _original_message_id(report)
    if report.get_param("report-type", "").lower() == "feedback-report":
        return _feedback(report, original_id)
    status = next(
        (p for p in report.get_payload() if p.get_content_type() == "message/delivery-status"),
        None,
    )
    if status is None:
        raise NotAReport("multipart/report without a message/delivery-status part")
    out: list[Report] = []
    for block in status.get_payload()[1:] if isinstance(status.get_payload(), list) else []:
        recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        action = (block.get("Action") or "").strip().lower()
        code = (block.get("Status") or "").strip()
        if not recipient or action not in ("failed", "delayed"):
            continue
        kind = "hard" if action == "failed" and code.startswith("5") else "soft"
        diagnostic = " ".join(str(block.get("Diagnostic-Code") or "").split())
        reason = f"{code} {diagnostic}".strip() or action
        out.append(Report("bounce", recipient, original_id, kind, reason[:500]))
    return out


def _find_report(message: Message) -> Message | None:
    if message.get_content_type() == "multipart/report":
        return message
    if message.is_multipart():
        for part in message.get_payload():
            found = _find_report(part)
            if found is not None:
                return found
    return None


def _original_message_id(report: Message) -> str | None:
    for part in report.get_payload():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            original = inner[0] if isinstance(inner, list) and inner else None
            if original is not None and original.get("Message-ID"):
                return str(original["Message-ID"]).strip()
        elif kind == "text/rfc822-headers":
            headers = email.message_from_string(
                part.get_payload(decode=True).decode(errors="replace")
            )
            if headers.get("Message-ID"):
                return str(headers["Message-ID"]).strip()
    return None


def _feedback(report: Message, original_id: str | None) -> list[Report]:
    part = next(
        (p for p in report.get_payload() if p.get_content_type() == "message/feedback-report"),
        None,
    )
    if part is None:
        raise NotAReport("feedback report without a message/feedback-report part")
    payload = part.get_payload()
    fields = payload[0] if isinstance(payload, list) and payload else part
    recipient = _address(fields.get("Original-Rcpt-To") or "")
    kind = (fields.get("Feedback-Type") or "abuse").strip().lower()
    return [Report("complaint", recipient, original_id, kind, f"feedback report: {kind}")]


def _address(field: str | None) -> str:
    """``rfc822; someone@example.com`` → ``someone@example.com``."""
    value = str(field or "").strip()
    if ";" in value:
        value = value.split(";", 1)[1]
    return value.strip().strip("<>").strip()


__all__ = ["NotAReport", "Report", "parse_dsn"]
