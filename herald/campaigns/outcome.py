"""How a finished run ended, decided from its ledger counts alone: a run in which nothing was
handed to a channel did not "send", whatever its batches say."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.campaigns import status as st
from herald.campaigns.models import Delivery


@dataclass(frozen=True)
class RunOutcome:
    """The status a finished run closes with, and a sentence saying why when it is not plain."""

    status: str
    summary: str | None


def decide(counts: Mapping[str, int], cancelled: bool = False) -> RunOutcome:
    """The final status of a run whose batches are done, from ``{ledger status: rows}``.

    ``cancelled`` when the campaign was cancelled; ``failed`` when no row was sent (or might have
    been: uncertain rows count as possibly sent) yet some failed or were skipped; else ``sent``,
    with a summary naming the failed and skipped rows when there were any.
    """
    sent = int(counts.get(st.SENT, 0))
    failed = int(counts.get(st.FAILED, 0))
    skipped = int(counts.get(st.SKIPPED, 0))
    uncertain = int(counts.get(st.UNCERTAIN, 0))
    stopped = int(counts.get(st.CANCELLED, 0))
    parts = [
        f"{n} {label}"
        for n, label in ((failed, "failed"), (skipped, "skipped"), (stopped, "cancelled"))
        if n
    ]
    if cancelled:
        return RunOutcome(st.CANCELLED, ", ".join(parts) or None)
    if sent == 0 and uncertain == 0 and (failed or skipped):
        total = failed + skipped + stopped
        return RunOutcome("failed", f"nothing was sent: {', '.join(parts)} of {total}")
    if parts:
        return RunOutcome(st.SENT, f"{sent} sent, {', '.join(parts)}")
    return RunOutcome(st.SENT, None)


def run_outcome(session: Session, run_id: int, cancelled: bool = False) -> RunOutcome:
    """:func:`decide` over the run's ledger as it is now."""
    counts = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.run_id == run_id)
            .group_by(Delivery.status)
        ).all()
    )
    return decide(counts, cancelled)
