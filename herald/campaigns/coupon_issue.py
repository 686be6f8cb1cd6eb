"""Coupons in the send path: a variant (or journey step) with ``"coupon": {...}`` gets one unique
code per delivery, issued after the ledger rows are claimed and committed with the claim, before
any message carrying the code is handed to a channel. The delivery id is the key, so a retried
delivery finds the code it was issued the first time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from herald.campaigns import coupon_specs, coupons, tier_benefits
from herald.campaigns.context import ContactRow
from herald.campaigns.screening import LedgerRow


def issue_for_chunk(
    session: Session,
    *,
    campaign_id: int,
    run_id: int,
    specs: Mapping[int, Mapping[str, Any]],
    rows: Iterable[tuple[LedgerRow, ContactRow]],
    benefits: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """The ``coupon`` each claimed delivery's templates see, keyed by delivery id, and the
    deliveries that must not go out with the reason (a fixed ``valid_until`` already past: a
    message offering an expired code is refused, not sent). ``specs`` maps variant id → the
    variant's coupon spec; deliveries of other variants, and members whose tier has no
    configured benefit a ``tier_benefit`` spec names, get no coupon."""
    refused: dict[int, str] = {}
    wanted: list[dict[str, Any]] = []
    for delivery, contact in rows:
        spec = specs.get(delivery.variant_id or 0)
        if spec is None:
            continue
        offer = tier_benefits.resolve(spec, contact.tier, benefits)
        if offer is None:
            continue
        valid_from, valid_until = coupon_specs.validity(offer, now)
        if valid_until <= now:
            refused[delivery.id] = (
                f"the coupon expired at {valid_until.isoformat()} (valid_until): "
                "change the coupon to send it"
            )
            continue
        wanted.append(
            {
                "delivery_id": delivery.id,
                "contact_id": contact.id,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "offer": offer,
            }
        )
    if not wanted:
        return {}, refused
    issued = coupons.issue_many(session, campaign_id=campaign_id, run_id=run_id, wanted=wanted)
    return {delivery_id: c.offer() for delivery_id, c in issued.items()}, refused
