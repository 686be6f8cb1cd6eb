"""What the ledger hands a campaign's deliveries to, per channel kind.

Mostly the channel itself (:mod:`herald.channels.registry`); a kind whose send involves campaign
logic (member days: eligibility, coupons, notices) gets a campaign-level sender that wraps its
channel and offers the same interface.
"""

from __future__ import annotations

from typing import Any

from herald.campaigns.member_days import MemberDaySender
from herald.channels import registry
from herald.core.settings import Settings

SENDERS: dict[str, type[Any]] = {**registry.CHANNELS, MemberDaySender.kind: MemberDaySender}

_instances: dict[tuple[str, int], Any] = {}


def sender_class(kind: str) -> type[Any]:
    """The class for ``kind``; an unknown kind is a validation error naming it."""
    registry.channel_class(kind)  # raises for an unknown kind, in the registry's words
    return SENDERS[kind]


def sender_for(kind: str, settings: Settings) -> Any:
    """A per-process instance, so connections are reused across batches."""
    if kind not in SENDERS or SENDERS[kind] is registry.CHANNELS.get(kind):
        return registry.channel_for(kind, settings)
    key = (kind, id(settings))
    if key not in _instances:
        _instances[key] = sender_class(kind)(settings)
    return _instances[key]


def close_all() -> None:
    """Close every sender's and channel's connections (worker shutdown, tests)."""
    for sender in list(_instances.values()):
        sender.close()
    _instances.clear()
    registry.close_all()
