"""The report's charts as PNG bytes. Figures are made without pyplot (no global state, safe in
worker threads) and drawn by the Agg canvas."""

from __future__ import annotations

import io
import textwrap
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SENT, OPENS, CLICKS, REVENUE = "#4c72b0", "#55a868", "#dd8452", "#8172b3"


def _label(campaign: dict[str, Any]) -> str:
    name = textwrap.shorten(str(campaign["name"]), width=28, placeholder="…")
    return f"{name}\n(trigger)" if campaign["kind"] == "trigger" else name


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _empty(figure: Figure, title: str) -> bytes:
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title, loc="left", fontsize=13, fontweight="bold")
    axes.text(0.5, 0.5, "No campaigns ran this week", ha="center", va="center", color="#666")
    return _png(figure)


def _height(count: int) -> float:
    return max(2.6, 0.75 * count + 1.4)


def engagement_chart(report: dict[str, Any]) -> bytes:
    """Horizontal bars per campaign: sent (delivered), unique opens and unique clicks."""
    campaigns = report["campaigns"]
    title = f"Sent, opened and clicked — {report['week']}"
    figure = Figure(figsize=(8, _height(len(campaigns))))
    if not campaigns:
        return _empty(figure, title)
    axes = figure.add_subplot()
    labels = [_label(c) for c in campaigns]
    positions = range(len(campaigns))
    bar = 0.26
    series = (
        ("Sent", "sent", SENT, -bar),
        ("Unique opens", "unique_opens", OPENS, 0.0),
        ("Unique clicks", "unique_clicks", CLICKS, bar),
    )
    for legend, key, colour, offset in series:
        values = [c["metrics"][key] for c in campaigns]
        bars = axes.barh([p + offset for p in positions], values, height=bar, color=colour)
        axes.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=8)
        bars.set_label(legend)
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    axes.set_title(title, loc="left", fontsize=13, fontweight="bold")
    axes.legend(loc="lower right", frameon=False, fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.15)
    return _png(figure)


def revenue_chart(report: dict[str, Any]) -> bytes:
    """Horizontal bars: attributed revenue per campaign, this week and the week before."""
    campaigns = report["campaigns"]
    title = f"Revenue — {report['week']} (previous week in grey)"
    figure = Figure(figsize=(8, _height(len(campaigns))))
    if not campaigns:
        return _empty(figure, title)
    axes = figure.add_subplot()
    positions = list(range(len(campaigns)))
    current = [c["metrics"]["revenue"] for c in campaigns]
    previous = [(c["change"] or {}).get("revenue", {}).get("previous", 0) for c in campaigns]
    axes.barh([p + 0.2 for p in positions], previous, height=0.35, color="#c7c7c7")
    bars = axes.barh([p - 0.2 for p in positions], current, height=0.35, color=REVENUE)
    axes.bar_label(bars, labels=[f"{v:,.2f}" for v in current], padding=3, fontsize=8)
    axes.set_yticks(positions, [_label(c) for c in campaigns])
    axes.invert_yaxis()
    axes.set_title(title, loc="left", fontsize=13, fontweight="bold")
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.18)
    return _png(figure)
