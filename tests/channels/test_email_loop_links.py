"""A link whose address uses a loop's variable (the builder's product grid) renders inside its
loop and is tracked to its own target, instead of failing every member's message."""

from __future__ import annotations

import re

from herald.channels.email_content import prepare_content
from herald.templating.tracking import read_click

HTML = (
    '<p><a href="https://shop.example/{{ contact.tier }}">Your tier</a></p>'
    '{% for p in [{"url": "https://shop.example/p/1?a=1&b=2"}, {"url": "mailto:x@shop.example"}]'
    ' %}<a href="{{ p.url }}">Product</a>{% endfor %}'
)


def test_loop_links_render_in_place_and_are_tracked_to_their_own_target():
    prepared = prepare_content(HTML, None, "http://herald.test", "secret")
    context = {"contact": {"tier": "gold"}, "campaign": {}, "coupon": {}, "unsubscribe_url": ""}
    text, html = prepared.render(context, 41)
    assert html is not None and "hrldloop" not in html and "hrldloop" not in text
    tokens = re.findall(r'href="http://herald\.test/t/c/([^"]+)"', html)
    targets = [read_click("secret", token) for token in tokens]
    assert targets == [(41, "https://shop.example/gold"), (41, "https://shop.example/p/1?a=1&b=2")]
    assert 'href="mailto:x@shop.example"' in html  # not a web address: left as written
    assert "Product" in text and "http://herald.test/t/c/" in text
