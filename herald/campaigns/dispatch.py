"""Dispatch, the flow in one place: from a due schedule to closed ledger rows.

The ledger (one :class:`~herald.campaigns.models.Delivery` per run and member, unique in the
database) is the checkpoint. The flow, one module each:

1. :mod:`~herald.campaigns.planning`: claim a due campaign and write its whole audience into the
   ledger in one INSERT … SELECT, cut into batches (A/B runs: :mod:`~herald.campaigns.ab_plan`).
2. :mod:`~herald.campaigns.sending`: a worker claims a batch under a lease
   (:mod:`~herald.campaigns.leases`), screens each chunk through the send policy
   (:mod:`~herald.campaigns.screening`), claims rows ``pending`` → ``sending``, hands them to the
   channel and closes them (``sent``, ``failed``, ``skipped``) in one write per chunk.
3. :mod:`~herald.campaigns.recovery`: rows a dead worker left ``sending`` are marked uncertain
   and handed off again only where that is harmless; transient failures back off.
4. :mod:`~herald.campaigns.reconcile`: the scheduler's tick starts due runs, ends A/B tests
   (:mod:`~herald.campaigns.ab_decide`), re-enqueues batches whose wake-up was lost, and closes
   finished runs (:mod:`~herald.campaigns.closing`).

This module re-exports the entry points under their long-standing names.
"""

from __future__ import annotations

from herald.campaigns.closing import close_finished_runs, finish_run_if_done
from herald.campaigns.context import contact_context
from herald.campaigns.leases import claim_batch
from herald.campaigns.planning import audience, plan_run, start_due_runs
from herald.campaigns.reconcile import REQUEUE_AFTER, batches_to_enqueue, tick
from herald.campaigns.recovery import MAX_ATTEMPTS, backoff
from herald.campaigns.sending import BatchReport, send_batch

__all__ = [
    "MAX_ATTEMPTS",
    "REQUEUE_AFTER",
    "BatchReport",
    "audience",
    "backoff",
    "batches_to_enqueue",
    "claim_batch",
    "close_finished_runs",
    "contact_context",
    "finish_run_if_done",
    "plan_run",
    "send_batch",
    "start_due_runs",
    "tick",
]
