"""The sandbox against a corpus of known escapes and resource payloads: each is refused at save
time or renders inert, never reaching the environment's secrets; resource payloads are refused
before they cost a worker its memory or its time, at save and at send."""

from __future__ import annotations

import email
import email.policy
import time
import tracemalloc
from datetime import UTC, datetime

import pytest
from jinja2.exceptions import SecurityError

from herald.channels.base import Recipient, RunInfo
from herald.channels.email import EmailChannel
from herald.templating import render
from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.security.payloads import ESCAPES, RESOURCE

CANARY = "canary-7f3a9c1e-never-in-output"


def _render_as_sent(tmp_path, source: str) -> str:
    """Prepare and render an email variant the way a worker does, with the canary as the secret
    key; returns the whole message as text."""
    settings = make_settings(tmp_path, "sqlite://", secret_key=CANARY)
    channel = EmailChannel(settings)
    run = RunInfo(1, "c", 1, 1, "A", {"subject": "Hi", "html": source}, datetime.now(UTC))
    prepared = channel.prepare(run)
    context = {
        "contact": {"id": 1, "first_name": "Mei", "tier": "gold", "points": 10, "attributes": {}},
        "campaign": {"id": 1, "name": "c"},
        "coupon": {"code": "X"},
        "unsubscribe_url": "http://herald.test/u/x",
        "event": {},
    }
    recipient = Recipient(1, 7, "mei@example.com", None, context)
    return channel.render(prepared, recipient).data.decode("utf-8", "replace")


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("source", ESCAPES)
def test_a_known_escape_is_refused_at_save_or_renders_inert(
    client, auth, tmp_path, monkeypatch, source
):
    monkeypatch.setenv("HERALD_CANARY_SECRET", CANARY)
    body = email_campaign()
    body["variants"][0]["html"] = source
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert CANARY not in answer.get_data(as_text=True)
    assert answer.status_code in (201, 422), answer.json
    if answer.status_code == 422:
        return
    try:
        message = _render_as_sent(tmp_path, source)
    except SecurityError:
        return  # refused at send: the delivery fails with a reason, nothing leaks
    assert CANARY not in message
    html = email.message_from_string(message, policy=email.policy.default)
    content = html.get_body(("html",)).get_content()
    for leak in ("<class", "__globals__", "os.environ", "uid=", "<function", "<module"):
        assert leak not in content, (source, content[:300])


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("source", RESOURCE)
def test_a_resource_payload_is_refused_at_save_quickly(client, auth, source):
    body = email_campaign()
    body["variants"][0]["html"] = source
    started = time.monotonic()
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert time.monotonic() - started < 5
    assert answer.status_code == 422, answer.json
    assert "variants[0].html" in answer.json["error"]["fields"]


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x'|center(contact.points) }}",
        "{{ '%0*d' % (contact.points, 1) }}",
        "{{ '{:>{w}}'.format(1, w=contact.points) }}",
        "{{ 'a'.ljust(contact.points) }}",
        "{{ 'ab'|indent(contact.points) }}",
        "{% for i in range(contact.points // 1000) %}{% for j in range(contact.points // 1000)"
        " %}{% endfor %}{% endfor %}",
        "{% set ns = namespace(x='ab') %}{% for i in range(contact.points // 1000000) %}"
        "{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
        "{{ contact.first_name|replace('a', contact.first_name)|replace('a', contact.first_name)"
        "|replace('a', contact.first_name) }}",
    ],
)
def test_a_payload_driven_by_member_data_fails_at_send_without_harming_the_worker(source):
    """Saved (harmless for the trial member), but a member's data blows it up: the render is
    refused before it allocates, in bounded time and memory."""
    template = render.compile_template("html", source, html=True, links="html")
    context = {"contact": {"points": 50_000_000, "first_name": "a" * 1000, "attributes": {}}}
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(SecurityError):
            render.render(template, context)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 3
    assert peak < 30_000_000, f"peak {peak:,} bytes"


def test_one_member_whose_data_breaks_the_budget_fails_alone_and_the_rest_are_sent(
    db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    for i in range(4):
        add_member(db, email=f"m{i}@example.com", points=100 + i, consent={"email": True})
    add_member(db, email="huge@example.com", points=50_000_000, consent={"email": True})
    start_campaign(
        db,
        {
            "channel": "email",
            "variants": [
                {"name": "A", "subject": "Hi", "html": "<p>{{ '*'|center(contact.points) }}</p>"}
            ],
        },
    )
    drain(db, settings)
    assert sorted(recorder.by_recipient()) == [f"m{i}@example.com" for i in range(4)]
    from sqlalchemy import select

    from herald.campaigns.models import Delivery

    with db.session() as session:
        failed = session.execute(
            select(Delivery.status, Delivery.reason).where(Delivery.status == "failed")
        ).all()
    assert len(failed) == 1 and "over the limit" in failed[0][1]
