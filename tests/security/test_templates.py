"""Templates run in Jinja2's sandbox: no reaching into Python internals, and member data is
escaped in HTML."""

from __future__ import annotations

import email
import email.policy

import pytest

from tests.conftest import make_settings
from tests.helpers import drain, email_campaign


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__.__init__.__globals__ }}",
        "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_a_template_reaching_into_python_is_refused_at_save_time(client, auth, source):
    body = email_campaign()
    body["variants"][0]["html"] = source
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert answer.status_code == 422
    assert "not allowed in a template" in answer.json["error"]["fields"]["variants[0].html"]


def test_member_data_is_escaped_in_html_but_not_in_text(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    client.post(
        "/api/v1/contacts",
        json={
            "email": "x@example.com",
            "first_name": "<script>alert(1)</script>",
            "consent": {"email": True},
        },
        headers=auth,
    )
    campaign = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json
    client.post(f"/api/v1/campaigns/{campaign['id']}/send-now", headers=auth)
    drain(db, settings)
    message = email.message_from_bytes(recorder.messages[0].data, policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Hello <script>alert(1)</script>" in text
