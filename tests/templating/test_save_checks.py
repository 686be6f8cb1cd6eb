"""What a template may name, checked at save time in a marketer's words, and what members without
a value see at send time (contract sections 8 and 12)."""

from __future__ import annotations

import email
import email.policy

import pytest

from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign


def _save(client, auth, html: str, subject: str = "Hi"):
    body = email_campaign()
    body["variants"][0].update(html=html, subject=subject)
    return client.post("/api/v1/campaigns", json=body, headers=auth)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_contact_field_no_member_has_is_a_422_naming_it_and_its_line(client, auth):
    answer = _save(client, auth, "<p>Hello</p>\n<p>{{ contact.nope }}</p>")
    assert answer.status_code == 422
    message = answer.json["error"]["fields"]["variants[0].html"]
    assert "members have no field 'nope'" in message and "line 2" in message


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_contact_field_asked_for_by_key_is_checked_too(client, auth):
    answer = _save(client, auth, "<p>x</p>", subject="{{ contact['favourite_colour'] }}")
    assert answer.status_code == 422
    assert "no field 'favourite_colour'" in answer.json["error"]["fields"]["variants[0].subject"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_config_items_is_refused_at_save_instead_of_failing_every_delivery(client, auth):
    answer = _save(client, auth, "<p>{{ config.items() }}</p>")
    assert answer.status_code == 422
    assert "templates have no 'config'" in answer.json["error"]["fields"]["variants[0].html"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_template_that_renders_for_no_member_is_refused_at_save(client, auth):
    answer = _save(client, auth, "<p>{{ campaign.name + 1 }}</p>")
    assert answer.status_code == 422
    message = answer.json["error"]["fields"]["variants[0].html"]
    assert "renders for no member" in message and "line 1" in message


@pytest.mark.parametrize("backend", ["sqlite"])
def test_attributes_and_fields_some_members_lack_still_save(client, auth):
    html = (
        "<p>{{ contact.attributes.city|default('your city') }} {{ contact.attributes.a.b.c }}"
        " {{ contact.first_name|default('friend') }} {{ event.cart.items|length }}</p>"
    )
    assert _save(client, auth, html).status_code == 201


def test_an_attribute_only_some_members_have_renders_empty_or_its_default(
    db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    add_member(
        db,
        email="a@example.com",
        first_name="Ann",
        attributes={"city": "Hangzhou"},
        consent={"email": True},
    )
    add_member(db, email="b@example.com", consent={"email": True})
    start_campaign(
        db,
        {
            "channel": "email",
            "variants": [
                {
                    "name": "A",
                    "subject": "Hi {{ contact.first_name|default('friend') }}",
                    "html": "<p>[{{ contact.attributes.city }}]"
                    " [{{ contact.attributes.city|default('your city') }}]"
                    " [{{ contact.last_name }}]</p>",
                }
            ],
        },
    )
    drain(db, settings)
    bodies = {}
    for received in recorder.messages:
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        bodies[received.recipients[0]] = (
            message["Subject"],
            message.get_body(("html",)).get_content(),
        )
    assert bodies["a@example.com"][0] == "Hi Ann"
    assert "[Hangzhou] [Hangzhou] []" in bodies["a@example.com"][1]
    assert bodies["b@example.com"][0] == "Hi friend"
    assert "[] [your city] []" in bodies["b@example.com"][1]
    assert "None" not in bodies["b@example.com"][1]
