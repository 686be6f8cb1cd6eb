"""Runs of per-run channels (a social post): one hand-off per run instead of one per member.

planning.plan_run hands such a run to :func:`plan_post`, which writes no ledger rows but one
:class:`RunPost` (unique per run) and one batch; the batch's worker runs :class:`RunPoster`,
which claims the post (``pending`` → ``posting``), calls ``channel.post`` once and records the
outcome with the same retry rules as the ledger. A post left ``posting`` by a dead worker is
posted again only when the channel says a second hand-off is harmless (an idempotency key).
Engagement counts are read back later by :func:`refresh_engagement`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from herald.campaigns.closing import finish_run_if_done
from herald.campaigns.context import moment_context, promotion_snapshot
from herald.campaigns.leases import release, stop_reason
from herald.campaigns.models import Batch, Campaign, Run
from herald.campaigns.recovery import MAX_ATTEMPTS, backoff
from herald.channels import registry
from herald.channels.base import Channel, Outcome, RunInfo
from herald.core import clock
from herald.core.db import Base, Database
from herald.core.settings import Settings

log = logging.getLogger(__name__)

ENGAGEMENT_EVERY = timedelta(minutes=15)
ENGAGEMENT_HORIZON = timedelta(days=14)


class RunPost(Base):
    """The one post of a run: its status, the server's id and URL, and engagement read back."""

    __tablename__ = "run_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    campaign_id: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(1000))
    reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]
    engagement: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fetched_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


def plan_post(session: Session, run: Run, now: datetime) -> Run:
    """Plan a per-run channel's run: one post, one batch, no ledger rows."""
    session.add(RunPost(run_id=run.id, campaign_id=run.campaign_id, status="pending"))
    session.add(Batch(run_id=run.id, seq=0, status="queued", enqueued_at=now))
    run.recipients = 0
    run.batches_total = 1
    session.flush()
    return run


