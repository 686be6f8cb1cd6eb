"""Who fetched the pixel or followed the link: a person, or a machine (contract sections 9, 13).

A mailbox provider's image proxy fetches on the reader's behalf when the reader opens the message
(Gmail's ``GoogleImageProxy``, Yahoo's ``YahooMailProxy``, Outlook's own client): a human open.
A privacy proxy that fetches every message whether read or not (Apple Mail Privacy Protection,
whose fetches carry the bare ``Mozilla/5.0``), a security scanner that follows every link
(Microsoft Defender Safe Links, Proofpoint, Mimecast, Barracuda), a ``HEAD`` request, or anything
inside the machine window after delivery: a machine event.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

# providers' image proxies: fetched because a person opened the message
HUMAN_PROXIES = re.compile(
    r"GoogleImageProxy|ggpht\.com|YahooMailProxy|Microsoft Outlook|ms-office|MSOffice",
    re.I,
)
# Microsoft's link scanner presents a 2015 Edge string with a second "Mozilla/5.0" appended
_MICROSOFT_SCANNER = "Edge/12.246 Mozilla/5.0"
MACHINE_AGENTS = re.compile(
    r"Apple.?Mail.?Privacy|Mimecast|Proofpoint|Barracuda|Symantec|MessageLabs|Forcepoint|"
    r"TrendMicro|Sophos|FireEye|Cisco.?IronPort|SafeLinks|BingPreview|"
    r"Microsoft Office Protocol Discovery|"
    r"bot\b|crawler|spider|scanner|python-requests|python-urllib|aiohttp|curl/|wget|okhttp|"
    r"Go-http-client|HeadlessChrome|facebookexternalhit|Slackbot|WhatsApp|Discordbot",
    re.I,
)


def is_machine_agent(user_agent: str | None) -> bool:
    """True for a privacy proxy or scanner user agent, or none at all; False for a person's
    mail client or browser and for a mailbox provider's image proxy."""
    agent = (user_agent or "").strip()
    if not agent or agent == "Mozilla/5.0":
        return True
    if _MICROSOFT_SCANNER in agent:
        return True
    if HUMAN_PROXIES.search(agent):
        return False
    return bool(MACHINE_AGENTS.search(agent))


def is_machine_event(
    user_agent: str | None,
    sent_at: datetime | None,
    now: datetime,
    window: timedelta,
    method: str = "GET",
) -> bool:
    """An open or click made by a machine: a proxy or scanner agent, a ``HEAD`` request, or one
    arriving within ``window`` of the delivery (no person opens a mail that fast)."""
    if method.upper() == "HEAD" or is_machine_agent(user_agent):
        return True
    if window <= timedelta(0):
        return False
    # no sent_at yet: the ledger has not even closed the row, so this is within the window
    return sent_at is None or now - sent_at < window
