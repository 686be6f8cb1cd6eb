"""Progress of campaign runs read from the ledger (what the dashboard and campaign page show)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.campaigns import metrics
from herald.campaigns import status as st
from herald.campaigns.models import Campaign, Delivery, Run

DONE = (st.SENT, st.FAILED, st.SKIPPED)


def ledger_by_status(session: Session, run_ids: list[int]) -> dict[int, dict[str, int]]:
    """``{run_id: {ledger status: count}}`` for the given runs."""
    out: dict[int, dict[str, int]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return out
    rows = session.execute(
        select(Delivery.run_id, Delivery.status, func.count())
        .where(Delivery.run_id.in_(run_ids))
        .group_by(Delivery.run_id, Delivery.status)
    )
    for run_id, status, count in rows:
        out[run_id][status] = int(count)
    return out


def fraction(counts: dict[str, int], recipients: int) -> float:
    """Share of the audience that is finished (sent + failed + skipped), 0 to 1."""
    if recipients <= 0:
        return 0.0
    return min(1.0, sum(counts.get(s, 0) for s in DONE) / recipients)


def tone(status: str, ledger: dict[str, int]) -> str:
    """The progress bar's colour: red for a failed campaign, amber when rows failed, grey when
    cancelled, else green."""
    if status == "failed":
        return "danger"
    if status == "cancelled":
        return "secondary"
    if ledger.get(st.FAILED):
        return "warning"
    return "success"


def campaign_progress(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Everything the live campaign page polls: stats, ledger counts and progress."""
    runs = session.execute(
        select(Run.id, Run.status, Run.started_at)
        .where(Run.campaign_id == campaign.id)
        .order_by(Run.id)
    ).all()
    run_ids = [run.id for run in runs]
    per_run = ledger_by_status(session, run_ids)
    ledger: dict[str, int] = {}
    for counts in per_run.values():
        for status, count in counts.items():
            ledger[status] = ledger.get(status, 0) + count
    recipients = sum(ledger.values())
    done = sum(ledger.get(s, 0) for s in DONE)
    return {
        "campaign_id": campaign.id,
        "status": campaign.status,
        "tone": tone(campaign.status, ledger),
        "recipients": recipients,
        "done": done,
        "progress": fraction(ledger, recipients),
        "ledger": ledger,
        "runs": [
            {
                "id": run.id,
                "status": run.status,
                "started_at": run.started_at.strftime("%Y-%m-%d %H:%M") if run.started_at else "",
            }
            for run in runs
        ],
        "stats": metrics.campaign_stats(session, campaign),
    }