class RunPoster:
    """One pass over a per-run channel's batch (the same ``run(db)`` shape as a batch sender)."""

    def __init__(
        self,
        settings: Settings,
        campaign: Campaign,
        run: Run,
        batch: Batch,
        channel: Channel,
        fence: int,
        report: Any,
    ) -> None:
        variant = campaign.variants[0]  # one post per run: the first variant is the post
        self.settings = settings
        self.info = RunInfo(
            campaign_id=campaign.id,
            campaign_name=campaign.name,
            run_id=run.id,
            variant_id=variant.id,
            variant_name=variant.name,
            content=dict(variant.content),
            started_at=run.started_at,
            extras=_moments(campaign, settings),
        )
        self.batch_id = batch.id
        self.channel = channel
        self.fence = fence
        self.report = report

    def run(self, db: Database) -> None:
        with db.session() as session:
            stop = stop_reason(session, self.info.campaign_id)
            if stop == "paused":
                release(session, self.batch_id, self.fence)
                self.report.stopped = "paused"
                return
            claimed = self._claim(session, cancelled=stop == "cancelled")
        if claimed is not None:
            try:
                outcome = self.channel.post(self.channel.prepare(self.info))  # type: ignore[attr-defined]
            except Exception as exc:
                log.warning("post of run %s failed to render: %s", self.info.run_id, exc)
                outcome = _failed(f"template error: {exc}")
            with db.session() as session:
                self._record(session, claimed, outcome)
        with db.session() as session:
            self._finish(session)

    def _claim(self, session: Session, cancelled: bool) -> int | None:
        """The attempt number when this pass may post, else None."""
        now = clock.now()
        post = session.scalar(select(RunPost).where(RunPost.run_id == self.info.run_id))
        if post is None:  # planned before this table existed: treat as a fresh post
            post = RunPost(run_id=self.info.run_id, campaign_id=self.info.campaign_id)
            session.add(post)
            session.flush()
        if post.status == "posting":
            # a worker stopped mid-post: the outcome is unknown
            self.report.recovered += 1
            if getattr(self.channel, "resend_uncertain", False):
                post.status, post.reason = "pending", "posting again after a worker stopped"
            else:
                post.status, post.reason = "uncertain", "worker stopped mid-post; not resent"
            session.flush()
        if post.status != "pending":
            return None
        if cancelled:
            post.status, post.reason = "cancelled", "campaign cancelled"
            return None
        if post.not_before is not None and post.not_before > now:
            return None
        taken = session.execute(
            update(RunPost)
            .where(RunPost.id == post.id, RunPost.status == "pending")
            .values(status="posting", attempts=RunPost.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        return post.attempts + 1 if taken == 1 else None

    def _record(self, session: Session, attempts: int, outcome: Any) -> None:
        now = clock.now()
        values: dict[str, Any] = {"updated_at": now}
        if outcome.status == "sent":
            values.update(
                status="sent",
                provider_id=outcome.provider_id,
                url=getattr(outcome, "url", None),
                posted_at=now,
                reason=None,
            )
            self.report.sent += 1
        elif outcome.status == "transient" and attempts < MAX_ATTEMPTS:
            delay = backoff(attempts, outcome.retry_after)
            values.update(
                status="pending",
                reason=f"retrying: {outcome.reason}",
                not_before=now + timedelta(seconds=delay),
            )
            self.report.retried += 1
        else:
            reason = outcome.reason or "failed"
            if outcome.status == "transient":
                reason = f"gave up after {attempts} attempts: {reason}"
            values.update(status="failed", reason=reason[:500])
            self.report.failed += 1
        session.execute(
            update(RunPost)
            .where(RunPost.run_id == self.info.run_id, RunPost.status == "posting")
            .values(**values)
        )

    def _finish(self, session: Session) -> None:
        now = clock.now()
        post = session.scalar(select(RunPost).where(RunPost.run_id == self.info.run_id))
        if post is not None and post.status in ("pending", "posting"):
            wake = max(post.not_before or now, now)
            session.execute(
                update(Batch)
                .where(Batch.id == self.batch_id, Batch.attempts == self.fence)
                .values(status="queued", lease_until=wake, enqueued_at=None)
            )
            return
        done = session.execute(
            update(Batch)
            .where(Batch.id == self.batch_id, Batch.attempts == self.fence)
            .values(status="done", finished_at=now, lease_until=None)
        ).rowcount
        if done:
            finish_run_if_done(session, self.info.run_id, self.settings, now)


def _failed(reason: str) -> Any:
    return Outcome.permanent(reason)


def refresh_engagement(
    db: Database,
    settings: Settings,
    channel_for: Callable[[str, Settings], Channel] | None = None,
    every: timedelta = ENGAGEMENT_EVERY,
) -> int:
    """Read back favourites, reblogs and replies of recent posts not fetched for ``every``.
    Returns how many posts were updated. What the scheduler calls every few minutes."""
    channel_for = channel_for or registry.channel_for
    now = clock.now()
    with db.session() as session:
        due = session.execute(
            select(RunPost.id, RunPost.provider_id, Campaign.channel)
            .join(Campaign, Campaign.id == RunPost.campaign_id)
            .where(
                RunPost.status == "sent",
                RunPost.provider_id.is_not(None),
                RunPost.posted_at >= now - ENGAGEMENT_HORIZON,
                or_(RunPost.fetched_at.is_(None), RunPost.fetched_at <= now - every),
            )
            .order_by(RunPost.id)
            .limit(500)
        ).all()
    updated = 0
    for post_id, provider_id, kind in due:
        channel = channel_for(kind, settings)
        counts = channel.engagement(provider_id)  # type: ignore[attr-defined]
        if counts is None:
            continue
        with db.session() as session:
            session.execute(
                update(RunPost)
                .where(RunPost.id == post_id)
                .values(engagement=counts, fetched_at=clock.now())
            )
        updated += 1
    return updated


def _moments(campaign: Campaign, settings: Settings) -> dict[str, Any]:
    """A post's ``promotion`` and ``now``, in the shop's zone (a post has no member)."""
    session = object_session(campaign)
    promotion = promotion_snapshot(session, campaign.promotion_id) if session is not None else {}
    return moment_context(promotion, settings.timezone)
