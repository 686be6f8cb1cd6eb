"""A campaign's results in the admin (``/admin/results/<id>/``): the funnel with revenue, opens and
clicks over the first 72 hours, the variants side by side with the A/B decision in a sentence,
top links, bounces and complaints, and the rows that did not go out with their reasons."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_admin import BaseView, expose

from herald.campaigns import metrics, results
from herald.campaigns.models import Campaign
from herald.web import deps
from herald.web.admin import charts
from herald.web.admin.auth import Protected

REASONS = {
    "significant": "it did better than the others at the chosen confidence",
    "fallback": "no variant did better at the chosen confidence, so the fallback went out",
    "too_few": "too few people received each variant to tell, so the fallback went out",
    "srm": "the variants reached groups of unexpected sizes (a sample ratio mismatch), so the "
    "fallback went out and no winner is claimed",
}
METRIC_NAMES = {
    "open_rate": "open rate",
    "click_rate": "click rate",
    "conversion_rate": "conversion rate",
    "revenue": "revenue per recipient",
}


def decision_sentence(campaign: Campaign, stats: dict[str, Any]) -> str | None:
    """The A/B outcome in words; None for a campaign without an A/B test."""
    ab = campaign.ab_test or {}
    if not ab:
        return None
    decision = stats.get("decision") or {}
    if decision.get("sentence"):
        return str(decision["sentence"])
    metric = METRIC_NAMES.get(ab.get("metric", ""), ab.get("metric", "the metric"))
    if not decision:
        hours = ab.get("decide_after_hours", "?")
        return (
            f"Testing on {ab.get('test_fraction', 0):.0%} of the audience; the winner by "
            f"{metric} is chosen {hours} hours after the test send starts."
        )
    winner = decision.get("winner")
    reason = decision.get("reason", "")
    confidence = float(decision.get("confidence", ab.get("confidence", 0.95)))
    why = REASONS.get(reason, reason)
    if reason == "significant":
        return f"Variant {winner} won on {metric} at {confidence:.0%} confidence: {why}."
    return f"Variant {winner} went to the rest of the audience: {why} ({metric})."


def _tone(status: str, not_sent: dict[str, int]) -> str:
    """The colour of the campaign's bar: red when it failed, amber when rows failed."""
    if status == "failed":
        return "danger"
    if not_sent.get("failed"):
        return "warning"
    return "success"


class ResultsView(Protected, BaseView):
    """``/admin/results/<campaign id>/``, linked from each campaign's page."""

    def is_visible(self) -> bool:
        return False  # reached from a campaign, not from the menu

    @expose("/")
    def index(self) -> Any:
        abort(404)

    @expose("/<int:campaign_id>/")
    def campaign_view(self, campaign_id: int) -> Any:
        """One campaign's results, all read from the metrics module and the ledger."""
        session = deps.session()
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            abort(404, description=f"there is no campaign #{campaign_id}")
        stats = metrics.campaign_stats(session, campaign)
        ids = results.run_ids(session, campaign.id)
        not_sent = results.not_sent(session, ids)
        counts = results.not_sent_counts(not_sent)
        curve = results.engagement_curve(session, ids)
        variants = stats["variants"]
        return self.render(
            "admin/herald/results.html",
            campaign=campaign,
            stats=stats,
            total=stats["total"],
            not_sent=not_sent,
            not_sent_counts=counts,
            tone=_tone(campaign.status, counts),
            sentence=decision_sentence(campaign, stats),
            top_links=results.top_links(session, ids),
            funnel=charts.funnel_chart(stats["total"]),
            curve=charts.curve_chart(curve) if any(curve["opens"] + curve["clicks"]) else None,
            variants_chart=charts.variants_chart(variants) if len(variants) > 1 else None,
        )
