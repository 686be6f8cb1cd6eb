"""Runs and batches: start due campaigns, hand batches to workers, send them through the ledger.

The ledger (one :class:`Delivery` per run and member, unique in the database) is the checkpoint.
A run's audience is written into it in one INSERT … SELECT when the run starts, already cut into
batches. A worker claims a batch under a lease, claims a chunk of its rows (``pending`` →
``sending``) before handing them to the channel, and closes each row after (``sent``, ``failed``,
``skipped``) in one write per chunk, which also renews the lease. A worker that dies leaves its
batch's lease to expire; the scheduler's reconciler enqueues it again and the next worker finds
the rows still ``sending``: their outcome is unknown, so they are marked ``uncertain`` and, where
the channel makes a second hand-off harmless, handed off once more.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, case, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from herald.audiences import segments
from herald.audiences.models import Contact, Segment, Suppression
from herald.campaigns import autopause, posts, schedules
from herald.campaigns import status as st
from herald.campaigns.models import Batch, Campaign, Delivery, Run
from herald.campaigns.policy import Facts, Rules, decide, member_zone
from herald.campaigns.tracking import unsubscribe_url
from herald.channels.base import Channel, Outcome, Recipient, RunInfo
from herald.core import clock
from herald.core.db import Database, UTCDateTime
from herald.core.settings import Settings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = 2.0
BACKOFF_CEILING = 600.0
REQUEUE_AFTER = timedelta(seconds=60)


# --------------------------------------------------------------------------- starting runs


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
    from herald.channels.registry import channel_class

    # a channel may narrow every audience (member days: only the tiers the benefits name)
    eligible = getattr(channel_class(campaign.channel), "eligible", None)
    condition = eligible([v.content for v in campaign.variants]) if eligible else None
    query = segments.members(rules, zone=zone)
    return query if condition is None else query.where(condition)


def plan_run(
    session: Session, settings: Settings, campaign: Campaign, due_at: datetime, now: datetime
) -> Run:
    """Create the run, write its whole audience into the ledger (one INSERT … SELECT, no member
    loaded into Python) and cut it into batches."""
    run = Run(campaign_id=campaign.id, status="sending", due_at=due_at, started_at=now)
    session.add(run)
    session.flush()
    from herald.channels.registry import channel_class

    if getattr(channel_class(campaign.channel), "per_run", False):
        return posts.plan_post(session, run, now)  # one post per run, no ledger rows
    variants = [v.id for v in campaign.variants]
    members = audience(session, campaign, settings.timezone).subquery()
    if campaign.ab_test:
        from herald.abtest.assign import plan_test

        return plan_test(session, run, campaign, members, settings.batch_size, now)
    if campaign.schedule.get("type") == "local_time":
        from herald.campaigns.localtime import members_with_due

        members = members_with_due(session, members, campaign.schedule, settings.timezone)
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
        # a batch of a local-time run sleeps until its first member's moment
        wake = dict(
            session.execute(
                select(Delivery.batch_seq, func.min(Delivery.not_before))
                .where(Delivery.run_id == run.id)
                .group_by(Delivery.batch_seq)
            ).all()
        )
        session.execute(
            insert(Batch),
            [
                {
                    "run_id": run.id,
                    "seq": seq,
                    "status": "queued",
                    "lease_until": wake[seq] if sleeping else None,
                    "enqueued_at": None if sleeping else now,
                }
                for seq in range(batches)
                for sleeping in [wake.get(seq) is not None and wake[seq] > now]
            ],
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


# --------------------------------------------------------------------------- reconciling


def tick(db: Database, settings: Settings, now: datetime | None = None) -> list[int]:
    """One scheduler tick's worth of work, each step in its own transaction: start due runs,
    end A/B tests whose window closed, and find batches whose wake-up was lost. Returns the batch
    ids to enqueue (after commit, which has happened when this returns)."""
    from herald.abtest.decide import decide_due_tests

    now = now or clock.now()
    with db.session() as session:
        ids = start_due_runs(session, settings, now)
    with db.session() as session:
        ids += decide_due_tests(session, settings, now)
    with db.session() as session:
        ids += batches_to_enqueue(session, now, requeue_after=settings.requeue_after)
    with db.session() as session:
        close_finished_runs(session, settings, now)
    return list(dict.fromkeys(ids))


def batches_to_enqueue(
    session: Session, now: datetime | None = None, requeue_after: timedelta = REQUEUE_AFTER
) -> list[int]:
    """Batches whose wake-up may have been lost (broker restart, dead worker, a retry now due):
    marks them enqueued and returns their ids, to be enqueued after commit."""
    now = now or clock.now()
    stale = now - requeue_after
    never_or_stale = or_(Batch.enqueued_at.is_(None), Batch.enqueued_at <= stale)
    ready = and_(
        Batch.status == "queued",
        or_(Batch.lease_until.is_(None), Batch.lease_until <= now),
        never_or_stale,
    )
    abandoned = and_(
        Batch.status == "running",
        Batch.lease_until <= now,
        or_(never_or_stale, Batch.enqueued_at < Batch.lease_until),
    )
    ids = list(
        session.scalars(
            select(Batch.id)
            .join(Run, Run.id == Batch.run_id)
            .join(Campaign, Campaign.id == Run.campaign_id)
            .where(Campaign.status != "paused", or_(ready, abandoned))
            .order_by(Batch.id)
            .limit(2000)
        )
    )
    if ids:
        session.execute(update(Batch).where(Batch.id.in_(ids)).values(enqueued_at=now))
    return ids


# --------------------------------------------------------------------------- sending a batch


@dataclass
class BatchReport:
    """What one pass over a batch did (for logs and tests)."""

    batch_id: int
    claimed: bool = False
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    retried: int = 0
    recovered: int = 0
    stopped: str | None = None
    outcomes: list[tuple[int, str]] = field(default_factory=list)


def claim_batch(session: Session, batch_id: int, now: datetime, lease: timedelta) -> int | None:
    """Take the batch under a lease; returns the attempt number (the fencing token) or None when
    someone else holds it or it is finished."""
    claimed = session.execute(
        update(Batch)
        .where(
            Batch.id == batch_id,
            or_(
                and_(
                    Batch.status == "queued",
                    or_(Batch.lease_until.is_(None), Batch.lease_until <= now),
                ),
                and_(Batch.status == "running", Batch.lease_until <= now),
            ),
        )
        .values(status="running", lease_until=now + lease, attempts=Batch.attempts + 1)
    ).rowcount
    if claimed != 1:
        return None
    return session.scalar(select(Batch.attempts).where(Batch.id == batch_id))


def send_batch(
    db: Database,
    settings: Settings,
    batch_id: int,
    channel_for: Callable[[str, Settings], Channel] | None = None,
) -> BatchReport:
    """Send every pending delivery of a batch. Safe to call twice or concurrently: the lease and
    the per-row claim let only one caller hand any row to the channel."""
    from herald.channels.registry import channel_for as default_channel_for

    channel_for = channel_for or default_channel_for
    report = BatchReport(batch_id)
    with db.session() as session:
        fence = claim_batch(session, batch_id, clock.now(), settings.batch_lease)
    if fence is None:
        return report
    report.claimed = True
    with db.session() as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        run = session.get(Run, batch.run_id)
        assert run is not None
        campaign = session.get(Campaign, run.campaign_id)
        assert campaign is not None
        channel = channel_for(campaign.channel, settings)
        if _stop_reason(session, campaign.id) == "paused":
            _release(session, batch_id, fence)
            report.stopped = "paused"
            return report
        sender: _BatchSender | posts.RunPoster
        if getattr(channel, "per_run", False):
            sender = posts.RunPoster(settings, campaign, run, batch, channel, fence, report)
        else:
            report.recovered = _recover_in_flight(session, batch, channel)
            sender = _BatchSender(settings, campaign, run, batch, channel, fence, report)
    sender.run(db)
    return report


def _stop_reason(session: Session, campaign_id: int) -> str | None:
    value = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    return value if value in ("paused", "cancelled") else None


def _release(session: Session, batch_id: int, fence: int) -> None:
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.attempts == fence)
        .values(status="queued", lease_until=None, enqueued_at=None)
    )


def _recover_in_flight(session: Session, batch: Batch, channel: Channel) -> int:
    """Rows left ``sending`` by a worker that died: their hand-off's outcome is unknown. They are
    flagged uncertain (and counted); a channel whose second hand-off is harmless (the same
    Message-ID, an idempotency key) gets them again, the others keep them ``uncertain``."""
    in_flight = and_(
        Delivery.run_id == batch.run_id,
        Delivery.batch_seq == batch.seq,
        Delivery.status == st.SENDING,
    )
    exhausted = session.execute(
        update(Delivery)
        .where(in_flight, Delivery.attempts >= MAX_ATTEMPTS)
        .values(
            status=st.FAILED,
            uncertain=True,
            reason=f"gave up after {MAX_ATTEMPTS} attempts: the worker stopped mid-send each time",
            updated_at=clock.now(),
        )
    ).rowcount
    resend = getattr(channel, "resend_uncertain", False)
    values: dict[str, Any] = {"uncertain": True, "updated_at": clock.now()}
    if resend:
        values.update(status=st.PENDING, reason="handed off again after a worker stopped mid-send")
    else:
        values.update(
            status=st.UNCERTAIN,
            reason="worker stopped mid-send; outcome unknown, not resent (resend from the admin)",
        )
    return exhausted + session.execute(update(Delivery).where(in_flight).values(**values)).rowcount


def backoff(
    attempt: int, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds before retry number ``attempt``: exponential from 2 s with full jitter, capped;
    a provider's Retry-After is honoured up to the cap."""
    rng = rng or random.Random()
    ceiling = min(BACKOFF_CEILING, BACKOFF_BASE * (2 ** max(0, attempt - 1)))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, BACKOFF_CEILING))
    return delay


