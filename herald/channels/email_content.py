"""The bodies of a marketing email: tracked links, open pixel, inlined CSS and the text part.

Everything that can be done on the template is done once per run and variant: every ``href``
becomes a ``{% track %}`` block and the pixel a ``{% track_open %}``
(:mod:`herald.templating.track_links`), CSS is inlined into the template and the text part is
derived from it in one streaming pass. Per member only Jinja renders, with link tracking bound
to the delivery. Inlining or text extraction on a template is only kept when it leaves every Jinja
construct intact and in order; otherwise that step runs on each rendered message.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import css_inline

from herald.channels.email_text import html_to_text, tidy
from herald.templating import render as templates
from herald.templating.track_links import LinkTracker, add_pixel, wrap_hrefs

_JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)
_DYNAMIC_SELECTOR = re.compile(r"""(?<![\w-])(?:class|id)\s*=\s*["']?[^"'>]*(?:{{|{%)""", re.I)
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


@dataclass(frozen=True)
class PreparedContent:
    """A variant's bodies ready for per-member rendering."""

    html: Any | None  # compiled template, links in track blocks
    text: Any | None  # compiled text template (given, or derived from the HTML)
    inline_per_member: bool
    text_per_member: bool
    public_url: str
    secret: str

    def render(self, context: Mapping[str, Any], delivery_id: int) -> tuple[str, str | None]:
        """``(text, html)`` for one member; html is ``None`` for a text-only variant."""
        unsubscribe = str(context.get("unsubscribe_url") or "")
        signed: dict[tuple[str, int], str] = {}
        body = None
        if self.html is not None:
            links = LinkTracker(self.public_url, self.secret, delivery_id, unsubscribe, signed)
            body = templates.render(self.html, context, links)
            if self.inline_per_member:
                body = _INLINER.inline(body)
        if self.text is not None:
            # the text part's links in the same order get the same positions (and tokens)
            links = LinkTracker(self.public_url, self.secret, delivery_id, unsubscribe, signed)
            text = tidy(templates.render(self.text, context, links))
        else:
            text = html_to_text(body or "")
        return text, body


def prepare_content(
    html_source: str | None, text_source: str | None, public_url: str, secret: str
) -> PreparedContent:
    """Compile a variant's bodies once: links tracked, pixel added, CSS inlined, text derived."""
    text = templates.compile_template("text", text_source, links="text") if text_source else None
    if not html_source:
        return PreparedContent(None, text, False, False, public_url, secret)
    marked = add_pixel(wrap_hrefs(html_source))
    inline_per_member = False
    if _has_css(marked):
        inlined = _inline_template(marked)
        if inlined is not None:
            marked = inlined
        else:
            inline_per_member = True
    text_per_member = False
    if text is None:
        derived = _derive_text(marked) if not inline_per_member else None
        if derived is not None:
            text = derived
        else:
            text_per_member = True
    return PreparedContent(
        html=templates.compile_template("html", marked, html=True, links="html"),
        text=text,
        inline_per_member=inline_per_member,
        text_per_member=text_per_member,
        public_url=public_url,
        secret=secret,
    )


def _inline_template(source: str) -> str | None:
    """CSS inlined into the template itself, or None when that cannot keep it intact. Each Jinja
    construct stands in as an HTML comment meanwhile: a comment stays where it is, even between
    table rows, where the HTML parser would move text (a loop's ``{% for %}``) out of the
    table."""
    if _DYNAMIC_SELECTOR.search(source):
        return None  # which rules apply is only known once the member's values are in
    nonce = secrets.token_hex(4)
    found: list[str] = []

    def hide(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return f"<!--hj{nonce}:{len(found) - 1}-->"

    inlined = _INLINER.inline(_JINJA.sub(hide, source))
    pattern = re.compile(rf"(?:<!--|&lt;!--)hj{nonce}:(\d+)(?:-->|--&gt;)")
    restored = pattern.sub(lambda m: found[int(m.group(1))], inlined)
    return restored if _keeps_template(source, restored) else None


def _derive_text(source: str) -> Any | None:
    """The text part as a template derived from the HTML template (see
    :mod:`herald.channels.email_text`), or None when it does not compile."""
    try:
        return templates.compile_template("text", html_to_text(source))
    except ValueError:
        return None


def _has_css(source: str) -> bool:
    lowered = source.lower()
    return "<style" in lowered or "stylesheet" in lowered


def _keeps_template(before: str, after: str) -> bool:
    """True when a transformation kept every Jinja construct, verbatim and in order."""
    return _JINJA.findall(before) == _JINJA.findall(after)
