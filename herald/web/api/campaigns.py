"""Campaigns: create, read, move through statuses, stats."""

from __future__ import annotations

from typing import Any

from herald.campaigns import metrics, service
from herald.campaigns.models import Campaign
from herald.web import deps
from herald.web.api import json_body, operation
from herald.web.api.schemas import CAMPAIGN, CAMPAIGN_IN, STATS

ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def campaign_dict(campaign: Campaign) -> dict[str, Any]:
    """The API shape of a campaign."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "channel": campaign.channel,
        "segment_id": campaign.segment_id,
        "promotion_id": campaign.promotion_id,
        "status": campaign.status,
        "pause_reason": campaign.pause_reason,
        "schedule": campaign.schedule,
        "ab_test": campaign.ab_test,
        "next_run_at": campaign.next_run_at.isoformat() if campaign.next_run_at else None,
        "variants": [{"name": v.name, **v.content} for v in campaign.variants],
        "created_at": campaign.created_at.isoformat() if campaign.created_at else None,
    }


@operation(
    "POST",
    "/campaigns",
    "Create a campaign as a draft (never starts it)",
    request_schema=CAMPAIGN_IN,
    response_schema=CAMPAIGN,
    status=201,
    write=True,
)
def create_campaign() -> Any:
    session = deps.session()
    campaign = service.create_campaign(session, json_body(), deps.settings().timezone)
    session.commit()
    return campaign_dict(campaign)


@operation(
    "PATCH",
    "/campaigns/{id}",
    "Change a draft (fields given replace the stored ones)",
    request_schema={**CAMPAIGN_IN, "required": []},
    response_schema=CAMPAIGN,
    write=True,
    parameters=ID,
)
def patch_campaign(id: int) -> Any:
    session = deps.session()
    campaign = service.get_campaign(session, id)
    service.update_campaign(session, campaign, json_body(), deps.settings().timezone)
    session.commit()
    return campaign_dict(campaign)


@operation("GET", "/campaigns/{id}", "Read a campaign", response_schema=CAMPAIGN, parameters=ID)
def get_campaign(id: int) -> Any:
    return campaign_dict(service.get_campaign(deps.session(), id))


def _action(name: str, summary: str, fn: Any) -> None:
    def handler(id: int) -> Any:
        session = deps.session()
        campaign = service.get_campaign(session, id)
        fn(session, campaign)
        session.commit()
        return campaign_dict(campaign)

    handler.__name__ = f"campaign_{name.replace('-', '_')}"
    operation(
        "POST",
        f"/campaigns/{{id}}/{name}",
        summary,
        response_schema=CAMPAIGN,
        write=True,
        parameters=ID,
    )(handler)


_action(
    "schedule",
    "Arm the stored schedule",
    lambda s, c: service.arm(s, c, deps.settings().timezone),
)
_action("send-now", "Send at once", service.send_now)
_action("pause", "Pause sending", service.pause)
_action("resume", "Resume a paused campaign", service.resume)
_action("cancel", "Cancel the campaign", service.cancel)
_action(
    "resend-uncertain",
    "Hand off again the deliveries left uncertain by a worker crash",
    service.resend_uncertain,
)


@operation("GET", "/campaigns/{id}/stats", "Campaign metrics", response_schema=STATS, parameters=ID)
def campaign_stats(id: int) -> Any:
    session = deps.session()
    return metrics.campaign_stats(session, service.get_campaign(session, id))
