"""The one send policy every message passes: address, consent, suppression, frequency cap and
quiet hours. Pure: facts in, a decision out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from herald.core.settings import FrequencyCap


@dataclass(frozen=True)
class Facts:
    """What the policy needs to know about one member for one message."""

    has_address: bool
    consent_required: bool
    consented: bool
    suppressed: bool
    sent_in_window: int
    transactional: bool = False
    local_zone: ZoneInfo | None = None
    quiet_hours_apply: bool = True  # False: this member gets nothing the quiet hours cover


@dataclass(frozen=True)
class Rules:
    """The policy's settings for one channel."""

    address_field: str | None
    frequency_cap: FrequencyCap | None
    quiet_hours: tuple[time, time] | None = None


@dataclass(frozen=True)
class Decision:
    """``send``, ``skip`` (terminal, with a reason) or ``defer`` (until a time)."""

    action: str
    reason: str | None = None
    until: datetime | None = None


SEND = Decision("send")


def decide(facts: Facts, rules: Rules, now: datetime) -> Decision:
    """Whether one message may go now. Skips name their reason; quiet hours defer, never skip."""
    if not facts.has_address:
        return Decision("skip", f"no {rules.address_field or 'address'}")
    if facts.suppressed:
        return Decision("skip", "suppressed")
    if facts.consent_required and not facts.consented:
        return Decision("skip", "no consent")
    if (
        not facts.transactional
        and rules.frequency_cap is not None
        and facts.sent_in_window >= rules.frequency_cap.messages
    ):
        cap = rules.frequency_cap
        return Decision("skip", f"frequency cap ({cap.messages} per {_human(cap.window)})")
    if rules.quiet_hours is not None and facts.quiet_hours_apply and not facts.transactional:
        until = quiet_until(now, rules.quiet_hours, facts.local_zone or ZoneInfo("UTC"))
        if until is not None:
            return Decision("defer", "quiet hours", until)
    return SEND


def quiet_until(now: datetime, hours: tuple[time, time], zone: ZoneInfo) -> datetime | None:
    """The end of the quiet period ``now`` falls in (start included, end excluded), else None."""
    start, end = hours
    local = now.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if start == end:
        return None
    inside = start <= wall < end if start < end else wall >= start or wall < end
    if not inside:
        return None
    day = local.date() if wall < end else local.date() + timedelta(days=1)
    naive_end = datetime.combine(day, end)
    return naive_end.replace(tzinfo=zone).astimezone(now.tzinfo)


def _human(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
