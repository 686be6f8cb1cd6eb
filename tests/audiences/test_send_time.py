"""Best hour per member: the set-based SQL against its plain-Python twin, and the heat map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from sqlalchemy import delete, insert, select

from herald.audiences import send_time
from herald.audiences.local_clock import local_parts, offset_spans
from herald.audiences.models import Contact, Event

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# zones across DST changes inside the window (Berlin, New York change in late Oct / early Nov),
# a half-hour zone, one without DST, an unknown name and no zone at all
ZONES = [None, "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Nowhere/X"]
DEFAULT = ZoneInfo("Europe/Berlin")
TYPES = ["email.opened", "email.clicked", "sms.clicked", "order.placed"]

event_strategy = hs.tuples(
    hs.integers(0, 5),  # member index
    hs.integers(-95 * 24 * 60, 60).map(lambda minutes: NOW + timedelta(minutes=minutes)),
    hs.sampled_from(TYPES),
    hs.booleans(),  # machine
)


def _seed(db, zones: list[str | None], events) -> list[int]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        session.execute(delete(Event))
        session.execute(delete(Contact))
        ids = []
        for index, zone in enumerate(zones):
            contact = Contact(email=f"m{index}@example.com", timezone=zone, attributes={})
            session.add(contact)
            session.flush()
            ids.append(contact.id)
        if events:
            session.execute(
                insert(Event),
                [
                    {
                        "contact_id": ids[member],
                        "type": kind,
                        "occurred_at": at,
                        "machine": machine,
                        "data": {},
                    }
                    for member, at, kind, machine in events
                ],
            )
    return ids


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zones=hs.lists(hs.sampled_from(ZONES), min_size=6, max_size=6),
    events=hs.lists(event_strategy, max_size=40),
)
def test_the_sql_agrees_with_the_python_twin(db, zones, events):
    ids = _seed(db, zones, events)
    with db.session() as session:
        session.execute(Contact.__table__.update().values(best_hour=7))  # stale values go
        send_time.recompute(session, DEFAULT, NOW)
    with db.session() as session:
        stored = dict(session.execute(select(Contact.id, Contact.best_hour)).all())
    human = [
        (ids[m], at)
        for m, at, kind, machine in events
        if not machine and kind in send_time.ENGAGEMENT_TYPES
    ]
    expected = send_time.best_hours(human, dict(zip(ids, zones, strict=True)), DEFAULT, NOW)
    assert stored == {contact_id: expected.get(contact_id) for contact_id in ids}


def test_ties_go_to_the_earliest_hour_and_machine_opens_do_not_count(db):
    shanghai = "Asia/Shanghai"
    at = [NOW.replace(hour=h) - timedelta(days=1) for h in (1, 3, 3, 5, 5, 6)]
    events = [(0, at[0], "email.opened", False)]
    # 11:00 and 13:00 in Shanghai twice each; 14:00 three times but by machines
    events += [(0, a, "email.clicked", False) for a in at[1:5]]
    events += [(0, at[5], "email.opened", True)] * 3
    _seed(db, [shanghai], events)
    with db.session() as session:
        send_time.recompute(session, DEFAULT, NOW)
        assert session.scalar(select(Contact.best_hour)) == 11


def test_a_member_with_no_recent_engagement_has_no_best_hour(db):
    old = NOW - timedelta(days=91)
    _seed(db, [None], [(0, old, "email.opened", False)])
    with db.session() as session:
        session.execute(Contact.__table__.update().values(best_hour=9))
        send_time.recompute(session, DEFAULT, NOW)
        assert session.scalar(select(Contact.best_hour)) is None


def test_the_heat_map_counts_each_open_at_the_members_weekday_and_hour(db):
    # Friday 2026-11-20 02:30 UTC is Friday 10:30 in Shanghai and Thursday 21:30 in New York
    at = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)
    _seed(
        db,
        ["Asia/Shanghai", "America/New_York"],
        [
            (0, at, "email.opened", False),
            (1, at, "email.clicked", False),
            (1, at, "email.opened", True),
        ],
    )
    with db.session() as session:
        grid = send_time.heat_map(session, DEFAULT, NOW)
    assert grid[4][10] == 1 and grid[3][21] == 1 and sum(map(sum, grid)) == 2


@given(
    zone=hs.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]),
    start=hs.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    days=hs.integers(1, 400),
    probe=hs.floats(0, 1),
)
def test_offset_spans_give_each_instant_its_zones_offset(zone, start, days, probe):
    end = start + timedelta(days=days)
    spans = offset_spans(ZoneInfo(zone), start, end)
    assert spans[0][0] == start and spans[-1][1] == end
    at = start + (end - start) * probe
    (offset,) = [shift for since, until, shift in spans if since <= at < until] or [None]
    if at < end:
        assert offset == at.astimezone(ZoneInfo(zone)).utcoffset().total_seconds()
        assert local_parts(at, ZoneInfo(zone))[1] == (at + timedelta(seconds=offset)).hour


def test_a_clock_change_inside_the_last_short_step_is_found() -> None:
    # Lord Howe moves from +10:30 to +11:00 at 2020-10-03 15:30 UTC; the window ends the same
    # day, so the change lies in the last step, the one that stops at ``end`` (found by
    # hypothesis: that step used to be taken whole at the old offset)
    start, end = datetime(2020, 10, 3, tzinfo=UTC), datetime(2020, 10, 3, 20, tzinfo=UTC)
    change = datetime(2020, 10, 3, 15, 30, tzinfo=UTC)
    zone = ZoneInfo("Australia/Lord_Howe")
    assert offset_spans(zone, start, end) == [(start, change, 37800), (change, end, 39600)]
    # a change exactly at ``end`` is outside [start, end)
    assert offset_spans(zone, start, change) == [(start, change, 37800)]
