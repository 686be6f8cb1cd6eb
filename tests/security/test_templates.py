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


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("{% include 'footer.html' %}", "include is not allowed"),
        ("{% extends 'base.html' %}", "extends is not allowed"),
        ("{% import 'macros.html' as m %}", "import is not allowed"),
        ("{% from 'macros.html' import button %}", "import is not allowed"),
        ("<p>{{ 1/0 }}</p>", "ZeroDivisionError"),
        ("<p>{{ 7 // 0 }}</p>", "ZeroDivisionError"),
        ("{{ 'x'|no_such_filter }}", "no_such_filter"),
        ("{{ 'a' * 10**9 }}", "not allowed in a template"),
        ("{{ [0] * 10**7 }}", "not allowed in a template"),
        ("{{ range(10**9)|list|length }}", "not allowed in a template"),
    ],
)
def test_templates_that_cannot_render_or_would_eat_memory_are_refused_at_save_time(
    client, auth, source, words
):
    import time

    body = email_campaign()
    body["variants"][0]["html"] = source
    started = time.monotonic()
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert time.monotonic() - started < 5
    assert answer.status_code == 422, answer.json
    assert words in answer.json["error"]["fields"]["variants[0].html"]


def test_missing_member_data_and_modest_arithmetic_still_save(client, auth):
    body = email_campaign()
    body["variants"][0]["html"] = (
        "{{ event['items'][0]['name'] }} {{ 10 / contact.points }} {{ '-' * 20 }}"
        " {{ 2 ** 10 }} {% for i in range(3) %}{{ i }}{% endfor %}"
    )
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert answer.status_code == 201, answer.json


def test_the_sandbox_limits_repetition_at_send_time_too():
    from jinja2.exceptions import SecurityError

    from herald.templating import render

    template = render.compile_template("html", "{{ contact.name * contact.times }}", html=True)
    assert render.render(template, {"contact": {"name": "ab", "times": 3}}) == "ababab"
    with pytest.raises(SecurityError):
        render.render(template, {"contact": {"name": "ab", "times": 10**9}})
