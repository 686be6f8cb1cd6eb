"""Campaign and delivery statuses in one place, and the transitions a marketer may ask for."""

from __future__ import annotations

from herald.core.errors import Conflict

CAMPAIGN_STATUSES = (
    "draft",
    "scheduled",
    "sending",
    "testing",
    "sent",
    "paused",
    "cancelled",
    "failed",
)

# action -> statuses it may start from
ACTIONS: dict[str, tuple[str, ...]] = {
    "schedule": ("draft", "paused"),
    "send-now": ("draft", "scheduled", "paused"),
    "pause": ("scheduled", "sending", "testing"),
    "resume": ("paused",),
    "cancel": ("draft", "scheduled", "sending", "testing", "paused"),
}

# Delivery ledger statuses. pending: waiting for a worker; sending: claimed and being handed to a
# channel; the rest are terminal.
PENDING = "pending"
# the remainder of an A/B run, waiting for the decision to give it the winning variant
HELD = "held"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
UNCERTAIN = "uncertain"
CANCELLED = "cancelled"
TERMINAL = (SENT, FAILED, SKIPPED, UNCERTAIN, CANCELLED)


def check_action(action: str, status: str) -> None:
    """Raise :class:`Conflict` when ``action`` is not allowed from ``status``."""
    allowed = ACTIONS[action]
    if status not in allowed:
        raise Conflict(
            f"cannot {action} a campaign that is {status} (allowed from: {', '.join(allowed)})",
            {"status": status},
        )
