"""SMS links are rewritten to {PUBLIC_URL}/t/c/{token} like email links (contract section 13),
through the same compile-time tracking."""

from __future__ import annotations

import re

import pytest

from herald.channels.registry import close_all
from herald.templating.tracking import read_click_link
from tests.channels.fake_provider import fake_provider
from tests.channels.test_sms import add_members, ledger, sms_settings, start_sms, twilio_ok
from tests.helpers import drain


@pytest.fixture(autouse=True)
def _fresh_channels():
    yield
    close_all()


def test_links_in_an_sms_are_tracked_per_delivery_and_redirect(db, tmp_path, database_url, client):
    body = (
        "Hi {{ contact.first_name }}! Tea sale: https://shop.example.com/sale?m={{ contact.id }}."
        " Cups: https://shop.example.com/cups Reply STOP to opt out"
    )
    with fake_provider(twilio_ok) as provider:
        settings = sms_settings(tmp_path, database_url, provider.url)
        add_members(db, ["+8613800138000", "+8613900139000"])
        start_sms(db, body)
        drain(db, settings)
    rows = {row.contact_id: row.id for row in ledger(db)}
    assert len(provider.seen) == 2
    for seen in provider.seen:
        text = seen.form()["Body"]
        assert "shop.example.com" not in text  # every link went through tracking
        assert text.startswith("Hi Ann") and text.endswith("Reply STOP to opt out")
        urls = [u.rstrip(".") for u in re.findall(r"http://herald\.test/t/c/[\w.-]+", text)]
        assert len(urls) == 2
        first = read_click_link("test-secret-key", urls[0].rsplit("/", 1)[1])
        second = read_click_link("test-secret-key", urls[1].rsplit("/", 1)[1])
        contact_id = int(first[1].rsplit("=", 1)[1])
        assert first == (rows[contact_id], f"https://shop.example.com/sale?m={contact_id}", 1)
        assert second == (rows[contact_id], "https://shop.example.com/cups", 2)
        answer = client.get(urls[0].removeprefix("http://herald.test"))
        assert answer.status_code == 302 and answer.headers["Location"] == first[1]
