"""What the marketer's workspace reads and does besides editing: a campaign's preview for a
member, a test send, unscheduling back to draft, and the calendar (contract section 12)."""

from __future__ import annotations

from typing import Any

from flask import request

from herald.campaigns import calendar, preview, service, workspace
from herald.web import deps
from herald.web.api import json_body, operation
from herald.web.api.campaigns import ID, campaign_dict
from herald.web.api.schemas import CAMPAIGN


@operation(
    "GET",
    "/campaigns/{id}/preview",
    "The first (or ?variant=) variant rendered for ?contact_id=, as it would be sent",
    response_schema={"type": "object"},
    parameters=[
        *ID,
        {"name": "contact_id", "in": "query", "schema": {"type": "integer"}},
        {"name": "variant", "in": "query", "schema": {"type": "string"}},
    ],
)
def campaign_preview(id: int) -> Any:
    session = deps.session()
    campaign = service.get_campaign(session, id)
    return preview.preview(
        session,
        campaign,
        request.args.get("contact_id"),
        request.args.get("variant"),
        deps.settings().timezone,
    )


@operation(
    "POST",
    "/campaigns/{id}/test-send",
    "Send the rendering once to an address; nothing is recorded in the ledger or stats",
    request_schema={
        "type": "object",
        "required": ["to"],
        "properties": {
            "to": {"type": "string"},
            "contact_id": {"type": "integer"},
            "variant": {"type": "string"},
        },
    },
    response_schema={"type": "object"},
    write=True,
    parameters=ID,
)
def campaign_test_send(id: int) -> Any:
    session = deps.session()
    campaign = service.get_campaign(session, id)
    answer = preview.send_test(session, deps.settings(), campaign, json_body())
    session.rollback()  # a test send changes nothing
    return answer


@operation(
    "POST",
    "/campaigns/{id}/unschedule",
    "Take a scheduled campaign that has not started back to draft",
    response_schema=CAMPAIGN,
    write=True,
    parameters=ID,
)
def campaign_unschedule(id: int) -> Any:
    session = deps.session()
    campaign = service.get_campaign(session, id)
    workspace.unschedule(session, campaign)
    session.commit()
    return campaign_dict(campaign)


@operation(
    "GET",
    "/calendar",
    "Every scheduled send between ?from= and ?to= (dates in HERALD_TIMEZONE, both included), "
    "and promotions as spans (kind promotion: starts_at, ends_at, first_day, last_day, "
    "campaign_ids)",
    response_schema={"type": "object"},
    parameters=[
        {"name": "from", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "to", "in": "query", "required": True, "schema": {"type": "string"}},
    ],
)
def get_calendar() -> Any:
    start, end = calendar.parse_window(request.args.get("from"), request.args.get("to"))
    items = calendar.calendar(deps.session(), start, end, deps.settings().timezone)
    return {"items": items}
