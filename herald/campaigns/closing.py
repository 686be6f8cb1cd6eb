"""Closing runs: when a run's last batch is done, the run ends with its true outcome (``sent``,
or ``failed`` when nothing went out) and the campaign moves on (that outcome, or back to
``scheduled`` for a recurring schedule's next occurrence)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from herald.campaigns import schedules
from herald.campaigns.models import Batch, Campaign, Run
from herald.campaigns.outcome import run_outcome
from herald.core.settings import Settings


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
    final = run_outcome(session, run_id, cancelled=campaign.status == "cancelled")
    closed = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "sending", ~unfinished)
        .values(status=final.status, error=final.summary, finished_at=now)
    ).rowcount
    if closed != 1:
        return False
    # a journey step's (and a trigger's) campaign keeps sending: each busy tick gives it a run
    # of its own
    if campaign.status == "sending" and campaign.schedule.get("type") not in ("journey", "trigger"):
        upcoming = None
        if campaign.schedule.get("type") == "recurring":
            upcoming = schedules.next_due(campaign.schedule, now, settings.timezone)
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id, Campaign.status == "sending")
            .values(
                status="scheduled" if upcoming else final.status,
                next_run_at=upcoming,
                updated_at=now,
            )
        )
    return True
