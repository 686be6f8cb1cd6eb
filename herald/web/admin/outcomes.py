"""How a campaign's rows ended, where campaigns are listed and shown: a status badge that says
how many rows failed, were skipped or cancelled, and why."""

from __future__ import annotations

from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from herald.campaigns import results
from herald.campaigns.models import Campaign
from herald.web import deps


def not_sent(campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's rows that did not go out, grouped by status and reason."""
    session = deps.session()
    return results.not_sent(session, results.run_ids(session, campaign_id))


def status_cell(view: Any, context: Any, model: Campaign, name: str) -> Markup:
    """The campaign list's status column: the badge, then e.g. "3 failed · 2 skipped" with the
    reasons in the tooltip."""
    badge = (
        f'<span class="badge status status-{escape(model.status)}">{escape(model.status)}</span>'
    )
    rows = not_sent(model.id)
    if not rows:
        return Markup(badge)
    counts = results.not_sent_counts(rows)
    reasons = "; ".join(f"{r['count']} {r['status']}: {r['reason']}" for r in rows[:5])
    summary = " · ".join(f"{n} {status}" for status, n in counts.items())
    return Markup(
        f'{badge} <span class="small text-muted not-sent" title="{escape(reasons)}">'
        f"{escape(summary)}</span>"
    )


def init_app(app: Flask) -> None:
    """Let templates ask for a campaign's unsent rows (``campaign_not_sent(id)``)."""
    app.jinja_env.globals["campaign_not_sent"] = not_sent
