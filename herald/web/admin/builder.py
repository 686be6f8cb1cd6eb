"""The guided campaign builder at ``/admin/build/``: channel, audience, content per variant with a
live preview for a chosen member, A/B settings, schedule, review, test send and send.

The page keeps the campaign as the contract's JSON (section 8) and saves it through the same
service functions as the API, so both refuse the same input with the same message; the
service's field names (``variants[1].subject``) are placed next to the matching inputs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import abort, jsonify, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import or_, select

from herald.audiences import segments
from herald.audiences.models import TIERS, Contact, Segment
from herald.campaigns import calendar, preview, service, workspace
from herald.campaigns.models import Campaign, Variant
from herald.core import clock
from herald.core.errors import HeraldError, ValidationError
from herald.web import deps
from herald.web.admin import coupon_form
from herald.web.admin.auth import Protected, can_write, require_write

MAX_VARIANTS = 8
CONTACT_PICKS = 20


def _zones(default: str) -> list[str]:
    """Region/City zones for the pickers, with UTC and the shop's own zone always there."""
    zones = {z for z in available_timezones() if "/" in z and not z.startswith("Etc/")}
    return ["UTC", *sorted(zones | {default} - {"UTC"})]


def once_at(local: Any, zone_name: Any) -> str:
    """A wall-clock time in a zone (what the date-time and zone pickers give) as the ISO instant
    with its offset that the contract stores."""
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"{zone_name!r} is not a time zone", {"schedule.at": "pick a time zone"}
        ) from None
    try:
        wall = datetime.fromisoformat(str(local))
    except ValueError:
        raise ValidationError(
            "pick a date and a time", {"schedule.at": "pick a date and a time"}
        ) from None
    return wall.replace(tzinfo=zone).isoformat()


def campaign_payload(body: Any) -> dict[str, Any]:
    """The builder's JSON as the contract's campaign body: a ``once`` time picked as a local
    time and zone gets its offset; an "everyone" audience must be chosen explicitly."""
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", {"": "must be an object"})
    payload = {k: v for k, v in body.items() if k in service.CAMPAIGN_FIELDS}
    audience = body.get("audience")
    if body.get("channel") != "social":
        if audience in (None, ""):
            raise ValidationError(
                "pick an audience: a segment, or everyone", {"segment_id": "pick an audience"}
            )
        payload["segment_id"] = None if audience == "everyone" else _int(audience, "segment_id")
    variants = payload.get("variants")
    if isinstance(variants, list) and len(variants) > MAX_VARIANTS:
        raise ValidationError(
            f"at most {MAX_VARIANTS} variants", {"variants": f"at most {MAX_VARIANTS}"}
        )
    schedule = payload.get("schedule")
    if isinstance(schedule, dict) and schedule.get("type") == "once" and "local" in schedule:
        payload["schedule"] = {
            "type": "once",
            "at": once_at(schedule.get("local"), schedule.get("zone")),
        }
    return payload


def _with_local(schedule: dict[str, Any] | None, zone: ZoneInfo) -> dict[str, Any]:
    """A stored schedule plus, for a once time, its wall-clock time in the shop's zone (what
    the date-time and zone pickers show)."""
    out = dict(schedule or {"type": "immediate"})
    if out.get("type") == "once" and out.get("at"):
        at = datetime.fromisoformat(str(out["at"])).astimezone(zone)
        out.update(local=at.strftime("%Y-%m-%dT%H:%M"), zone=zone.key)
    return out


def _int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{field} must be a number", {field: "not a number"}) from None


def _problem(exc: HeraldError) -> Any:
    """A problem the page shows at its fields. Answered as 200 with ``ok: false``: the page
    expects it, and Chromium logs every 4xx answer to a fetch as a console error."""
    deps.session().rollback()
    return jsonify(ok=False, error=exc.message, fields=exc.fields or {}, status=exc.status)


