"""Member data is never taken for a tracking marker. Links used to be swapped for markers
(``hrldlnk0x``, ``hrldpxlx``) that were replaced after rendering, so a member whose name held
one got a tracking URL in its place, and ``hrldlnk99x`` failed that member's delivery. Tracking
is now compiled into the template and bound per delivery."""

from __future__ import annotations

import email
import email.policy

from sqlalchemy import select

from herald.campaigns.models import Delivery
from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain

HTML = (
    "<p>Hello {{ contact.first_name }} from {{ contact.attributes.city }}</p>"
    '<a href="https://shop.example.com/sale">Sale</a>'
)


def _send(db, tmp_path, database_url, smtp_server, names: dict[str, str]):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    for address, name in names.items():
        add_member(
            db, email=address, first_name=name, attributes={"city": name}, consent={"email": True}
        )
    start_campaign(
        db,
        {
            "channel": "email",
            "variants": [{"name": "A", "subject": "Hi {{ contact.first_name }}", "html": HTML}],
        },
    )
    drain(db, settings)
    out = {}
    for received in recorder.messages:
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        out[received.recipients[0]] = (
            message.get_body(("html",)).get_content(),
            message.get_body(("plain",)).get_content(),
        )
    return out


def test_contact_data_holding_tracking_markers_is_never_swapped_for_tracking_urls(
    db, tmp_path, database_url, smtp_server
):
    sent = _send(db, tmp_path, database_url, smtp_server, {"a@example.com": "hrldpxlx hrldlnk0x"})
    html, text = sent["a@example.com"]
    assert "Hello hrldpxlx hrldlnk0x from hrldpxlx hrldlnk0x" in html
    assert "Hello hrldpxlx hrldlnk0x from hrldpxlx hrldlnk0x" in text
    assert html.count("/t/c/") == 1 and html.count("/t/o/") == 1


def test_a_member_named_hrldlnk99x_gets_their_message(db, tmp_path, database_url, smtp_server):
    sent = _send(
        db,
        tmp_path,
        database_url,
        smtp_server,
        {"b@example.com": "hrldlnk99x", "c@example.com": "Ann"},
    )
    assert sorted(sent) == ["b@example.com", "c@example.com"]
    assert "Hello hrldlnk99x" in sent["b@example.com"][0]
    with db.session() as session:
        assert set(session.scalars(select(Delivery.status))) == {"sent"}
