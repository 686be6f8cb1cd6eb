"""The small interface every channel implements, and the values it returns.

A channel is one module with one class: it checks a variant's fields at save time, prepares a
run once (templates compiled, message skeleton built), renders a message for one recipient,
sends it and classifies the outcome. Failures are values, not exceptions: only the unexpected
propagates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from herald.core.settings import Settings

OutcomeStatus = Literal["sent", "transient", "permanent"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one hand-off: sent (with the provider's id), or a failure with a reason
    a marketer can read. ``retry_after`` is a provider's hint for transient failures."""

    status: OutcomeStatus
    provider_id: str | None = None
    reason: str | None = None
    retry_after: float | None = None
    # something the ledger records with the outcome in its transaction, e.g. a hard bounce:
    # {"type": "bounced", "data": {...}, "address": "..."} (see herald/campaigns/feedback.py)
    event: Mapping[str, Any] | None = None
    # a transient failure of the provider itself (unreachable, refusing every message), not of
    # this message: the sender stops handing off and waits, and it costs no retry attempt
    outage: bool = False

    @classmethod
    def sent(cls, provider_id: str | None = None) -> Outcome:
        return cls("sent", provider_id=provider_id)

    @classmethod
    def transient(cls, reason: str, retry_after: float | None = None) -> Outcome:
        return cls("transient", reason=reason, retry_after=retry_after)

    @classmethod
    def unavailable(cls, reason: str, retry_after: float | None = None) -> Outcome:
        """The provider is down or refusing every message: nothing about this one."""
        return cls("transient", reason=reason, retry_after=retry_after, outage=True)

    @classmethod
    def permanent(cls, reason: str) -> Outcome:
        return cls("permanent", reason=reason)


@dataclass(frozen=True)
class Recipient:
    """What a channel may know about one member for one delivery."""

    contact_id: int
    delivery_id: int
    email: str | None
    phone: str | None
    context: Mapping[str, Any]  # the template context: contact, campaign, coupon, unsubscribe_url
    tokens: Mapping[str, str] = field(default_factory=dict)  # signed tracking tokens


@dataclass(frozen=True)
class RunInfo:
    """The run being sent, as channels see it."""

    campaign_id: int
    campaign_name: str
    run_id: int
    variant_id: int
    variant_name: str
    content: Mapping[str, Any]
    started_at: datetime
    # more names its templates see, the same for every member (a social post's promotion, now)
    extras: Mapping[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    """What every channel class provides. ``address`` names the contact field it delivers to
    (``email`` or ``phone``); ``None`` for channels that post once per run (social)."""

    kind: ClassVar[str]
    address: ClassVar[str | None]
    consent: ClassVar[str | None]
    marketing: ClassVar[bool]

    def __init__(self, settings: Settings) -> None: ...

    def check_variant(self, content: Mapping[str, Any]) -> dict[str, str]:
        """Field problems of a variant's content (empty when fine); compiles templates."""
        ...

    def prepare(self, run: RunInfo) -> Any:
        """Work done once per run and variant; the result is handed back to ``render``."""
        ...

    def render(self, prepared: Any, recipient: Recipient) -> Any:
        """The message for one recipient."""
        ...

    def send(self, message: Any) -> Outcome:
        """Hand one message to the provider and classify what came back."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
