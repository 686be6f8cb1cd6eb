"""Turning report numbers into what people read: percentages, changes, table rows, the CSV."""

from __future__ import annotations

import io
from typing import Any

from herald.campaigns import metrics
from herald.core.spreadsheet import SafeDictWriter

# the columns a marketer reads first, in the email, the CLI table and the plain text
COLUMNS: tuple[tuple[str, str], ...] = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("open_rate", "Open rate"),
    ("click_rate", "Click rate"),
    ("ctor", "CTOR"),
    ("conversions", "Orders"),
    ("revenue", "Revenue"),
    ("unsubscribes", "Unsubs"),
)
JOURNEY_FIELDS = (
    "entered",
    "completed",
    "exited",
    "entrant_conversions",
    "entrant_revenue",
    "holdout_members",
    "holdout_conversions",
    "holdout_revenue",
    "lift_conversion_rate",
    "lift_ci_low",
    "lift_ci_high",
)
CSV_FIELDS = (
    "id",
    "name",
    "kind",
    "channel",
    "runs",
    *metrics.COUNTS,
    "revenue",
    *metrics.RATES,
    *metrics.MONEY,
    # journeys' rows only (kind "journey"; their metric columns are those of their messages)
    *JOURNEY_FIELDS,
)
METRIC_FIELDS = CSV_FIELDS[5 : -len(JOURNEY_FIELDS)]


def value(name: str, number: float) -> str:
    """One metric as text: rates as percentages, revenue with two decimals."""
    if name in metrics.RATES:
        return f"{number * 100:.1f}%"
    if name == "revenue" or name in metrics.MONEY:
        return f"{number:,.2f}"
    return f"{int(number):,}"


def delta(name: str, change: dict[str, Any] | None) -> str:
    """A change as text: rates in percentage points, counts relative (absolute when the week
    before was 0); empty without a week before."""
    if not change:
        return ""
    entry = change[name]
    if name in metrics.RATES:
        points = entry["absolute"] * 100
        return "±0.0 pts" if abs(points) < 0.05 else f"{points:+.1f} pts"
    if entry["relative"] is None:
        return "new" if entry["absolute"] else ""
    return f"{entry['relative'] * 100:+.1f}%"


def trend(name: str, change: dict[str, Any] | None) -> str:
    """``up``, ``down`` or ``flat``, for colouring; unsubscribes going up is bad news."""
    if not change or not change[name]["absolute"]:
        return "flat"
    up = change[name]["absolute"] > 0
    if name == "unsubscribes":
        up = not up
    return "up" if up else "down"


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One display row per campaign plus a totals row: cells of ``(text, change, trend)``."""
    out = []
    for campaign in report["campaigns"]:
        out.append(
            _row(campaign["name"], campaign["kind"], campaign["metrics"], campaign["change"])
        )
    out.append(_row("All campaigns", "total", report["totals"], report.get("totals_change")))
    return out


def _row(
    name: str, kind: str, numbers: dict[str, Any], change: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "cells": [
            {
                "text": value(key, numbers[key]),
                "delta": delta(key, change),
                "trend": trend(key, change),
            }
            for key, _ in COLUMNS
        ],
    }


def to_csv(report: dict[str, Any]) -> str:
    """One row per campaign with every metric (rates as fractions, as in the JSON)."""
    buffer = io.StringIO()
    writer = SafeDictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for campaign in report["campaigns"]:
        writer.writerow(
            {
                "id": campaign["id"],
                "name": campaign["name"],
                "kind": campaign["kind"],
                "channel": campaign.get("channel", ""),
                "runs": campaign.get("runs", ""),
                **{key: campaign["metrics"][key] for key in METRIC_FIELDS},
            }
        )
    for journey in report.get("journeys", []):
        writer.writerow(
            {
                "id": journey["id"],
                "name": journey["name"],
                "kind": "journey",
                **{key: journey["messages"][key] for key in METRIC_FIELDS},
                **journey_cells(journey),
            }
        )
    return buffer.getvalue()


def journey_cells(journey: dict[str, Any]) -> dict[str, Any]:
    """A journey's own numbers, as the CSV names them."""
    low, high = journey["lift"]["ci"]
    return {
        "entered": journey["entered"],
        "completed": journey["completed"],
        "exited": journey["exited"],
        "entrant_conversions": journey["conversions"],
        "entrant_revenue": journey["revenue"],
        "holdout_members": journey["holdout"]["members"],
        "holdout_conversions": journey["holdout"]["conversions"],
        "holdout_revenue": journey["holdout"]["revenue"],
        "lift_conversion_rate": journey["lift"]["conversion_rate"],
        "lift_ci_low": low,
        "lift_ci_high": high,
    }


def lift_text(journey: dict[str, Any]) -> str:
    """The lift as a marketer reads it: ``+2.4 pts (−0.8 to +5.6)``, or a dash without a
    holdout to compare with."""
    if not journey["holdout"]["members"]:
        return "no holdout"
    low, high = journey["lift"]["ci"]
    estimate = journey["lift"]["conversion_rate"]
    return f"{estimate * 100:+.1f} pts ({low * 100:+.1f} to {high * 100:+.1f})"
