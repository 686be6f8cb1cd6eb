"""Charts for the admin's results pages, drawn on the server as inline SVG by matplotlib (no
pyplot, no JavaScript, no CDN). Every number comes from the metrics module's output."""

from __future__ import annotations

import io
import re
import textwrap
from typing import Any

from markupsafe import Markup
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from herald.reports.charts import CLICKS, OPENS, REVENUE, SENT, _families

FUNNEL = (
    ("recipients", "Recipients"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("unique_opens", "Opened"),
    ("unique_clicks", "Clicked"),
    ("conversions", "Converted"),
)
VARIANT_RATES = (("open_rate", "Open rate", OPENS), ("click_rate", "Click rate", CLICKS))
_SIZE = re.compile(r'(<svg[^>]*?)\s(width|height)="[^"]*"')


def _svg(figure: Figure, label: str) -> Markup:
    """The figure as an inline, responsive SVG element with an accessible name."""
    FigureCanvasSVG(figure)
    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # the viewBox keeps the proportions; the page's CSS sets the width
    text = _SIZE.sub(r"\1", _SIZE.sub(r"\1", text, count=1), count=1)
    text = text.replace("<svg", f'<svg class="result-chart" role="img" aria-label="{label}"', 1)
    return Markup(text)


def _style(axes: Any, title: str) -> None:
    axes.set_title(title, loc="left", fontsize=12, fontweight="bold")
    axes.spines[["top", "right"]].set_visible(False)


def funnel_chart(total: dict[str, Any], currency: str = "") -> Markup:
    """Recipients → sent → delivered → opened → clicked → converted, with the revenue."""
    with rc_context({"font.family": _families()}):
        figure = Figure(figsize=(7, 3.2))
        axes = figure.add_subplot()
        values = [int(total.get(key, 0) or 0) for key, _ in FUNNEL]
        labels = [label for _, label in FUNNEL]
        bars = axes.barh(labels, values, color=[SENT, SENT, SENT, OPENS, CLICKS, REVENUE])
        top = max(values) or 1
        axes.bar_label(
            bars,
            labels=[f"{v:,} ({v / top:.0%})" if i else f"{v:,}" for i, v in enumerate(values)],
            padding=3,
            fontsize=9,
        )
        axes.invert_yaxis()
        axes.set_xlim(0, top * 1.25)
        axes.xaxis.set_visible(False)
        revenue = float(total.get("revenue", 0) or 0)
        _style(axes, f"Funnel · revenue {currency}{revenue:,.2f}")
        return _svg(figure, "Funnel from recipients to conversions")


def curve_chart(curve: dict[str, Any]) -> Markup:
    """Human opens and clicks per hour over the first hours after the send."""
    with rc_context({"font.family": _families()}):
        figure = Figure(figsize=(7, 2.8))
        axes = figure.add_subplot()
        hours = list(range(curve["hours"]))
        axes.plot(hours, curve["opens"], color=OPENS, label="Opens", linewidth=1.6)
        axes.plot(hours, curve["clicks"], color=CLICKS, label="Clicks", linewidth=1.6)
        axes.set_xlim(0, max(1, curve["hours"] - 1))
        axes.set_ylim(bottom=0, top=max(1, *curve["opens"], *curve["clicks"]) * 1.15)
        axes.set_xlabel("hours after the send started")
        axes.legend(loc="upper right", frameon=False, fontsize=9)
        _style(axes, f"Opens and clicks over the first {curve['hours']} hours")
        return _svg(figure, "Opens and clicks per hour")


def variants_chart(variants: dict[str, dict[str, Any]]) -> Markup:
    """Each variant's open and click rates side by side, with their intervals when the metrics
    carry them (``ci``)."""
    with rc_context({"font.family": _families()}):
        names = list(variants)
        figure = Figure(figsize=(7, max(2.2, 0.9 * len(names) + 1.2)))
        axes = figure.add_subplot()
        height = 0.38
        for offset, (key, label, colour) in zip(
            (-height / 2, height / 2), VARIANT_RATES, strict=True
        ):
            values = [float(variants[n].get(key, 0) or 0) for n in names]
            errors = None
            intervals = [(variants[n].get("ci") or {}).get(key) for n in names]
            if all(intervals):
                errors = [
                    [max(0.0, v - lo) for v, (lo, _) in zip(values, intervals, strict=True)],
                    [max(0.0, hi - v) for v, (_, hi) in zip(values, intervals, strict=True)],
                ]
            positions = [i + offset for i in range(len(names))]
            bars = axes.barh(
                positions, values, height=height, color=colour, label=label, xerr=errors
            )
            axes.bar_label(bars, labels=[f"{v:.1%}" for v in values], padding=4, fontsize=9)
        axes.set_yticks(range(len(names)), [textwrap.shorten(n, 20) for n in names])
        axes.invert_yaxis()
        axes.set_xlim(0, min(1.0, max(0.05, *[_high(variants[n]) for n in names]) * 1.3))
        axes.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
        axes.legend(loc="lower right", frameon=False, fontsize=9)
        _style(axes, "Open and click rate")
        return _svg(figure, "Open and click rate per variant")


def _high(metrics: dict[str, Any]) -> float:
    ci = metrics.get("ci") or {}
    values = [float(metrics.get(k, 0) or 0) for k, _, _ in VARIANT_RATES]
    values += [float(ci[k][1]) for k, _, _ in VARIANT_RATES if ci.get(k)]
    return max(values)
