"""Looking at a sent message in the admin never counts: the pixel goes, links lead straight to
their targets (a forged token leads nowhere)."""

from __future__ import annotations

from herald.campaigns.preview import untracked
from herald.templating.tracking import click_url, open_url

PUBLIC = "http://herald.test"
SECRET = "s3cret"


def test_the_pixel_is_removed_and_links_point_at_their_targets():
    click = click_url(PUBLIC, SECRET, 7, "https://shop.example/sale?a=1&b=2")
    pixel = open_url(PUBLIC, SECRET, 7)
    forged = click_url(PUBLIC, "another-secret", 7, "https://evil.example/")
    html = (
        f'<p><a href="{click}">Sale</a> <a href="{forged}">x</a></p>'
        f'<img src="{pixel}" width="1" height="1" alt="" /></body>'
    )
    clean = untracked(html, PUBLIC, SECRET)
    assert '<a href="https://shop.example/sale?a=1&amp;b=2">Sale</a>' in clean
    assert '<a href="#">x</a>' in clean
    assert "/t/o/" not in clean and "/t/c/" not in clean and "<img" not in clean
