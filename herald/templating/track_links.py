"""Link tracking at compile time: every link becomes a ``{% track %}`` block, bound per delivery.

When a template is parsed, each ``href`` of an ``<a>`` or ``<area>`` (HTML), or each web address
(plain text such as SMS), is wrapped in ``{% track %}…{% endtrack %}``, and the open pixel is a
``{% track_open %}``. The template is still compiled once per run and variant; what a block
renders to is decided per delivery by the :class:`LinkTracker` bound for that render: the link's
rendered target, wherever it is rendered (a loop's every iteration, a macro, a branch), becomes
a signed ``{PUBLIC_URL}/t/c/{token}`` with its own position in the message. Member data is only
ever a block's *content*, never a marker: nothing a member's name says changes what is tracked.

Left alone: links marked ``data-herald-track="off"``, the unsubscribe link, and targets that are
not ``http(s)`` (``mailto:``, ``tel:``, anchors).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser
from markupsafe import Markup

from herald.templating.tracking import click_url, open_url

_JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)
_TAG = re.compile(r"<(?:a|area)\b[^>]*>", re.I)
_HREF = re.compile(r"""((?<![\w-])href\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.I)
_OFF = re.compile(r"""data-herald-track\s*=\s*["']?off\b""", re.I)
_URL = re.compile(r"""https?://[^\s<>"']+""", re.I)
_EXPR = re.compile(r"\x00(\d+)\x01")
_UNTRACKED = ("#", "mailto:", "tel:", "sms:", "javascript:", "data:", "cid:")
PIXEL_TAG = (
    '<img src="{% track_open %}" width="1" height="1" alt="" '
    'style="display:block;border:0;width:1px;height:1px" />'
)


class LinkTracker:
    """The links of one delivery: each tracked target rendered becomes a signed click URL with
    its position (1, 2, … in the order the message renders them)."""

    def __init__(
        self,
        public_url: str,
        secret: str,
        delivery_id: int,
        unsubscribe: str,
        signed: dict[tuple[str, int], str] | None = None,
    ) -> None:
        self.public_url = public_url
        self.secret = secret
        self.delivery_id = delivery_id
        self.unsubscribe = unsubscribe
        self.position = 0
        self.targets: list[str] = []
        # click URLs by (target, position): the text part's links repeat the HTML part's, and
        # one delivery's trackers share this so each is signed once
        self.signed = {} if signed is None else signed

    def link(self, target: str) -> str | None:
        """The click URL for ``target``, or None when it is left as written."""
        if not trackable(target) or target == self.unsubscribe:
            return None
        self.position += 1
        self.targets.append(target)
        key = (target, self.position)
        url = self.signed.get(key)
        if url is None:
            url = click_url(self.public_url, self.secret, self.delivery_id, target, self.position)
            self.signed[key] = url
        return url

    def pixel(self) -> str:
        """The open pixel's URL."""
        return open_url(self.public_url, self.secret, self.delivery_id)


_tracker: ContextVar[LinkTracker | None] = ContextVar("herald_link_tracker", default=None)


@contextmanager
def tracking(tracker: LinkTracker | None) -> Iterator[None]:
    """Bind ``tracker`` to the renders inside the block (one delivery's parts)."""
    token = _tracker.set(tracker)
    try:
        yield
    finally:
        _tracker.reset(token)


def trackable(target: str) -> bool:
    """True for the targets Herald tracks: ``http`` and ``https`` addresses."""
    lowered = target.strip().lower()
    return lowered.startswith(("http://", "https://")) and not lowered.startswith(_UNTRACKED)


