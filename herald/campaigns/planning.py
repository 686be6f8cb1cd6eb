"""Planning runs: claim each campaign whose schedule is due, and write its whole audience into
the ledger (one INSERT … SELECT, no member loaded into Python), cut into batches."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from herald.audiences import segments
from herald.audiences.models import Segment
from herald.campaigns import ab_plan, localtime, posts, senders, smart, wakeups
from herald.campaigns import status as st
from herald.campaigns.closing import finish_run_if_done
from herald.campaigns.models import Batch, Campaign, Delivery, Run
from herald.core import clock
from herald.core.db import UTCDateTime
from herald.core.settings import Settings

log = logging.getLogger(__name__)


def start_due_runs(session: Session, settings: Settings, now: datetime | None = None) -> list[int]:
    """Claim every campaign whose armed schedule is due and plan its run. Returns the ids of the
    new batches, to be enqueued after the caller commits."""
    now = now or clock.now()
    due = session.execute(
        select(Campaign.id, Campaign.next_run_at)
        .where(Campaign.status == "scheduled", Campaign.next_run_at <= now)
        .order_by(Campaign.next_run_at)
        .limit(50)
    ).all()
    batch_ids: list[int] = []
    for campaign_id, due_at in due:
        claimed = session.execute(
            update(Campaign)
            .where(
                Campaign.id == campaign_id,
                Campaign.status == "scheduled",
                Campaign.next_run_at == due_at,
            )
            .values(status="sending", next_run_at=None, updated_at=now)
        ).rowcount
        if claimed != 1:
            continue  # another scheduler or worker got there first
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        session.refresh(campaign)
        try:
            with session.begin_nested():
                run = plan_run(session, settings, campaign, due_at, now)
        except Exception:
            # one campaign that cannot be planned must not stop every other campaign's tick
            log.exception("campaign %s could not be started; it is marked failed", campaign_id)
            session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(status="failed", updated_at=now)
            )
            continue
        ready = or_(Batch.lease_until.is_(None), Batch.lease_until <= now)
        batch_ids.extend(
            session.scalars(
                select(Batch.id).where(Batch.run_id == run.id, ready).order_by(Batch.seq)
            )
        )
    return batch_ids


def audience(session: Session, campaign: Campaign, zone: ZoneInfo | None = None) -> Any:
    """The SELECT of member ids a run of ``campaign`` goes to; ``zone`` is the service zone,
    for members without one of their own (birthday rules)."""
    rules = None
    if campaign.segment_id is not None:
        segment = session.get(Segment, campaign.segment_id)
        rules = segment.rules if segment else None
    # a channel may narrow every audience (member days: only the tiers the benefits name)
    eligible = getattr(senders.sender_class(campaign.channel), "eligible", None)
    condition = eligible([v.content for v in campaign.variants], session) if eligible else None
    query = segments.members(rules, zone=zone)
    return query if condition is None else query.where(condition)


# schedules whose members each have a moment of their own: (session, members, schedule,
# default zone) -> a subquery (id, due)
DUE_BY_TYPE = {"local_time": localtime.members_with_due, "smart": smart.members_with_due}


def plan_run(
    session: Session, settings: Settings, campaign: Campaign, due_at: datetime, now: datetime
) -> Run:
    """Create the run, write its whole audience into the ledger (one INSERT … SELECT, no member
    loaded into Python) and cut it into batches."""
    run = Run(campaign_id=campaign.id, status="sending", due_at=due_at, started_at=now)
    session.add(run)
    session.flush()
    if getattr(senders.sender_class(campaign.channel), "per_run", False):
        return posts.plan_post(session, run, now)  # one post per run, no ledger rows
    variants = [v.id for v in campaign.variants]
    members = audience(session, campaign, settings.timezone).subquery()
    timing = DUE_BY_TYPE.get(campaign.schedule.get("type"))
    if timing is not None:
        members = timing(session, members, campaign.schedule, settings.timezone)
    if campaign.ab_test:
        return ab_plan.plan_test(
            session, run, campaign, members, settings.batch_size, now, timed=timing is not None
        )
    if timing is not None:
        due: Any = members.c.due
        order: tuple[Any, ...] = (members.c.due, members.c.id)
    else:
        due, order = literal(None, UTCDateTime()), (members.c.id,)
    position = func.row_number().over(order_by=order) - 1
    variant = (
        literal(variants[0])
        if len(variants) == 1
        else case(
            *[(members.c.id % len(variants) == i, vid) for i, vid in enumerate(variants)],
            else_=variants[0],
        )
    )
    source = select(
        literal(run.id),
        members.c.id,
        variant,
        position // settings.batch_size,
        literal(st.PENDING),
        literal(0),
        literal(False),
        due,
    )
    session.execute(
        insert(Delivery).from_select(
            [
                "run_id",
                "contact_id",
                "variant_id",
                "batch_seq",
                "status",
                "attempts",
                "uncertain",
                "not_before",
            ],
            source,
        )
    )
    recipients = session.scalar(select(func.count()).where(Delivery.run_id == run.id)) or 0
    batches = -(-recipients // settings.batch_size)
    run.recipients = recipients
    run.batches_total = batches
    if batches:
        session.execute(
            insert(Batch), wakeups.batch_rows(session, run.id, range(batches), "queued", now)
        )
    else:
        finish_run_if_done(session, run.id, settings, now)
    session.flush()
    log.info(
        "run %s of campaign %s: %s recipients in %s batches",
        run.id,
        campaign.id,
        recipients,
        batches,
    )
    return run
