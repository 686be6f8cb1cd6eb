"""The weekly report's charts say what they show: a week without revenue is "no revenue", not an
axis from −0.06 to 0.06."""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.figure import Figure

from herald.reports import charts


def _report(revenue: float, previous: float) -> dict[str, Any]:
    metrics = {"revenue": revenue, "sent": 10, "unique_opens": 4, "unique_clicks": 2}
    change = {"revenue": {"previous": previous}}
    return {
        "week": "2026-W46",
        "campaigns": [
            {"name": "Gold week", "kind": "campaign", "metrics": metrics, "change": change}
        ],
    }


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the charts hand to the PNG writer."""
    figures: list[Figure] = []
    monkeypatch.setattr(charts, "_png", lambda figure: figures.append(figure) or b"png")
    return figures


def _texts(figure: Figure) -> list[str]:
    return [t.get_text() for axes in figure.axes for t in axes.texts]


def test_a_week_without_revenue_says_so(drawn: list[Figure]) -> None:
    charts.revenue_chart(_report(0, 0))
    (figure,) = drawn
    assert "No revenue this week or the week before" in _texts(figure)
    assert not figure.axes[0].axison  # no axis around nothing


def test_a_week_with_revenue_draws_its_bars(drawn: list[Figure]) -> None:
    charts.revenue_chart(_report(120.5, 0))
    (figure,) = drawn
    assert not any("No revenue" in t for t in _texts(figure))
    low, high = figure.axes[0].get_xlim()
    assert low == 0 and high > 120
