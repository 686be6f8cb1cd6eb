"""Scenario 8 (issue 15): 10,000 shop webhooks in about a minute, 5% of them duplicates (the same
``webhook-id`` again, half at the same moment as the original, half later) and 1% with a bad
signature. Each valid event is processed once; each bad one is refused (401) and writes nothing;
the welcome journey (entered on ``customer.created``) and the abandoned-cart trigger fire once per
event. One member in eleven is a guest the shop never announced, whose cart and points webhooks
arrive side by side (the first run found those answered 500, see RELIABILITY.md).

Real parts: ``herald web`` (gunicorn, two processes of eight threads) on the suite's private
PostgreSQL, sixteen concurrent HTTP clients signing with the Standard Webhooks library."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import func, select
from standardwebhooks import Webhook

from herald.audiences.models import Contact, Event, WebhookInbox
from herald.journeys import service as journeys
from herald.journeys import triggers
from herald.journeys.models import JourneyEntry
from tests.conftest import free_port
from tests.faults.support import size, wait_until
from tests.workers.support import stop

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SCENARIO = 8
TITLE = "10,000 shop webhooks in a minute, 5% duplicates, 1% bad signatures"
TOTAL = size("webhooks", 10_000)
DUPLICATES = TOTAL * 5 // 100
BAD = TOTAL // 100
SECRET = "whsec_" + "c2VjcmV0LWZvci1mYXVsdC1zY2VuYXJpby1laWdodA=="
WRONG = "whsec_" + "bm90LXRoZS1zaG9wcy1zZWNyZXQta2V5LWF0LWFsbA=="
CLIENTS = 16
GUEST_EVERY = 10  # one guest per ten announced customers


def _plan(rng: random.Random) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
    """The valid events (customers first, then carts, orders and points shuffled) and the badly
    signed ones (customers nobody else mentions)."""
    valid_total = TOTAL - DUPLICATES - BAD
    customers = valid_total // 6
    created = [
        (
            "customer.created",
            {
                "customer": {
                    "external_id": f"c{i}",
                    "email": f"c{i}@shop.example",
                    "first_name": f"C{i}",
                    "consent": {"email": True},
                }
            },
        )
        for i in range(customers)
    ]
    rest: list[tuple[str, dict]] = [
        (
            "cart.abandoned",
            {"cart": {"id": f"cart{i}", "customer_external_id": f"c{i}", "total": 99, "items": []}},
        )
        for i in range(customers)
    ]
    # guests: members the shop never announced, whose cart and points arrive side by side
    guests = [
        [
            (
                "cart.abandoned",
                {"cart": {"id": f"gcart{i}", "customer_external_id": f"g{i}", "total": 9}},
            ),
            ("points.changed", {"customer_external_id": f"g{i}", "points": 5, "previous": 0}),
        ]
        for i in range(customers // GUEST_EVERY)
    ]
    while len(created) + len(rest) + 2 * len(guests) < valid_total:
        n = len(rest)
        who = f"c{rng.randrange(customers)}"
        if n % 2:
            order = {
                "id": f"o{n}",
                "customer_external_id": who,
                "total": 50 + n % 100,
                "currency": "CNY",
                "placed_at": datetime.now(UTC).isoformat(),
                "items": [{"sku": "TEA-1", "name": "Tea", "qty": 1, "price": 50}],
            }
            rest.append(("order.placed", {"order": order}))
        else:
            rest.append(
                ("points.changed", {"customer_external_id": who, "points": n, "previous": 0})
            )
    rng.shuffle(rest)
    for pair in guests:
        at = rng.randrange(len(rest))
        rest[at:at] = pair
    bad = [
        (
            "customer.created",
            {"customer": {"external_id": f"bad{i}", "email": f"bad{i}@shop.example"}},
        )
        for i in range(BAD)
    ]
    return created + rest, bad


def _signed(webhook_id: str, kind: str, data: dict, secret: str) -> tuple[bytes, dict]:
    body = json.dumps({"type": kind, "data": data})
    moment = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, moment, body),
    }
    return body.encode(), headers


@pytest.mark.timeout(1200)
def test_a_webhook_flood_is_processed_once_each_and_bad_signatures_write_nothing(
    fault_db, private_pg, tmp_path, figures
):
    db = fault_db
    with db.session() as session:
        journey = journeys.create(
            session,
            {
                "name": "Welcome",
                "entry": {"event": "customer.created"},
                "re_entry": "never",
                "steps": [
                    {"id": "wait", "type": "wait", "minutes": 60, "next": "hello"},
                    {
                        "id": "hello",
                        "type": "message",
                        "channel": "email",
                        "variants": [{"name": "A", "subject": "Welcome", "html": "<p>Hi</p>"}],
                        "next": "exit",
                    },
                ],
            },
            ZoneInfo("UTC"),
        )
        journeys.activate(session, journey)
        trigger = triggers.create_trigger(
            session,
            {
                "name": "Cart reminder",
                "event": "cart.abandoned",
                "delay_minutes": 60,
                "channel": "email",
                "variants": [{"name": "A", "subject": "Your cart", "html": "<p>Still there</p>"}],
            },
            ZoneInfo("UTC"),
        )
        # a trigger runs as a journey of its own (wait, then its message): a firing is an entry
        journey_id, trigger_journey = journey.id, triggers.journey_of(session, trigger).id

    rng = random.Random(15)
    valid, bad = _plan(rng)
    requests_out: list[tuple[str, str, bytes, dict]] = []  # (kind of send, id, body, headers)
    signed = []
    for n, (kind, data) in enumerate(valid):
        body, headers = _signed(f"wh_{n}", kind, data, SECRET)
        signed.append((body, headers))
    customers = sum(1 for kind, _ in valid if kind == "customer.created")
    guests = customers // GUEST_EVERY
    # customers go first (a shop creates them before their carts and orders)
    order = list(range(len(valid)))
    again = rng.sample(order, DUPLICATES)
    soon, late = set(again[: DUPLICATES // 2]), again[DUPLICATES // 2 :]
    for n in order:
        requests_out.append(("valid", f"wh_{n}", *signed[n]))
        if n in soon:
            requests_out.append(("duplicate", f"wh_{n}", *signed[n]))
    for i, (kind, data) in enumerate(bad):
        body, headers = _signed(f"bad_{i}", kind, data, WRONG)
        requests_out.insert(
            rng.randrange(customers, len(requests_out)), ("bad", f"bad_{i}", body, headers)
        )
    for n in late:
        requests_out.append(("duplicate", f"wh_{n}", *signed[n]))
    assert len(requests_out) == TOTAL

    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HERALD_")},
        "HERALD_INSTANCE_PATH": str(tmp_path / "instance"),
        "HERALD_DATABASE_URL": private_pg.url,
        "HERALD_SECRET_KEY": "test-secret-key",
        "HERALD_SHOP_WEBHOOK_SECRET": SECRET,
        "HERALD_BROKER_URL": "memory://",
    }
    log = (tmp_path / "web.log").open("ab")
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "herald",
            "web",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--threads",
            "8",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/webhooks/shop"

    def up() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2).ok
        except requests.RequestException:
            return False

    answers: Counter[tuple[str, int]] = Counter()
    try:
        wait_until(up, 60, "the web server")
        sessions: dict[int, requests.Session] = {}

        def post(item: tuple[str, str, bytes, dict]) -> tuple[str, int]:
            session = sessions.setdefault(threading.get_ident(), requests.Session())
            what, _, body, headers = item
            answer = session.post(url, data=body, headers=headers, timeout=60)
            return what, answer.status_code

        started = time.monotonic()
        # the customers first, then everything else, sixteen at a time
        with ThreadPoolExecutor(CLIENTS) as pool:
            first = [r for r in requests_out if r[0] == "valid" and int(r[1][3:]) < customers]
            answers.update(pool.map(post, first))
            rest = [r for r in requests_out if not (r[0] == "valid" and int(r[1][3:]) < customers)]
            answers.update(pool.map(post, rest))
        seconds = time.monotonic() - started
    finally:
        stop(web)

    with db.session() as session:
        inbox = session.scalar(select(func.count()).select_from(WebhookInbox))
        bad_inbox = session.scalar(
            select(func.count()).where(WebhookInbox.webhook_id.like("bad_%"))
        )
        events = session.scalar(select(func.count()).select_from(Event))
        contacts = session.scalar(select(func.count()).select_from(Contact))
        bad_contacts = session.scalar(select(func.count()).where(Contact.external_id.like("bad%")))
        entries = session.scalar(select(func.count()).where(JourneyEntry.journey_id == journey_id))
        entered = session.scalar(
            select(func.count(func.distinct(JourneyEntry.contact_id))).where(
                JourneyEntry.journey_id == journey_id
            )
        )
        reminders = session.scalar(
            select(func.count()).where(JourneyEntry.journey_id == trigger_journey)
        )
    unique_valid = len(valid)
    server_errors = sum(n for (_, code), n in answers.items() if code >= 500)
    figures.update(
        webhooks=TOTAL,
        valid=unique_valid,
        duplicates_sent=DUPLICATES,
        bad_signatures=BAD,
        sent=events,  # events processed
        duplicates=max(0, events - unique_valid),  # processed twice
        lost=unique_valid - events if events < unique_valid else 0,
        refused_401=answers[("bad", 401)],
        server_errors=server_errors,
        guests=guests,
        journey_entries=entries,
        trigger_firings=reminders,
        seconds=round(seconds, 1),
        per_second=round(TOTAL / seconds, 1),
    )
    figures.notes.append(
        "sent: events processed; duplicates: events processed twice;"
        f" {CLIENTS} concurrent clients; {TOTAL} requests in {seconds:.0f} s "
        f"({TOTAL / seconds:.0f}/s) on the loaded 2-core machine"
    )
    assert server_errors == 0, answers
    assert answers[("valid", 200)] == unique_valid, answers
    assert answers[("duplicate", 200)] == DUPLICATES, answers
    assert answers[("bad", 401)] == BAD, answers
    assert inbox == events == unique_valid, (inbox, events, unique_valid)
    assert bad_inbox == 0 and bad_contacts == 0
    assert contacts == customers + guests  # a guest's simultaneous events made one member
    assert entries == entered == customers  # the journey: once per customer.created
    assert reminders == customers + guests  # the trigger: once per cart.abandoned
