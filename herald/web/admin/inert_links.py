"""Messages shown in the admin (the outbox) carry live tracking links: anyone who can read the
outbox, a viewer included, could unsubscribe a member or record opens and clicks by following
them. :func:`make_inert` replaces them before the page is built: click links by their plain
destination, unsubscribe links and open pixels by a placeholder that records nothing."""

from __future__ import annotations

import re

from herald.templating.tracking import read_click

UNSUBSCRIBE_PLACEHOLDER = "#unsubscribe-link-hidden-in-the-admin"
PIXEL_PLACEHOLDER = "data:,"


def make_inert(text: str, public_url: str, secret: str) -> str:
    """``text`` (HTML, plain text or a header) with every tracking link of this Herald made
    harmless. Links to other hosts are left alone."""
    pattern = re.compile(re.escape(public_url.rstrip("/")) + r"/(t/c|t/o|u)/([A-Za-z0-9_\-.]+)")

    def replace(match: re.Match[str]) -> str:
        kind, token = match.group(1), match.group(2)
        if kind == "t/c":
            found = read_click(secret, token)
            return found[1] if found is not None else UNSUBSCRIBE_PLACEHOLDER
        if kind == "t/o":
            return PIXEL_PLACEHOLDER
        return UNSUBSCRIBE_PLACEHOLDER

    return pattern.sub(replace, text)
