"""A link whose address uses a loop's variable (the builder's product grid) renders inside its
loop, untracked, instead of failing every member's message; member links stay tracked."""

from __future__ import annotations

from herald.channels.email_content import prepare_content

HTML = (
    '<p><a href="https://shop.example/{{ contact.tier }}">Your tier</a></p>'
    '{% for p in [{"url": "https://shop.example/p/1"}, {"url": "https://shop.example/p/2"}] %}'
    '<a href="{{ p.url }}">Product</a>{% endfor %}'
)


def test_loop_links_render_in_place_and_member_links_stay_tracked():
    prepared = prepare_content(HTML, None, "http://herald.test", "secret")
    context = {"contact": {"tier": "gold"}, "campaign": {}, "coupon": {}, "unsubscribe_url": ""}
    text, html = prepared.render(context, 41)
    assert html is not None
    assert 'href="https://shop.example/p/1"' in html and 'href="https://shop.example/p/2"' in html
    assert html.count("http://herald.test/t/c/") == 1  # the member's tier link, tracked
    assert "https://shop.example/gold" not in html
    assert "Product" in text
