"""Real-world email templates (tests/templating/corpus) rendered for a set of members: every link
is tracked and leads to its own target, the text part reads well, CSS is inlined and the HTML
parses without errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import html5lib
import pytest

from herald.channels.email_content import PreparedContent, prepare_content
from herald.templating import render as templates
from herald.templating.tracking import read_click_link

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.html"))
PUBLIC_URL = "http://herald.test"
SECRET = "test-secret-key"  # the secret of tests.conftest.make_settings, for the Flask app
UNSUBSCRIBE = f"{PUBLIC_URL}/u/unsubscribe-token"
CART = {
    "items": [
        {"sku": "TEA-1", "name": "Longjing", "qty": 2, "price": 128},
        {"sku": "CUP-9", "name": "Celadon cup", "qty": 1, "price": 45},
    ],
    "total": 301,
    "url": "https://shop.example.com/cart/77",
}
MEMBERS: dict[str, dict[str, Any]] = {
    "gold": {
        "id": 11,
        "first_name": "Mei",
        "last_name": "Chen",
        "tier": "gold",
        "points": 1500,
        "attributes": {
            "recommended": ["white-peony", "dragon-well", "golden-monkey"],
            "city": "Hangzhou",
            "favourite_category": "green tea",
        },
    },
    "empty": {"id": 12, "tier": "new", "points": 0, "attributes": {}, "first_name": None},
    "platinum_cjk": {
        "id": 13,
        "first_name": "李雷",
        "tier": "platinum",
        "points": 8800,
        "attributes": {"recommended": ["普洱"]},
    },
    "hostile": {
        "id": 14,
        "first_name": 'hrldlnk0x <b>"x"</b> {{ 7*7 }} hrldpxlx',
        "tier": "silver",
        "points": 600,
        "attributes": {"recommended": ["hrldlnk1x"], "city": "hrldlnk99x"},
    },
}


def _context(member: str) -> dict[str, Any]:
    contact = MEMBERS[member]
    return {
        "contact": contact,
        "campaign": {"id": 5, "name": "Weekly"},
        "coupon": {"code": "TEA-7Q2X", "percent_off": 15} if member != "empty" else {},
        "unsubscribe_url": UNSUBSCRIBE,
        "event": {"cart": CART} if member in ("gold", "hostile") else {},
    }


def _prepared(path: Path) -> PreparedContent:
    return prepare_content(path.read_text(), None, PUBLIC_URL, SECRET)


def _parse(html: str) -> tuple[Any, list[Any]]:
    parser = html5lib.HTMLParser(strict=False, namespaceHTMLElements=False)
    document = parser.parse(html)
    return document, parser.errors


def _links(document: Any) -> list[Any]:
    return [el for el in document.iter() if el.tag in ("a", "area") and el.get("href")]


def _expected(link: Any, written: str) -> bool:
    """Whether a link as written should be tracked."""
    return (
        written.lower().startswith(("http://", "https://"))
        and written != UNSUBSCRIBE
        and link.get("data-herald-track") != "off"
    )


def test_the_corpus_has_at_least_ten_templates():
    assert len(CORPUS) >= 10


@pytest.mark.parametrize("member", sorted(MEMBERS))
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_every_link_is_tracked_with_its_own_target_and_position(path, member):
    prepared = _prepared(path)
    context = _context(member)
    delivery_id = 1000 + MEMBERS[member]["id"]
    _text, html = prepared.render(context, delivery_id)
    # the same template rendered with nothing bound: links as the marketer wrote them
    written_html = templates.render(prepared.html, context)

    document, errors = _parse(html)
    assert errors == [], f"{path.name}: HTML parse errors {errors[:3]}"
    tracked_links = _links(document)
    written_links = _links(_parse(written_html)[0])
    assert len(tracked_links) == len(written_links) > 0

    position = 0
    tracked_urls = []
    for tracked, written in zip(tracked_links, written_links, strict=True):
        href, target = tracked.get("href"), written.get("href")
        if not _expected(written, target):
            assert href == target, f"{path.name}: {target} should be left alone"
            continue
        position += 1
        assert href.startswith(f"{PUBLIC_URL}/t/c/"), f"{path.name}: {target} is not tracked"
        assert read_click_link(SECRET, href.rsplit("/", 1)[1]) == (delivery_id, target, position)
        tracked_urls.append(href)
    assert position > 0
    assert len(set(tracked_urls)) == len(tracked_urls), "two links share one tracked URL"

    # the open pixel, once, for this delivery
    pixels = [img for img in document.iter("img") if "/t/o/" in (img.get("src") or "")]
    assert len(pixels) == 1
    # member data is never taken for a marker or a template
    if member == "hostile" and "first_name" in path.read_text():
        assert "{{ 7*7 }}" in html and "hrldpxlx" in html
        assert "<b>" not in html.split("<body", 1)[1]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_the_text_part_is_readable_and_its_links_are_tracked(path):
    prepared = _prepared(path)
    text, html = prepared.render(_context("gold"), 2001)
    assert not re.search(r"{{|{%|<[a-zA-Z/!]", text), text
    assert "&amp;" not in text and "&lt;" not in text
    urls = re.findall(r"https?://[^\s)]+", text)
    assert urls
    for url in urls:
        if url.startswith(f"{PUBLIC_URL}/t/c/"):
            assert read_click_link(SECRET, url.rsplit("/", 1)[1])[0] == 2001
        else:
            # left alone on purpose: the unsubscribe link, a link marked off
            assert url == UNSUBSCRIBE or url.startswith("https://status.shop.example.com"), url
    # the words the member reads in the HTML are in the text too
    document, _ = _parse(html)
    heading = next(document.iter("h1"), None)
    if heading is not None:
        assert " ".join("".join(heading.itertext()).split()) in " ".join(text.split())
    assert "/t/o/" not in text  # the pixel is not a link


_RULE = re.compile(r"\.([\w-]+)\s*\{([^}]*)\}")


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_css_is_inlined(path):
    source = path.read_text()
    rules = _RULE.findall(source.split("</style>")[0]) if "<style" in source else []
    prepared = _prepared(path)
    _, html = prepared.render(_context("gold"), 3001)
    document, _ = _parse(html)
    assert document.find(".//style") is None, "the <style> block is inlined, not left in"
    checked = 0
    for class_name, declarations in rules:
        prop = declarations.split(":")[0].strip()
        elements = [el for el in document.iter() if class_name in (el.get("class") or "").split()]
        for element in elements:
            assert prop in (element.get("style") or ""), f"{class_name}: {prop} not inlined"
            checked += 1
    if rules:
        assert checked > 0


def test_product_links_in_a_loop_are_distinct_per_position():
    prepared = _prepared(Path(__file__).parent / "corpus" / "product_grid.html")
    _, html = prepared.render(_context("gold"), 4001)
    document, _ = _parse(html)
    targets = [
        read_click_link(SECRET, a.get("href").rsplit("/", 1)[1])
        for a in _links(document)
        if "/t/c/" in a.get("href")
    ]
    product = [(t[1], t[2]) for t in targets if "/p/" in t[1]]
    assert len(product) == 12  # six products, an image link and a button each
    assert [p[1] for p in product] == list(range(1, 13))
    assert len({p[0] for p in product}) == 12
    for index in range(1, 7):
        assert sum(f"pos={index}" in p[0] for p in product) == 2


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_tracked_links_redirect_to_their_targets_through_the_tracking_endpoint(client, path):
    prepared = _prepared(path)
    context = _context("gold")
    _, html = prepared.render(context, 5001)
    written = _links(_parse(templates.render(prepared.html, context))[0])
    tracked = _links(_parse(html)[0])
    followed = 0
    for link, original in zip(tracked, written, strict=True):
        href = link.get("href")
        if not href.startswith(f"{PUBLIC_URL}/t/c/"):
            continue
        answer = client.get(href.removeprefix(PUBLIC_URL))
        assert answer.status_code == 302
        assert unquote(answer.headers["Location"]) == unquote(original.get("href"))
        followed += 1
    assert followed > 0
