"""The text part of an email, derived from its HTML in one streaming pass.

A tree-building parser moves text it finds between table rows out of the table (HTML's "foster
parenting"), which would tear a ``{% for %}`` placed between ``<tr>`` and ``<td>`` away from its
cells. This converter reads tags and text in document order and writes as it reads, so a
template's Jinja constructs keep their places: the text part is derived once per template and
rendered per member like the HTML. Statements are kept wherever they are (also inside
attributes and skipped elements), so that blocks stay balanced; expressions are kept in text and
in link targets.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)
_TOKEN = re.compile("\ue000(\\d+)\ue001")
_BLOCK = {
    "p", "div", "table", "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "center",
    "section", "article", "header", "footer", "blockquote", "hr", "dl", "dt", "dd",
}  # fmt: skip
_SKIP = {"head", "style", "script", "title", "template", "noscript"}


class _Converter(HTMLParser):
    def __init__(self, found: list[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.found = found
        self.out: list[str] = []
        self.skipping = 0
        self.links: list[tuple[str | None, int]] = []

    def _statements(self, value: str) -> str:
        """Only the statements (``{% … %}``) among the constructs in ``value``."""
        kept = [self.found[int(m.group(1))] for m in _TOKEN.finditer(value)]
        return "".join(c for c in kept if c.startswith("{%") and "track_open" not in c)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name != "href" or tag not in ("a", "area"):
                self.out.append(self._statements(f"{name}{value or ''}"))
        if tag in _SKIP:
            self.skipping += 1
            return
        if tag in ("a", "area"):
            href = dict(attrs).get("href")
            self.links.append((href, len(self.out)))
            if tag == "area":
                self._link_end(dict(attrs).get("alt") or "")
            return
        if tag in _BLOCK or tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "img" and self.links:  # an image link reads as its alt text
            alt = dict(attrs).get("alt") or ""
            self.out.append(_TOKEN.sub(lambda m: self.found[int(m.group(1))], alt))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
            return
        if tag == "a" and self.links:
            self._link_end(None)
        elif tag in _BLOCK:
            self.out.append("\n")

    def _link_end(self, label: str | None) -> None:
        href, start = self.links.pop()
        if label:
            self.out.append(label)
        href = (href or "").strip()
        if not href or href.startswith("#"):
            return
        target = _TOKEN.sub(lambda m: self.found[int(m.group(1))], href)
        text = "".join(self.out[start:]).strip()
        if text != href:
            self.out.append(f" ({target})" if text else target)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            self.out.append(self._statements(data))
            return
        self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(source: str) -> str:
    """Readable text for an HTML message or template: blocks on their own lines, links as
    ``label (target)``, Jinja constructs kept in order."""
    found: list[str] = []

    def hide(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return f"\ue000{len(found) - 1}\ue001"

    converter = _Converter(found)
    converter.feed(_JINJA.sub(hide, source))
    converter.close()
    text = "".join(converter.out)
    return _TOKEN.sub(lambda m: found[int(m.group(1))], tidy(text))


def tidy(text: str) -> str:
    """Lines stripped of surrounding spaces, at most one blank line in a row."""
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