class TrackExtension(Extension):
    """``{% track %}target{% endtrack %}`` and ``{% track_open %}``; the environment's
    ``herald_links`` (``"html"``, ``"text"`` or None) says which links parsing wraps."""

    tags = {"track", "track_open"}

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        """Wrap the links of a template's source before it is parsed."""
        kind = getattr(self.environment, "herald_links", None)
        if kind == "html":
            return wrap_hrefs(source)
        if kind == "text":
            return wrap_urls(source)
        return source

    def parse(self, parser: Parser) -> nodes.Node:
        """Parse one of the two tags into a call of this extension."""
        token = next(parser.stream)
        if token.value == "track_open":
            return nodes.Output([self.call_method("_pixel", lineno=token.lineno)]).set_lineno(
                token.lineno
            )
        body = parser.parse_statements(("name:endtrack",), drop_needle=True)
        parts = _expression_parts(body)
        if parts is not None:
            # the common case, text and expressions only: one call on their concatenation,
            # cheaper than a call block's macro per link
            value = nodes.Concat(parts, lineno=token.lineno)
            call = self.call_method("_track_value", [value], lineno=token.lineno)
            return nodes.Output([call], lineno=token.lineno)
        call = self.call_method("_track", lineno=token.lineno)
        return nodes.CallBlock(call, [], [], body).set_lineno(token.lineno)

    def _track(self, caller: Callable[[], str]) -> str:
        return self._track_value(caller())

    def _track_value(self, body: str) -> str:
        # in HTML the body is markup as written (``&amp;``), even when Jinja folded it into a
        # plain string at compile time
        escaped = bool(self.environment.autoescape)
        tracker = _tracker.get()
        if tracker is None:
            return Markup(body) if escaped else body
        target = (html.unescape(str(body)) if escaped else str(body)).strip()
        url = tracker.link(target)
        if url is None:
            return Markup(body) if escaped else body
        return Markup(url) if escaped else url

    def _pixel(self) -> str:
        tracker = _tracker.get()
        return tracker.pixel() if tracker is not None else ""


def _expression_parts(body: list[nodes.Node]) -> list[nodes.Expr] | None:
    """The parts of a ``track`` block made of text and expressions only, or None."""
    parts: list[nodes.Expr] = []
    for node in body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                # template text is markup as written, like an ordinary output of it
                const = nodes.Const(child.data, lineno=child.lineno)
                parts.append(nodes.MarkSafeIfAutoescape(const, lineno=child.lineno))
            elif isinstance(child, nodes.Expr):
                parts.append(child)
            else:
                return None
    return parts or None


def _mask(source: str) -> tuple[str, list[str]]:
    """The source with every Jinja construct replaced by a placeholder free of quotes, ``>`` and
    whitespace, so HTML patterns never look inside an expression."""
    found: list[str] = []

    def hide(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return f"\x00{len(found) - 1}\x01"

    return _JINJA.sub(hide, source), found


def _unmask(text: str, found: list[str]) -> str:
    return _EXPR.sub(lambda m: found[int(m.group(1))], text)


def _wrap(value: str) -> str:
    return "{% track %}" + value + "{% endtrack %}"


def _worth_wrapping(value: str) -> bool:
    """Static targets only when trackable; templated ones are decided per delivery."""
    source = value.strip()
    if not source or "unsubscribe_url" in source or "track %}" in source:
        return False
    if "{{" in source or "{%" in source:
        return True
    return trackable(html.unescape(source))


def wrap_hrefs(source: str) -> str:
    """Every ``href`` of an ``<a>``/``<area>`` wrapped in a ``track`` block (HTML templates)."""
    masked, found = _mask(source)

    def in_tag(tag: re.Match[str]) -> str:
        text = tag.group(0)
        if _OFF.search(_unmask(text, found)):
            return text

        def attribute(match: re.Match[str]) -> str:
            prefix = match.group(1)
            raw = next(v for v in match.groups()[1:] if v is not None)
            value = _unmask(raw, found)
            if not _worth_wrapping(value):
                return match.group(0)
            quote = '"' if match.group(2) is not None or match.group(4) is not None else "'"
            found.append(_wrap(value))
            return f"{prefix}{quote}\x00{len(found) - 1}\x01{quote}"

        return _HREF.sub(attribute, text, count=1)

    return _unmask(_TAG.sub(in_tag, masked), found)


def wrap_urls(source: str) -> str:
    """Every web address in a plain-text template (an SMS body) wrapped in a ``track`` block,
    including addresses completed by an expression (``https://shop.com/c/{{ coupon.code }}``)."""
    if "track %}" in source:
        return source
    masked, found = _mask(source)

    def url(match: re.Match[str]) -> str:
        text = match.group(0)
        trail = len(text) - len(text.rstrip(".,;:!?)]"))
        core, rest = (text[:-trail], text[-trail:]) if trail else (text, "")
        value = _unmask(core, found)
        if "unsubscribe_url" in value:
            return text
        return _wrap(value) + rest

    return _unmask(_URL.sub(url, masked), found)


def add_pixel(source: str) -> str:
    """The open pixel placed just before ``</body>`` (or at the end)."""
    at = source.lower().rfind("</body>")
    if at < 0:
        return source + PIXEL_TAG
    return source[:at] + PIXEL_TAG + source[at:]