def _transient(body: dict[str, Any]) -> Campaign:
    """An unsaved campaign built from checked values, for previews of what is being typed."""
    session = deps.session()
    values = service.clean_campaign(session, body, deps.settings().timezone)
    campaign = Campaign(
        id=body.get("id") or 0, name=values["name"], channel=values["channel"], status="draft"
    )
    campaign.segment_id = values["segment_id"]
    campaign.schedule, campaign.ab_test = values["schedule"], values["ab_test"]
    campaign.variants = [
        Variant(name=v["name"], position=i, content={k: x for k, x in v.items() if k != "name"})
        for i, v in enumerate(values["variants"])
    ]
    return campaign


class BuilderView(Protected, BaseView):
    """``/admin/build/``: the guided flow for a new campaign or a draft."""

    def _campaign(self, campaign_id: int) -> Campaign:
        campaign = deps.session().get(Campaign, campaign_id)
        if campaign is None:
            abort(404)
        return campaign

    @expose("/")
    def index(self) -> Any:
        """A new campaign; ``?date=`` (from the calendar) pre-fills a once time that day."""
        day = request.args.get("date", "")
        try:
            start = date.fromisoformat(day).isoformat() if day else ""
        except ValueError:
            start = ""
        return self._page(None, start)

    @expose("/<int:campaign_id>/")
    def edit(self, campaign_id: int) -> Any:
        """An existing campaign: editable while it is a draft, read-only otherwise."""
        return self._page(self._campaign(campaign_id), "")

    def _page(self, campaign: Campaign | None, start_day: str) -> Any:
        session = deps.session()
        zone = deps.settings().timezone
        state: dict[str, Any] | None = None
        if campaign is not None:
            state = {
                "id": campaign.id,
                "name": campaign.name,
                "channel": campaign.channel,
                "audience": (
                    str(campaign.segment_id) if campaign.segment_id is not None else "everyone"
                ),
                "variants": [{"name": v.name, **v.content} for v in campaign.variants],
                "ab_test": campaign.ab_test,
                "schedule": _with_local(campaign.schedule, zone),
                "status": campaign.status,
            }
        rows = session.execute(select(Segment.id, Segment.name).order_by(Segment.name)).all()
        return self.render(
            "admin/herald/builder.html",
            state=state,
            campaign=campaign,
            segments=[{"id": sid, "name": name} for sid, name in rows],
            zones=_zones(zone.key),
            default_zone=zone.key,
            start_day=start_day,
            tiers=TIERS,
            coupon_kinds=coupon_form.KINDS + coupon_form.TIER_KINDS,
            editable=can_write() and (campaign is None or campaign.status == "draft"),
            urls={
                "save": url_for(".save"),
                "preview": url_for(".preview_view"),
                "audience": url_for(".audience_view"),
                "schedule": url_for(".schedule_view"),
                "contacts": url_for(".contacts_view"),
                "test_send": url_for(".test_send_view", campaign_id=0),
                "send": url_for(".send_view", campaign_id=0),
                "unschedule": url_for(".unschedule_view", campaign_id=0),
                "edit": url_for(".edit", campaign_id=0),
                "detail": url_for("campaigns.detail_view", campaign_id=0),
            },
        )

    @expose("/save.json", methods=("POST",))
    def save(self) -> Any:
        """Create or update the draft; answers its id and the review sentence."""
        require_write()
        session = deps.session()
        body = request.get_json(silent=True)
        zone = deps.settings().timezone
        try:
            payload = campaign_payload(body)
            campaign_id = body.get("id") if isinstance(body, dict) else None
            if campaign_id:
                campaign = service.get_campaign(session, _int(campaign_id, "id"))
                service.update_campaign(session, campaign, payload, zone)
            else:
                campaign = service.create_campaign(session, payload, zone)
            session.commit()
        except HeraldError as exc:
            return _problem(exc)
        return jsonify(
            id=campaign.id,
            status=campaign.status,
            review=workspace.review(session, campaign, zone),
            recipients=workspace.audience_count(session, campaign, zone),
        )

    @expose("/preview.json", methods=("POST",))
    def preview_view(self) -> Any:
        """What is being typed, rendered for a member (nothing is saved)."""
        body = request.get_json(silent=True) or {}
        try:
            payload = campaign_payload(body.get("campaign"))
            payload.setdefault("name", "preview")
            payload["name"] = payload["name"] or "preview"
            campaign = _transient(payload)
            answer = preview.preview(
                deps.session(),
                campaign,
                body.get("contact_id"),
                body.get("variant"),
                deps.settings().timezone,
            )
        except HeraldError as exc:
            return _problem(exc)
        deps.session().rollback()
        return jsonify(answer)

    @expose("/audience.json")
    def audience_view(self) -> Any:
        """The live count of a segment (or everyone)."""
        chosen = request.args.get("segment", "")
        session = deps.session()
        rules = None
        if chosen not in ("", "everyone"):
            segment = session.get(Segment, _int_or_404(chosen))
            if segment is None:
                abort(404)
            rules = segment.rules
        try:
            count = segments.count(session, rules, zone=deps.settings().timezone)
        except ValidationError as exc:
            return _problem(exc)
        return jsonify(count=count)

    @expose("/schedule.json", methods=("POST",))
    def schedule_view(self) -> Any:
        """The next five times a schedule falls due, in the shop's zone and the rule's."""
        body = request.get_json(silent=True) or {}
        zone = deps.settings().timezone
        try:
            schedule = campaign_payload(
                {"channel": "social", "schedule": body.get("schedule")}
            ).get("schedule")
            times = calendar.next_occurrences(schedule, zone, clock.now(), 5)
            if schedule and schedule.get("type") in ("once", "smart"):
                workspace.refuse_past(schedule)
        except HeraldError as exc:
            return _problem(exc)
        return jsonify(
            next=[t.astimezone(zone).strftime("%a %Y-%m-%d %H:%M") for t in times],
            zone=zone.key,
            schedule=schedule,
        )

    @expose("/contacts.json")
    def contacts_view(self) -> Any:
        """Members to preview for: the first matches of ``?q=`` (email, name, external id)."""
        q = (request.args.get("q") or "").strip()[:200]
        query = select(Contact).where(Contact.erased_at.is_(None))
        if q:
            like = f"%{q}%"
            query = query.where(
                or_(
                    Contact.email.ilike(like),
                    Contact.first_name.ilike(like),
                    Contact.external_id.ilike(like),
                )
            )
        rows = deps.session().scalars(query.order_by(Contact.id).limit(CONTACT_PICKS))
        return jsonify(
            items=[
                {
                    "id": c.id,
                    "label": " · ".join(
                        p for p in (c.email or c.phone or c.external_id, c.first_name, c.tier) if p
                    ),
                }
                for c in rows
            ]
        )

    @expose("/<int:campaign_id>/test-send.json", methods=("POST",))
    def test_send_view(self, campaign_id: int) -> Any:
        """Send the saved campaign's rendering once to the marketer's own address."""
        require_write()
        session = deps.session()
        try:
            answer = preview.send_test(
                session, deps.settings(), self._campaign(campaign_id), request.get_json(silent=True)
            )
        except HeraldError as exc:
            return _problem(exc)
        session.rollback()
        return jsonify(answer)

    @expose("/<int:campaign_id>/send.json", methods=("POST",))
    def send_view(self, campaign_id: int) -> Any:
        """Confirmed in the page: send now (an immediate schedule) or arm the schedule."""
        require_write()
        session = deps.session()
        campaign = self._campaign(campaign_id)
        try:
            if (campaign.schedule or {}).get("type", "immediate") == "immediate":
                service.send_now(session, campaign)
            else:
                service.arm(session, campaign, deps.settings().timezone)
            session.commit()
        except HeraldError as exc:
            return _problem(exc)
        return jsonify(id=campaign.id, status=campaign.status)

    @expose("/<int:campaign_id>/unschedule.json", methods=("POST",))
    def unschedule_view(self, campaign_id: int) -> Any:
        """Back to draft, to be edited."""
        require_write()
        session = deps.session()
        try:
            workspace.unschedule(session, self._campaign(campaign_id))
            session.commit()
        except HeraldError as exc:
            return _problem(exc)
        return jsonify(id=campaign_id, status="draft")


def _int_or_404(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        abort(404)
    if not 1 <= number <= 2_147_483_647:
        abort(404)
    return number
