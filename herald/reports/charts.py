"""The report's charts as PNG bytes. Figures are made without pyplot (no global state, safe in
worker threads) and drawn by the Agg canvas."""

from __future__ import annotations

import io
import textwrap
import warnings
from functools import cache
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SENT, OPENS, CLICKS, REVENUE = "#4c72b0", "#55a868", "#dd8452", "#8172b3"
# campaign names are often Chinese (双11); DejaVu has no CJK glyphs, so an installed CJK font
# is used as a fallback when there is one
CJK_FONT_HINTS = ("Noto Sans CJK", "Noto Sans SC", "Source Han Sans", "WenQuanYi", "Droid Sans")


@cache
def _families() -> list[str]:
    installed = sorted({font.name for font in font_manager.fontManager.ttflist})
    cjk = [name for name in installed if name.startswith(CJK_FONT_HINTS)]
    return ["DejaVu Sans", *cjk[:1]]


def _label(campaign: dict[str, Any]) -> str:
    name = textwrap.shorten(str(campaign["name"]), width=28, placeholder="…")
    return f"{name}\n(trigger)" if campaign["kind"] == "trigger" else name


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # without a CJK font a Chinese name draws as boxes; the chart is still worth sending
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _drawn(draw: Any, report: dict[str, Any]) -> bytes:
    with rc_context({"font.family": _families()}):
        return draw(report)


def _empty(figure: Figure, title: str, text: str = "No campaigns ran this week") -> bytes:
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title, loc="left", fontsize=13, fontweight="bold")
    axes.text(0.5, 0.5, text, ha="center", va="center", color="#666")
    return _png(figure)


def _height(count: int) -> float:
    return max(2.6, 0.75 * count + 1.4)


def engagement_chart(report: dict[str, Any]) -> bytes:
    """Horizontal bars per campaign: sent, unique opens and unique clicks (PNG)."""
    return _drawn(_engagement, report)


def revenue_chart(report: dict[str, Any]) -> bytes:
    """Horizontal bars: attributed revenue per campaign, this week and the week before (PNG)."""
    return _drawn(_revenue, report)


def _engagement(report: dict[str, Any]) -> bytes:
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


def _revenue(report: dict[str, Any]) -> bytes:
    campaigns = report["campaigns"]
    title = f"Revenue — {report['week']} (previous week in grey)"
    figure = Figure(figsize=(8, _height(len(campaigns))))
    if not campaigns:
        return _empty(figure, title)
    axes = figure.add_subplot()
    positions = list(range(len(campaigns)))
    current = [c["metrics"]["revenue"] for c in campaigns]
    previous = [(c["change"] or {}).get("revenue", {}).get("previous", 0) for c in campaigns]
    if not any(current) and not any(previous):
        # an axis from -0.06 to 0.06 around nothing says less than these words
        return _empty(Figure(figsize=(8, 1.6)), title, "No revenue this week or the week before")
    axes.barh([p + 0.2 for p in positions], previous, height=0.35, color="#c7c7c7")
    bars = axes.barh([p - 0.2 for p in positions], current, height=0.35, color=REVENUE)
    axes.bar_label(bars, labels=[f"{v:,.2f}" for v in current], padding=3, fontsize=8)
    axes.set_yticks(positions, [_label(c) for c in campaigns])
    axes.invert_yaxis()
    axes.set_title(title, loc="left", fontsize=13, fontweight="bold")
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.18)
    return _png(figure)
