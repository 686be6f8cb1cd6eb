"""Sending a batch: chunk by chunk, apply the send policy, claim the rows, hand them to the
channel and close them in the ledger.

A worker claims a batch under a lease (:mod:`herald.campaigns.leases`), recovers rows a dead
worker left in flight (:mod:`herald.campaigns.recovery`), then per chunk: reads the rows with the
policy's facts in one SELECT and screens them (:mod:`herald.campaigns.screening`), claims the
sendable ones ``pending`` → ``sending``, hands each to the channel, then closes all of them and
renews the lease (which also reads whether the campaign was paused or cancelled) in one
transaction. Rows are closed only while this worker's claim still holds them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, object_session

from herald.campaigns import autopause, coupon_issue, posts, senders, tier_benefits
from herald.campaigns import status as st
from herald.campaigns.closing import finish_run_if_done
from herald.campaigns.context import (
    ContactRow,
    contact_context,
    member_zone,
    moment_context,
    promotion_snapshot,
)
from herald.campaigns.feedback import record_outcome_events
from herald.campaigns.leases import claim_batch, release, renew, stop_reason, write_held
from herald.campaigns.models import Batch, Campaign, Delivery, Run
from herald.campaigns.policy import Rules
from herald.campaigns.recovery import (
    closing_row,
    give_back_unsent,
    recover_in_flight,
    wait_out_outage,
)
from herald.campaigns.screening import LedgerRow, read_chunk, screen
from herald.channels.base import Channel, Outcome, Recipient, RunInfo
from herald.core import clock
from herald.core.db import Database
from herald.core.settings import Settings
from herald.templating.tracking import unsubscribe_url

log = logging.getLogger(__name__)

_ledger = Delivery.__table__
# pending → sending for the chunk's sendable rows; a Core statement compiled once per process
_CLAIM = (
    update(_ledger)
    .where(_ledger.c.id.in_(bindparam("ids", expanding=True)), _ledger.c.status == st.PENDING)
    .values(
        status=st.SENDING,
        claimed_at=bindparam("now", type_=_ledger.c.claimed_at.type),
        attempts=_ledger.c.attempts + 1,
    )
    .returning(_ledger.c.id)
)


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


def send_batch(
    db: Database,
    settings: Settings,
    batch_id: int,
    channel_for: Callable[[str, Settings], Channel] | None = None,
) -> BatchReport:
    """Send every pending delivery of a batch. Safe to call twice or concurrently: the lease and
    the per-row claim let only one caller hand any row to the channel."""
    channel_for = channel_for or senders.sender_for
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
        stop = stop_reason(session, campaign.id)
        if stop == "paused":
            release(session, batch_id, fence)
            report.stopped = "paused"
            return report
        sender: BatchSender | posts.RunPoster
        if getattr(channel, "per_run", False):
            sender = posts.RunPoster(settings, campaign, run, batch, channel, fence, report)
        else:
            report.recovered = recover_in_flight(session, batch, channel)
            sender = BatchSender(settings, campaign, run, batch, channel, fence, report)
            sender.stop = stop
    sender.run(db)
    return report


class BatchSender:
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
        session = object_session(campaign)
        self.promotion = (
            promotion_snapshot(session, campaign.promotion_id) if session is not None else {}
        )
        # a coupon spec per variant (email and SMS variants, journey steps): one code a delivery
        first = campaign.variants[0].id if campaign.variants else 0
        self.coupon_specs = {
            v.id: dict(v.content["coupon"])
            for v in campaign.variants
            if isinstance((v.content or {}).get("coupon"), dict)
        }
        if first in self.coupon_specs:
            self.coupon_specs[0] = self.coupon_specs[first]  # rows planned without a variant
        self.coupons: dict[int, dict[str, Any]] = {}
        self.coupon_refusals: dict[int, str] = {}
        self.tier_benefits: dict[str, dict[str, Any]] | None = None
        self.renewed_at = time.monotonic()  # the claim took the lease just now
        # the campaign's stop reason as last read (with the lease's claim or renewal)
        self.stop: str | None = None
        self.claim_stamp: datetime | None = None
        self.outage_until: datetime | None = None  # set when the provider is down
        self.rules = Rules(
            address_field=channel.address,
            frequency_cap=settings.frequency_cap if channel.marketing else None,
            quiet_hours=getattr(channel, "quiet_hours", None),
        )

    def run(self, db: Database) -> None:
        last_id = 0
        while True:
            with db.session() as session:
                if self.stop == "paused":
                    release(session, self.batch_id, self.fence)
                    self.report.stopped = "paused"
                    return
                if self.stop == "cancelled":
                    self._cancel_rest(session)
                    break
                rows = read_chunk(
                    session,
                    self.channel,
                    self.rules,
                    self.run_id,
                    self.seq,
                    last_id,
                    self.settings.flush_every,
                    clock.now(),
                )
                if not rows:
                    break
                last_id = rows[-1].delivery.id
                screened = screen(
                    session,
                    self.settings,
                    self.channel,
                    self.rules,
                    rows,
                    transactional=self.transactional,
                )
                self.report.skipped += screened.skipped
                self.report.deferred += screened.deferred
                to_send = screened.sendable
                claimed = self._claim(session, [d.id for d, _ in to_send])
                to_send = [(d, c) for d, c in to_send if d.id in claimed]
                self._issue_coupons(session, to_send)
            outcomes = []
            for delivery, contact in to_send:
                if not self._keep_lease(db):
                    break  # another worker holds the batch now: hand nothing more off
                outcomes.append((delivery, self._hand_off(delivery, contact)))
                if outcomes[-1][1].outage:
                    break  # the provider is down: the rest wait with this one
            # the messages went out: their outcomes are written even through a database restart
            # (a row left ``sending`` would be handed off again, a duplicate)
            if not db.through_outage(
                partial(self._close_chunk, to_send=to_send, outcomes=outcomes),
                before_retry=self._report_rewinder(),
            ):
                self.report.stopped = "lease lost"
                return
            if self.outage_until is not None:
                self.report.stopped = "provider unavailable"
                break
        db.through_outage(self._finish)

    def _close_chunk(
        self,
        session: Session,
        *,
        to_send: list[tuple[LedgerRow, ContactRow]],
        outcomes: list[tuple[LedgerRow, Outcome]],
    ) -> bool:
        """Record a chunk's outcomes (idempotent: only rows still held are written); False once
        another worker holds the batch."""
        self._record(session, outcomes)
        handed = {d.id for d, _ in outcomes}
        unsent = [d.id for d, _ in to_send if d.id not in handed]
        give_back_unsent(session, unsent, self.claim_stamp)
        if self.outage_until is not None:
            wait_out_outage(session, self.run_id, self.seq, self.outage_until)
        autopause.pause_if_all_failed(session, self.campaign_id, self.run_id, outcomes)
        return self._renew_lease(session)

    def _report_rewinder(self) -> Callable[[], None]:
        """Undo a failed :meth:`_close_chunk`'s counting, so a retry counts the chunk once."""
        saved = {**vars(self.report), "outcomes": list(self.report.outcomes)}
        return lambda: vars(self.report).update(saved, outcomes=list(saved["outcomes"]))

    def _claim(self, session: Session, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        now = clock.now()
        self.claim_stamp = now
        # the loaded rows keep their pre-claim attempts: _record counts this one itself
        return set(session.connection().execute(_CLAIM, {"ids": ids, "now": now}).scalars())

    def _issue_coupons(self, session: Session, rows: list[tuple[LedgerRow, ContactRow]]) -> None:
        """The claimed rows' coupons, committed with the claim before any hand-off."""
        if self.tier_benefits is None:
            self.tier_benefits = tier_benefits.all_benefits(session)
        if not self.coupon_specs or not rows:
            return
        issued, refused = coupon_issue.issue_for_chunk(
            session,
            campaign_id=self.campaign_id,
            run_id=self.run_id,
            specs=self.coupon_specs,
            rows=rows,
            benefits=self.tier_benefits,
            now=clock.now(),
        )
        self.coupons.update(issued)
        self.coupon_refusals.update(refused)

    def _hand_off(self, delivery: LedgerRow, contact: ContactRow) -> Outcome:
        if delivery.id in self.coupon_refusals:
            return Outcome.permanent(self.coupon_refusals.pop(delivery.id))
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

    def _recipient(self, delivery: LedgerRow, contact: ContactRow) -> Recipient:
        secret = self.settings.secret_key
        unsubscribe = unsubscribe_url(self.settings.public_url, secret, delivery.id)
        context = {
            "contact": contact_context(contact),
            "campaign": {"id": self.campaign_id, "name": self.campaign_name},
            "coupon": self.coupons.pop(delivery.id, {}),
            "tier": tier_benefits.template_view(contact.tier, self.tier_benefits or {}),
            "unsubscribe_url": unsubscribe,
            "event": dict(delivery.data or {}),
            **moment_context(self.promotion, member_zone(contact, self.settings.timezone)),
        }
        return Recipient(
            contact_id=contact.id,
            delivery_id=delivery.id,
            email=contact.email,
            phone=contact.phone,
            context=context,
        )

    def _record(self, session: Session, outcomes: Iterable[tuple[LedgerRow, Outcome]]) -> None:
        now = clock.now()
        updates: list[dict[str, Any]] = []
        events: list[tuple[LedgerRow, Any]] = []
        for delivery, outcome in outcomes:
            if outcome.event is not None:
                events.append((delivery, outcome.event))
            row = closing_row(delivery.id, delivery.attempts + 1, outcome, now)
            if outcome.outage:
                self.outage_until = row["not_before"]
            counter = {st.SENT: "sent", st.FAILED: "failed"}.get(row["status"], "retried")
            setattr(self.report, counter, getattr(self.report, counter) + 1)
            self.report.outcomes.append((delivery.id, row["status"]))
            updates.append(row)
        if updates:
            write_held(session, updates, self.claim_stamp)
        if events:
            # e.g. a hard bounce reported synchronously by SMTP: event + suppression, same commit
            record_outcome_events(session, self.settings, self.campaign_id, events)

    def _keep_lease(self, db: Database) -> bool:
        """Renew the lease once a third of it has passed, so a slow provider does not let it
        expire under a live worker; False once another worker holds the batch."""
        if time.monotonic() - self.renewed_at < self.settings.batch_lease.total_seconds() / 3:
            return True
        try:
            with db.session() as session:
                return self._renew_lease(session)
        except DBAPIError:
            # the database is away: hand nothing more off; the chunk's outcomes wait for it
            log.warning("batch %s: could not renew its lease, stopping the chunk", self.batch_id)
            return False

    def _renew_lease(self, session: Session) -> bool:
        """Renew the lease and note whether the campaign was stopped meanwhile (one statement);
        False once another worker holds the batch."""
        until = clock.now() + self.settings.batch_lease
        held, stop = renew(session, self.batch_id, self.fence, self.campaign_id, until)
        self.renewed_at = time.monotonic()
        self.stop = stop
        return held

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