class _BatchSender:
    """One pass over one batch, chunk by chunk."""

    def __init__(
        self,
        settings: Settings,
        campaign: Campaign,
        run: Run,
        batch: Batch,
        channel: Channel,
        fence: int,
        report: BatchReport,
    ) -> None:
        self.settings = settings
        self.campaign_id = campaign.id
        self.campaign_name = campaign.name
        self.schedule = dict(campaign.schedule or {})
        self.transactional = bool(self.schedule.get("transactional"))
        self.run_id = run.id
        self.run_started = run.started_at
        self.batch_id = batch.id
        self.seq = batch.seq
        self.channel = channel
        self.fence = fence
        self.report = report
        self.prepared: dict[int, Any] = {}
        self.variants = {v.id: v for v in campaign.variants}
        self.quiet_consent: str | None = getattr(channel, "quiet_consent", None)
        self.renewed_at = time.monotonic()  # the claim took the lease just now
        self.claim_stamp: datetime | None = None
        self.rules = Rules(
            address_field=channel.address,
            frequency_cap=settings.frequency_cap if channel.marketing else None,
            quiet_hours=getattr(channel, "quiet_hours", None),
        )

    def run(self, db: Database) -> None:
        last_id = 0
        while True:
            with db.session() as session:
                stop = _stop_reason(session, self.campaign_id)
                if stop == "paused":
                    _release(session, self.batch_id, self.fence)
                    self.report.stopped = "paused"
                    return
                if stop == "cancelled":
                    self._cancel_rest(session)
                    break
                rows = self._next_chunk(session, last_id)
                if not rows:
                    break
                last_id = rows[-1][0].id
                to_send = self._apply_policy(session, rows)
                claimed = self._claim(session, [d.id for d, _ in to_send])
            to_send = [(d, c) for d, c in to_send if d.id in claimed]
            outcomes = []
            for delivery, contact in to_send:
                if not self._keep_lease(db):
                    break  # another worker holds the batch now: hand nothing more off
                outcomes.append((delivery, self._hand_off(delivery, contact)))
            with db.session() as session:
                self._record(session, outcomes)
                autopause.pause_if_all_failed(session, self.campaign_id, self.run_id, outcomes)
                if not self._renew_lease(session):
                    self.report.stopped = "lease lost"
                    return
        with db.session() as session:
            self._finish(session)

    def _next_chunk(self, session: Session, after_id: int) -> list[tuple[Delivery, Contact]]:
        now = clock.now()
        return list(
            session.execute(
                select(Delivery, Contact)
                .join(Contact, Contact.id == Delivery.contact_id)
                .where(
                    Delivery.run_id == self.run_id,
                    Delivery.batch_seq == self.seq,
                    Delivery.status == st.PENDING,
                    Delivery.id > after_id,
                    or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
                )
                .order_by(Delivery.id)
                .limit(self.settings.flush_every)
            ).all()
        )

    def _apply_policy(
        self, session: Session, rows: list[tuple[Delivery, Contact]]
    ) -> list[tuple[Delivery, Contact]]:
        now = clock.now()
        address_field = self.channel.address
        addresses = {
            getattr(c, address_field)
            for _, c in rows
            if address_field and getattr(c, address_field)
        }
        suppressed = (
            set(
                session.scalars(
                    select(Suppression.address).where(
                        Suppression.channel == self.channel.kind, Suppression.address.in_(addresses)
                    )
                )
            )
            if addresses
            else set()
        )
        recent: dict[int, int] = {}
        cap = self.rules.frequency_cap
        if cap is not None:
            recent = dict(
                session.execute(
                    select(Delivery.contact_id, func.count())
                    .where(
                        Delivery.contact_id.in_([c.id for _, c in rows]),
                        Delivery.status == st.SENT,
                        Delivery.sent_at >= now - cap.window,
                        Delivery.run_id != self.run_id,
                    )
                    .group_by(Delivery.contact_id)
                ).all()
            )
        sendable: list[tuple[Delivery, Contact]] = []
        skips: list[dict[str, Any]] = []
        defers: list[dict[str, Any]] = []
        for delivery, contact in rows:
            address = getattr(contact, address_field) if address_field else "n/a"
            facts = Facts(
                has_address=bool(address) and contact.erased_at is None,
                consent_required=self.channel.consent is not None,
                consented=contact.consent_for(self.channel.consent)
                if self.channel.consent
                else True,
                suppressed=address in suppressed,
                sent_in_window=recent.get(contact.id, 0),
                transactional=self.transactional,
                quiet_hours_apply=self.quiet_consent is None
                or contact.consent_for(self.quiet_consent),
                local_zone=member_zone(contact.timezone, self.settings.timezone),
            )
            decision = decide(facts, self.rules, now)
            if decision.action == "skip":
                skips.append({"v_id": delivery.id, "v_reason": decision.reason})
            elif decision.action == "defer":
                defers.append(
                    {"v_id": delivery.id, "v_reason": decision.reason, "v_until": decision.until}
                )
            else:
                sendable.append((delivery, contact))
        # one executemany per kind of decision, not a round trip per member
        table = Delivery.__table__
        if skips:
            session.execute(
                table.update()
                .where(table.c.id == bindparam("v_id"), table.c.status == st.PENDING)
                .values(status=st.SKIPPED, reason=bindparam("v_reason"), updated_at=now),
                skips,
            )
        if defers:
            session.execute(
                table.update()
                .where(table.c.id == bindparam("v_id"), table.c.status == st.PENDING)
                .values(
                    not_before=bindparam("v_until", type_=table.c.not_before.type),
                    reason=bindparam("v_reason"),
                    updated_at=now,
                ),
                defers,
            )
        self.report.skipped += len(skips)
        self.report.deferred += len(defers)
        return sendable

    def _claim(self, session: Session, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        now = clock.now()
        self.claim_stamp = now
        return set(
            session.scalars(
                update(Delivery)
                .where(Delivery.id.in_(ids), Delivery.status == st.PENDING)
                .values(status=st.SENDING, claimed_at=now, attempts=Delivery.attempts + 1)
                .returning(Delivery.id)
                # the loaded rows keep their pre-claim attempts: _record counts this one itself
                .execution_options(synchronize_session=False)
            )
        )

    def _hand_off(self, delivery: Delivery, contact: Contact) -> Outcome:
        try:
            prepared = self._prepared(delivery.variant_id)
            message = self.channel.render(prepared, self._recipient(delivery, contact))
        except Exception as exc:
            # a template that compiled at save time can still fail on one member's data
            log.warning("render failed for delivery %s: %s", delivery.id, exc)
            return Outcome.permanent(f"template error: {exc}")
        try:
            return self.channel.send(message)
        except Exception as exc:
            # a channel bug or an outage it did not classify: retried within the ceiling, and
            # the chunk's other outcomes are still recorded
            log.exception("channel %s raised for delivery %s", self.channel.kind, delivery.id)
            return Outcome.transient(f"unexpected error: {exc!r}"[:400])

    def _prepared(self, variant_id: int | None) -> Any:
        key = variant_id or 0
        if key not in self.prepared:
            variant = (
                self.variants.get(variant_id) if variant_id else next(iter(self.variants.values()))
            )
            assert variant is not None
            self.prepared[key] = self.channel.prepare(
                RunInfo(
                    campaign_id=self.campaign_id,
                    campaign_name=self.campaign_name,
                    run_id=self.run_id,
                    variant_id=variant.id,
                    variant_name=variant.name,
                    content=variant.content,
                    started_at=self.run_started,
                )
            )
        return self.prepared[key]

    def _recipient(self, delivery: Delivery, contact: Contact) -> Recipient:
        secret = self.settings.secret_key
        unsubscribe = unsubscribe_url(self.settings.public_url, secret, delivery.id)
        context = {
            "contact": contact_context(contact),
            "campaign": {"id": self.campaign_id, "name": self.campaign_name},
            "coupon": {},
            "unsubscribe_url": unsubscribe,
            "event": dict(delivery.data or {}),
        }
        return Recipient(
            contact_id=contact.id,
            delivery_id=delivery.id,
            email=contact.email,
            phone=contact.phone,
            context=context,
        )

    def _record(self, session: Session, outcomes: Iterable[tuple[Delivery, Outcome]]) -> None:
        now = clock.now()
        updates: list[dict[str, Any]] = []
        events: list[tuple[Delivery, Any]] = []
        for delivery, outcome in outcomes:
            if outcome.event is not None:
                events.append((delivery, outcome.event))
            row: dict[str, Any] = {"id": delivery.id, "updated_at": now}
            attempts = delivery.attempts + 1
            if outcome.status == "sent":
                row.update(
                    status=st.SENT,
                    provider_id=outcome.provider_id,
                    sent_at=now,
                    reason=outcome.reason,  # a note on a success (member day: notices sent)
                )
                self.report.sent += 1
            elif outcome.status == "transient" and attempts < MAX_ATTEMPTS:
                delay = backoff(attempts, outcome.retry_after)
                row.update(
                    status=st.PENDING,
                    reason=f"retrying: {outcome.reason}",
                    not_before=now + timedelta(seconds=delay),
                )
                self.report.retried += 1
            else:
                reason = outcome.reason or "failed"
                if outcome.status == "transient":
                    reason = f"gave up after {attempts} attempts: {reason}"
                row.update(status=st.FAILED, reason=reason[:500])
                self.report.failed += 1
            self.report.outcomes.append((delivery.id, row["status"]))
            updates.append(row)
        if updates:
            _write_held(session, updates, self.claim_stamp)
        if events:
            # e.g. a hard bounce reported synchronously by SMTP: event + suppression, same commit
            from herald.channels.feedback import record_outcome_events

            record_outcome_events(session, self.settings, self.campaign_id, events)

    def _keep_lease(self, db: Database) -> bool:
        """Renew the lease once a third of it has passed, so a slow provider does not let it
        expire under a live worker; False once another worker holds the batch."""
        if time.monotonic() - self.renewed_at < self.settings.batch_lease.total_seconds() / 3:
            return True
        with db.session() as session:
            return self._renew_lease(session)

    def _renew_lease(self, session: Session) -> bool:
        renewed = session.execute(
            update(Batch)
            .where(
                Batch.id == self.batch_id, Batch.attempts == self.fence, Batch.status == "running"
            )
            .values(lease_until=clock.now() + self.settings.batch_lease)
        ).rowcount
        self.renewed_at = time.monotonic()
        return renewed == 1

    def _cancel_rest(self, session: Session) -> None:
        session.execute(
            update(Delivery)
            .where(
                Delivery.run_id == self.run_id,
                Delivery.batch_seq == self.seq,
                Delivery.status == st.PENDING,
            )
            .values(status=st.CANCELLED, reason="campaign cancelled", updated_at=clock.now())
        )

    def _finish(self, session: Session) -> None:
        now = clock.now()
        waiting = session.scalar(
            select(func.min(func.coalesce(Delivery.not_before, now))).where(
                Delivery.run_id == self.run_id,
                Delivery.batch_seq == self.seq,
                Delivery.status.in_((st.PENDING, st.SENDING)),
            )
        )
        if waiting is not None:
            # retries or deferrals remain: wake this batch when the first falls due
            session.execute(
                update(Batch)
                .where(Batch.id == self.batch_id, Batch.attempts == self.fence)
                .values(status="queued", lease_until=max(waiting, now), enqueued_at=None)
            )
            return
        done = session.execute(
            update(Batch)
            .where(Batch.id == self.batch_id, Batch.attempts == self.fence)
            .values(status="done", finished_at=now, lease_until=None)
        ).rowcount
        if done:
            finish_run_if_done(session, self.run_id, self.settings, now)


def _write_held(session: Session, rows: list[dict[str, Any]], stamp: datetime | None) -> None:
    """Close ledger rows, but only those still ``sending`` under this worker's claim: a worker
    that lost its lease must not overwrite what the new holder recovered or sent."""
    table = Delivery.__table__
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for keys, group in groups.items():
        values = {k: bindparam(f"v_{k}", type_=table.c[k].type) for k in keys if k != "id"}
        statement = (
            table.update()
            .where(
                table.c.id == bindparam("v_id"),
                table.c.status == st.SENDING,
                table.c.claimed_at == bindparam("v_stamp", type_=table.c.claimed_at.type),
            )
            .values(**values)
        )
        session.execute(
            statement, [{**{f"v_{k}": v for k, v in r.items()}, "v_stamp": stamp} for r in group]
        )


def close_finished_runs(session: Session, settings: Settings, now: datetime) -> int:
    """A safety net for the tick: close runs still ``sending`` whose batches are all done (two
    workers finishing the last batches at once can each see the other's as unfinished)."""
    unfinished = exists(select(Batch.id).where(Batch.run_id == Run.id, Batch.status != "done"))
    candidates = session.scalars(
        select(Run.id)
        .join(Campaign, Campaign.id == Run.campaign_id)
        .where(Run.status == "sending", ~unfinished, Run.batches_total > 0)
        .limit(100)
    ).all()
    return sum(finish_run_if_done(session, run_id, settings, now) for run_id in candidates)


def finish_run_if_done(session: Session, run_id: int, settings: Settings, now: datetime) -> bool:
    """Close the run when its last batch is done, and move the campaign on: ``sent``, or back to
    ``scheduled`` for its next occurrence."""
    # lock the run first: two workers closing the last two batches then see each other's work
    session.execute(select(Run.id).where(Run.id == run_id).with_for_update())
    unfinished = exists(select(Batch.id).where(Batch.run_id == run_id, Batch.status != "done"))
    run = session.get(Run, run_id)
    assert run is not None
    campaign = session.get(Campaign, run.campaign_id)
    assert campaign is not None
    if campaign.schedule.get("type") == "trigger":
        return False  # a trigger's day run stays open for the firings still to come
    final = "cancelled" if campaign.status == "cancelled" else "sent"
    closed = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "sending", ~unfinished)
        .values(status=final, finished_at=now)
    ).rowcount
    if closed != 1:
        return False
    if campaign.status == "sending":
        upcoming = None
        if campaign.schedule.get("type") == "recurring":
            upcoming = schedules.next_due(campaign.schedule, now, settings.timezone)
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id, Campaign.status == "sending")
            .values(
                status="scheduled" if upcoming else "sent", next_run_at=upcoming, updated_at=now
            )
        )
    return True


def contact_context(contact: Contact) -> dict[str, Any]:
    """What templates see as ``contact``."""
    return {
        "id": contact.id,
        "external_id": contact.external_id,
        "email": contact.email,
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "locale": contact.locale,
        "timezone": contact.timezone,
        "tier": contact.tier,
        "points": contact.points,
        "birthday": contact.birthday.isoformat() if contact.birthday else None,
        "attributes": dict(contact.attributes or {}),
        "orders_count": contact.orders_count,
        "total_spent": float(contact.total_spent or 0),
    }
