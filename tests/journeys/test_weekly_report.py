"""The weekly report lists journeys (entered, completed, orders, revenue, the lift against the
holdout with its interval) in its JSON, CSV, text and HTML mail and PDF; triggers' journeys stay
out (they are reported as triggers)."""

from __future__ import annotations

import csv
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from herald.abtest.lift import newcombe_difference
from herald.audiences.models import Contact
from herald.core import clock
from herald.journeys.models import JourneyEntry
from herald.reports import present
from herald.reports.mail import render_html, render_text
from herald.reports.pdf import PdfUnavailable, render_pdf
from herald.reports.weekly import build_weekly_report, week_of
from tests.journeys.support import order, run, sign_up
from tests.journeys.test_engine import _activate

MEMBERS = 24
BUYERS = 10


def welcome() -> dict:  # type: ignore[type-arg]
    return {
        "name": "Welcome with holdout",
        "entry": {"event": "customer.created"},
        "holdout": 0.5,
        "steps": [
            {
                "id": "hello",
                "type": "message",
                "channel": "email",
                "variants": [{"name": "A", "subject": "Welcome", "html": "<p>Hi</p>"}],
                "next": "later",
            },
            {"id": "later", "type": "wait", "minutes": 60, "next": "exit"},
        ],
    }


@pytest.fixture
def story(client, auth, db, settings, smtp_server):  # type: ignore[no-untyped-def]
    journey = _activate(client, auth, welcome())
    trigger = {
        "name": "Thanks",
        "event": "order.placed",
        "channel": "email",
        "variants": [{"name": "A", "subject": "Thanks", "html": "<p>x</p>"}],
    }
    assert client.post("/api/v1/triggers", json=trigger, headers=auth).status_code == 201
    for i in range(MEMBERS):
        sign_up(client, f"m{i}")
    run(db, settings)
    for i in range(BUYERS):
        order(client, f"m{i}", total=f"{100 + i}.00")
    run(db, settings)
    with db.session() as session:
        rows = session.execute(
            select(Contact.external_id, JourneyEntry.holdout).join(
                Contact, Contact.id == JourneyEntry.contact_id
            )
        ).all()
    held = {external_id for external_id, holdout in rows if holdout}
    with db.session() as session:
        report = build_weekly_report(session, week_of(clock.now(), settings.timezone))
    return journey, held, report


def test_the_report_lists_a_journey_with_its_lift_against_the_holdout(story):  # type: ignore[no-untyped-def]
    journey, held, report = story
    assert [j["name"] for j in report["journeys"]] == ["Welcome with holdout"]
    row = report["journeys"][0]
    buyers = {f"m{i}" for i in range(BUYERS)}
    treated = MEMBERS - len(held)
    treated_buyers = buyers - held
    assert row["id"] == journey["id"] and row["entered"] == MEMBERS
    assert row["completed"] == 0 and row["active"] == MEMBERS
    assert row["conversions"] == len(treated_buyers)
    assert row["revenue"] == pytest.approx(sum(100 + int(b[1:]) for b in treated_buyers))
    assert row["holdout"]["members"] == len(held)
    assert row["holdout"]["conversions"] == len(buyers & held)
    estimate, interval = newcombe_difference(
        len(treated_buyers), treated, len(buyers & held), len(held)
    )
    assert row["lift"]["conversion_rate"] == pytest.approx(estimate, abs=1e-6)
    assert row["lift"]["ci"] == pytest.approx(list(interval), abs=1e-6)
    assert row["messages"]["recipients"] == treated  # the holdout gets no message
    # the trigger is reported as a trigger, not as a journey
    assert [c["kind"] for c in report["campaigns"]].count("trigger") == 1


def test_csv_text_html_and_pdf_carry_the_journey(story):  # type: ignore[no-untyped-def]
    _, _, report = story
    row = report["journeys"][0]
    lines = list(csv.DictReader(io.StringIO(present.to_csv(report))))
    journeys = [line for line in lines if line["kind"] == "journey"]
    assert len(journeys) == 1
    assert journeys[0]["name"] == "Welcome with holdout"
    assert int(journeys[0]["entered"]) == row["entered"]
    assert int(journeys[0]["entrant_conversions"]) == row["conversions"]
    assert float(journeys[0]["lift_ci_low"]) == pytest.approx(row["lift"]["ci"][0])
    assert int(journeys[0]["sent"]) == row["messages"]["sent"]
    lift = present.lift_text(row)
    assert lift.endswith(")") and " pts (" in lift
    text = render_text(report)
    assert "JOURNEYS" in text and f"entered {row['entered']}" in text and lift in text
    html = render_html(report)
    assert 'id="report-journeys"' in html and "Welcome with holdout" in html and lift in html
    try:
        pdf = render_pdf(report)
    except PdfUnavailable as exc:  # pragma: no cover - Pango missing on this machine
        pytest.skip(str(exc))
    content = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    squeezed = "".join(content.split())  # the text extractor may break lines anywhere
    assert "Lift(95%interval)" in squeezed and "Welcomewithholdout" in squeezed
