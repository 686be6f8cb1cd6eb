"""Regression for fault scenario 8 (RELIABILITY.md): webhooks about the same new member arriving
at the same moment (a shop sends ``customer.created``, ``cart.abandoned`` and ``points.changed``
together). Each created the member; all but one failed on the unique external id with a 500
(306 of 600 in a probe over gunicorn). The receiver now tries such a webhook again, and the
member created meanwhile is found."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from herald.audiences.models import Contact, Event, WebhookInbox
from herald.core.db import Database
from herald.web.app import create_app
from tests.conftest import make_settings, truncate_all
from tests.web.test_webhooks_shop import SECRET, _send

pytestmark = pytest.mark.postgres
ROUNDS = 15


def _events(n: int) -> list[tuple[str, dict]]:
    who = f"guest-{n}"
    return [
        (f"c{n}", {"type": "customer.created", "data": {"customer": {"external_id": who}}}),
        (
            f"a{n}",
            {
                "type": "cart.abandoned",
                "data": {"cart": {"id": f"k{n}", "customer_external_id": who, "total": 9}},
            },
        ),
        (
            f"p{n}",
            {
                "type": "points.changed",
                "data": {"customer_external_id": who, "points": 5, "previous": 0},
            },
        ),
    ]


def test_webhooks_about_the_same_new_member_at_once_are_each_accepted(pg_url, tmp_path):
    db = Database(pg_url)
    truncate_all(db)
    app = create_app(make_settings(tmp_path, pg_url, shop_webhook_secret=SECRET), db)
    answers: Counter[int] = Counter()
    lock = threading.Lock()
    for n in range(ROUNDS):
        batch = _events(n)
        start = threading.Barrier(len(batch))

        def post(webhook_id: str, body: dict, start: threading.Barrier) -> None:
            client = app.test_client()
            start.wait()
            code = _send(client, body, webhook_id).status_code
            with lock:
                answers[code] += 1

        threads = [threading.Thread(target=post, args=(*item, start)) for item in batch]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    with db.session() as session:
        members = session.scalar(select(func.count()).where(Contact.external_id.like("guest-%")))
        events = session.scalar(select(func.count()).select_from(Event))
        inbox = session.scalar(select(func.count()).select_from(WebhookInbox))
    db.dispose()
    assert answers == {200: 3 * ROUNDS}, answers
    assert members == ROUNDS and events == inbox == 3 * ROUNDS
