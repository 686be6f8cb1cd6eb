"""The bodies of a marketing email: link rewriting, open pixel, inlined CSS and the text part.

Everything that can be done on the template is done once per run and variant: each tracked
``href`` becomes a marker, the pixel is a marker, CSS is inlined into the template and the text
part is derived from it with inscriptis. Per member only Jinja renders and the markers are
swapped for signed URLs. Inlining or text extraction on a template is only kept when it leaves
every Jinja construct intact and in order; otherwise that step runs on each rendered message.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import css_inline
from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from jinja2 import TemplateSyntaxError, meta

from herald.templating import render as templates
from herald.templating.tracking import click_url, open_url

_HREF = re.compile(r"""(<(?:a|area)\b[^>]*?(?<![\w-])href\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
_JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)
_MARK = re.compile(r"hrldlnk(\d+)x|hrldpxlx")
_LOOP = re.compile(r"hrldloop(.*?)hrldpool", re.S)
_UNTRACKED = ("#", "mailto:", "tel:", "sms:", "javascript:", "data:", "cid:")
PIXEL_MARK = "hrldpxlx"
_PIXEL_TAG = (
    '<img src="hrldpxlx" width="1" height="1" alt="" '
    'style="display:block;border:0;width:1px;height:1px" />'
)
_TEXT_CONFIG = ParserConfig(display_links=True)
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


@dataclass(frozen=True)
class Link:
    """One tracked link: a static target, or a template rendered per member."""

    target: str | None
    template: Any | None = None


@dataclass(frozen=True)
class PreparedContent:
    """A variant's bodies ready for per-member rendering."""

    html: Any | None  # compiled template, markers in place
    text: Any | None  # compiled text template (given, or derived from the HTML)
    links: tuple[Link, ...]
    inline_per_member: bool
    text_per_member: bool
    public_url: str
    secret: str

    def render(self, context: Mapping[str, Any], delivery_id: int) -> tuple[str, str | None]:
        """``(text, html)`` for one member; html is ``None`` for a text-only variant."""
        body = templates.render(self.html, context) if self.html is not None else None
        if body is not None and self.inline_per_member:
            body = _INLINER.inline(body)
        swap = self._swapper(context, delivery_id) if body is not None else None
        if self.text is not None:
            text = templates.render(self.text, context)
        else:
            text = get_text(body or "", _TEXT_CONFIG)
        if swap is not None:
            text = _MARK.sub(lambda m: "" if m.group(1) is None else swap(m), text).strip() + "\n"
            body = _MARK.sub(swap, body or "")
            loop = self._loop_swapper(delivery_id)
            text, body = _LOOP.sub(loop, text), _LOOP.sub(loop, body)
        return text, body

    def _loop_swapper(self, delivery_id: int) -> Callable[[Any], str]:
        def swap(match: Any) -> str:
            target = html.unescape(match.group(1)).strip()
            if not _trackable(target):
                return match.group(1)
            return click_url(self.public_url, self.secret, delivery_id, target)

        return swap

    def _swapper(self, context: Mapping[str, Any], delivery_id: int) -> Callable[[Any], str]:
        unsubscribe = str(context.get("unsubscribe_url") or "")
        urls: list[str] = []
        for link in self.links:
            target = link.target
            if link.template is not None:
                rendered = templates.render(link.template, context).strip()
                target = html.unescape(rendered)
                if not _trackable(target) or target == unsubscribe:
                    urls.append(rendered)
                    continue
            urls.append(click_url(self.public_url, self.secret, delivery_id, target or ""))
        pixel = open_url(self.public_url, self.secret, delivery_id)

        def swap(match: Any) -> str:
            index = match.group(1)
            return pixel if index is None else urls[int(index)]

        return swap


def prepare_content(
    html_source: str | None, text_source: str | None, public_url: str, secret: str
) -> PreparedContent:
    """Compile a variant's bodies once: markers for links and pixel, CSS inlined, text derived."""
    text = templates.compile_template("text", text_source) if text_source else None
    if not html_source:
        return PreparedContent(None, text, (), False, False, public_url, secret)
    links: list[Link] = []

    def mark(match: re.Match[str]) -> str:
        prefix, quote, value = match.groups()
        if _JINJA.search(value) and not _member_names_only(value):
            # a loop's variable (``{% for p in products %}<a href="{{ p.url }}">``) exists only
            # inside the loop: the address renders in place, between markers that each
            # member's message turns into a tracked link
            return f"{prefix}{quote}hrldloop{value}hrldpool{quote}"
        link = _link(value)
        if link is None:
            return match.group(0)
        links.append(link)
        return f"{prefix}{quote}hrldlnk{len(links) - 1}x{quote}"

    marked = _add_pixel(_HREF.sub(mark, html_source))
    inline_per_member = False
    if _has_css(marked):
        inlined = _INLINER.inline(marked)
        if _keeps_template(marked, inlined):
            marked = inlined
        else:
            inline_per_member = True
    text_per_member = False
    if text is None:
        derived = get_text(marked, _TEXT_CONFIG)
        if _keeps_template(marked, derived) and not inline_per_member:
            text = templates.compile_template("text", derived)
        else:
            text_per_member = True
    return PreparedContent(
        html=templates.compile_template("html", marked, html=True),
        text=text,
        links=tuple(links),
        inline_per_member=inline_per_member,
        text_per_member=text_per_member,
        public_url=public_url,
        secret=secret,
    )


def _link(value: str) -> Link | None:
    source = value.strip()
    if not source or "unsubscribe_url" in source:
        return None
    if "{{" in source or "{%" in source:
        return Link(None, templates.compile_template("html", source, html=True))
    target = html.unescape(source)
    return Link(target) if _trackable(target) else None


def _member_names_only(source: str) -> bool:
    """True when a link's template uses only names every message has (contact, coupon, ...)."""
    env = templates.environment(True)
    try:
        names = meta.find_undeclared_variables(env.parse(source))
    except TemplateSyntaxError:
        return True  # compile_template reports it, with the line
    return names <= set(templates.TEMPLATE_NAMES)


def _trackable(target: str) -> bool:
    lowered = target.strip().lower()
    return lowered.startswith(("http://", "https://")) and not lowered.startswith(_UNTRACKED)


def _add_pixel(source: str) -> str:
    at = source.lower().rfind("</body>")
    if at < 0:
        return source + _PIXEL_TAG
    return source[:at] + _PIXEL_TAG + source[at:]


def _has_css(source: str) -> bool:
    lowered = source.lower()
    return "<style" in lowered or "stylesheet" in lowered


def _keeps_template(before: str, after: str) -> bool:
    """True when a transformation kept every Jinja construct, verbatim and in order."""
    return _JINJA.findall(before) == _JINJA.findall(after)
