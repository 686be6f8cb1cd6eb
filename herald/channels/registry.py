"""The one place that maps a channel kind to its class."""

from __future__ import annotations

from herald.channels.base import Channel
from herald.channels.email import EmailChannel
from herald.channels.member_day import MemberDayChannel
from herald.channels.sms import SmsChannel
from herald.channels.social import SocialChannel
from herald.core.errors import ValidationError
from herald.core.settings import Settings

CHANNELS: dict[str, type[Channel]] = {
    EmailChannel.kind: EmailChannel,
    SmsChannel.kind: SmsChannel,
    SocialChannel.kind: SocialChannel,
    MemberDayChannel.kind: MemberDayChannel,
}

_instances: dict[tuple[str, int], Channel] = {}


def channel_class(kind: str) -> type[Channel]:
    """The class for ``kind``; an unknown kind is a validation error naming it."""
    try:
        return CHANNELS[kind]
    except KeyError:
        raise ValidationError(
            f"channel {kind!r} is not one of {', '.join(sorted(CHANNELS))}",
            {"channel": f"unknown channel {kind!r}"},
        ) from None


def channel_for(kind: str, settings: Settings) -> Channel:
    """A per-process instance, so connections (SMTP, HTTP sessions) are reused across batches."""
    key = (kind, id(settings))
    if key not in _instances:
        _instances[key] = channel_class(kind)(settings)
    return _instances[key]


def close_all() -> None:
    """Close every channel's connections (worker shutdown, tests)."""
    for channel in list(_instances.values()):
        channel.close()
    _instances.clear()
