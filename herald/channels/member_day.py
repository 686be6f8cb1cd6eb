"""Member days (会员日): each eligible member's tier benefit posted to the shop, then a notice.

On every occurrence of the campaign's schedule, each member whose tier the variant's ``benefits``
name gets one signed request to ``{SHOP_API_URL}/member-benefits`` (Standard Webhooks:
``webhook-id`` derived from the delivery, so a retry is idempotent at the shop), with a unique
coupon code issued once per delivery (reused on retry) or a points multiplier. Then a notice goes
out on each channel in ``notify`` the member has consented to, through those channels' own
classes from the registry; the notice templates see ``coupon``.

Eligibility is decided at plan time (:meth:`MemberDayChannel.eligible` narrows the audience), so
members of other tiers are not in the run's ledger at all; a member whose tier changed between
plan and send fails with "tier not eligible".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

from sqlalchemy import select
from standardwebhooks import Webhook

from herald.audiences.models import TIERS, Contact, Suppression
from herald.campaigns import coupons
from herald.campaigns.policy import member_zone, quiet_until
from herald.channels import http
from herald.channels.base import Outcome, Recipient, RunInfo
from herald.channels.ratelimit import Limiter, limiter_for
from herald.core import clock
from herald.core.db import Database
from herald.core.settings import Settings

# notice fields of a member-day variant → the fields of the notice channel's own variant
NOTICE_FIELDS: dict[str, dict[str, str]] = {
    "email": {"subject": "subject", "html": "html", "text": "text", "from": "from"},
    "sms": {"sms_body": "body"},
}
BENEFIT_TYPES = ("coupon", "points_multiplier")


@dataclass(frozen=True)
class PreparedMemberDay:
    run: RunInfo
    benefits: Mapping[str, Mapping[str, Any]]
    notices: list[tuple[str, Any, Any]] = field(default_factory=list)  # (kind, channel, prepared)


@dataclass(frozen=True)
class MemberBenefit:
    """One member's benefit hand-off, before the coupon is issued."""

    prepared: PreparedMemberDay
    recipient: Recipient


class MemberDayChannel(http.HttpClient):
    """Tier benefits posted to the shop API, plus notices on the member's channels."""

    kind: ClassVar[str] = "member_day"
    # the shop knows members by their external id: without one there is no one to credit
    address: ClassVar[str | None] = "external_id"
    consent: ClassVar[str | None] = None  # each notice checks its own channel's consent
    marketing: ClassVar[bool] = False  # a benefit is the member's due, not capped as marketing
    # the webhook-id and the coupon are stable per delivery, so the shop sees a resend as a
    # duplicate; a notice may go twice only if a worker died between posting and recording
    resend_uncertain: ClassVar[bool] = True

    # a member who may get an SMS notice gets the whole member-day message after the SMS quiet
    # hours (defer, don't skip); members without SMS consent are not held back
    quiet_consent: ClassVar[str | None] = "sms"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.quiet_hours = getattr(settings, "sms_quiet_hours", None)
        self._db: Database | None = None

    # ------------------------------------------------------------------ save time

    @classmethod
    def eligible(cls, contents: list[Mapping[str, Any]]) -> Any:
        """The audience condition: members whose tier some variant's benefits name."""
        tiers = sorted({tier for c in contents for tier in (c.get("benefits") or {})})
        return Contact.tier.in_(tiers)

    def check_variant(self, content: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        benefits = content.get("benefits")
        if not isinstance(benefits, Mapping) or not benefits:
            problems["benefits"] = 'benefits is required, e.g. {"gold": {"type": "coupon", ...}}'
        else:
            for tier, benefit in benefits.items():
                problem = _benefit_problem(tier, benefit)
                if problem:
                    problems[f"benefits.{tier}"] = problem
        notify = content.get("notify", [])
        if not isinstance(notify, list) or not all(isinstance(k, str) for k in notify):
            problems["notify"] = 'notify must be a list of channels, e.g. ["email", "sms"]'
            return problems
        from herald.channels.registry import CHANNELS

        for kind in notify:
            if kind not in NOTICE_FIELDS or kind not in CHANNELS:
                problems["notify"] = f"cannot notify by {kind!r}; use {', '.join(NOTICE_FIELDS)}"
                continue
            notice = _notice_content(kind, content)
            for name, problem in CHANNELS[kind](self.settings).check_variant(notice).items():
                ours = {v: k for k, v in NOTICE_FIELDS[kind].items()}.get(name, name)
                problems[ours] = f"{kind} notice: {problem}"
        return problems

    # ------------------------------------------------------------------ send time

    def prepare(self, run: RunInfo) -> PreparedMemberDay:
        from herald.channels.registry import channel_for

        notices = []
        for kind in run.content.get("notify") or []:
            channel = channel_for(kind, self.settings)
            info = RunInfo(
                campaign_id=run.campaign_id,
                campaign_name=run.campaign_name,
                run_id=run.run_id,
                variant_id=run.variant_id,
                variant_name=run.variant_name,
                content=_notice_content(kind, run.content),
                started_at=run.started_at,
            )
            notices.append((kind, channel, channel.prepare(info)))
        return PreparedMemberDay(run, dict(run.content.get("benefits") or {}), notices)

    def render(self, prepared: PreparedMemberDay, recipient: Recipient) -> MemberBenefit:
        return MemberBenefit(prepared, recipient)

    def send(self, message: MemberBenefit) -> Outcome:
        run, recipient = message.prepared.run, message.recipient
        member = recipient.context.get("contact") or {}
        benefit = message.prepared.benefits.get(str(member.get("tier")))
        if benefit is None:
            return Outcome.permanent("tier not eligible")
        s = self.settings
        if not (s.shop_api_url and s.shop_api_secret):
            return Outcome.permanent(
                "the shop API is not configured (HERALD_SHOP_API_URL, HERALD_SHOP_API_SECRET)"
            )
        valid_from = run.started_at
        valid_until = valid_from + timedelta(days=int(benefit.get("valid_days", 1)))
        offer: dict[str, Any] = {"type": benefit["type"], "code": None}
        coupon: dict[str, Any] = {}
        if benefit["type"] == "coupon":
            code = self._coupon(run, recipient, int(benefit["percent_off"]), valid_until)
            offer.update(code=code, percent_off=int(benefit["percent_off"]))
            coupon = {
                "code": code,
                "percent_off": int(benefit["percent_off"]),
                "valid_until": valid_until.isoformat(),
            }
        else:
            offer["multiplier"] = benefit["multiplier"]
        offer.update(valid_from=valid_from.isoformat(), valid_until=valid_until.isoformat())
        payload = {
            "campaign_id": run.campaign_id,
            "run_id": run.run_id,
            "member": {"external_id": member.get("external_id"), "email": member.get("email")},
            "tier": member.get("tier"),
            "benefit": offer,
        }
        message_id = f"herald-md-{run.run_id}-{recipient.delivery_id}"
        if not self.limiter.acquire():
            return Outcome.transient("shop API rate limit: no slot free in time", retry_after=5)
        outcome = self._post(message_id, payload)
        if outcome.status != "sent":
            return outcome
        notes = self._notify(message.prepared, recipient, coupon)
        return Outcome("sent", provider_id=message_id, reason="; ".join(["benefit posted", *notes]))

    @cached_property
    def limiter(self) -> Limiter:
        """The shop API's rate limit (``HERALD_SHOP_RATE`` requests per second)."""
        return limiter_for(self.settings, "shop")

    def close(self) -> None:
        super().close()
        if self._db is not None:
            self._db.dispose()
        self._db = None

    # ------------------------------------------------------------------ parts

    def _database(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url)
        return self._db

    def _coupon(
        self, run: RunInfo, recipient: Recipient, percent_off: int, valid_until: datetime
    ) -> str:
        """The delivery's code, issued and committed before the shop hears of it."""
        with self._database().session() as session:
            return coupons.issue(
                session,
                campaign_id=run.campaign_id,
                run_id=run.run_id,
                contact_id=recipient.contact_id,
                delivery_id=recipient.delivery_id,
                percent_off=percent_off,
                valid_from=run.started_at,
                valid_until=valid_until,
            ).code

    def _post(self, message_id: str, payload: Mapping[str, Any]) -> Outcome:
        s = self.settings
        secret = s.shop_api_secret or ""
        signer = Webhook(secret) if secret.startswith("whsec_") else Webhook(secret.encode())
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        now = clock.now()
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(message_id, now, body),
        }
        session = self._session()
        return http.call(
            "the shop API",
            lambda: session.post(
                f"{s.shop_api_url}/member-benefits",
                data=body.encode(),
                headers=headers,
                timeout=(http.CONNECT_TIMEOUT, http.READ_TIMEOUT),
            ),
            lambda response: Outcome.sent(message_id),
            ok_statuses=(200, 201, 202, 204),
        )

    def _notify(
        self, prepared: PreparedMemberDay, recipient: Recipient, coupon: Mapping[str, Any]
    ) -> list[str]:
        """Send each notice the member may get; one readable note per channel."""
        if not prepared.notices:
            return []
        with self._database().session() as session:
            contact = session.get(Contact, recipient.contact_id)
            if contact is None:
                return ["notices: member gone"]
            consented = {kind: contact.consent_for(kind) for kind, _, _ in prepared.notices}
            addresses = {
                kind: getattr(contact, channel.address) for kind, channel, _ in prepared.notices
            }
            suppressed = {
                kind
                for kind, address in addresses.items()
                if address
                and session.scalar(
                    select(Suppression.id).where(
                        Suppression.channel == kind, Suppression.address == address
                    )
                )
            }
            zone = member_zone(contact.timezone, self.settings.timezone)
        context = {**recipient.context, "coupon": dict(coupon)}
        notice_recipient = Recipient(
            contact_id=recipient.contact_id,
            delivery_id=recipient.delivery_id,
            email=recipient.email,
            phone=recipient.phone,
            context=context,
            tokens=recipient.tokens,
        )
        notes = []
        for kind, channel, notice in prepared.notices:
            hours = getattr(channel, "quiet_hours", None)
            if not addresses[kind]:
                notes.append(f"{kind} notice: no {channel.address}")
            elif kind in suppressed:
                notes.append(f"{kind} notice: suppressed")
            elif not consented[kind]:
                notes.append(f"{kind} notice: no consent")
            elif hours and quiet_until(clock.now(), hours, zone) is not None:
                notes.append(f"{kind} notice: not sent in quiet hours")
            else:
                try:
                    outcome = channel.send(channel.render(notice, notice_recipient))
                except Exception as exc:  # a notice must not undo a benefit already posted
                    outcome = Outcome.permanent(f"template error: {exc}")
                notes.append(
                    f"{kind} notice sent"
                    if outcome.status == "sent"
                    else f"{kind} notice failed: {outcome.reason}"
                )
        return notes


def _notice_content(kind: str, content: Mapping[str, Any]) -> dict[str, Any]:
    return {
        theirs: content[ours] for ours, theirs in NOTICE_FIELDS[kind].items() if ours in content
    }


def _benefit_problem(tier: Any, benefit: Any) -> str | None:
    if tier not in TIERS:
        return f"{tier!r} is not a tier ({', '.join(TIERS)})"
    if not isinstance(benefit, Mapping) or benefit.get("type") not in BENEFIT_TYPES:
        return f"type must be one of {', '.join(BENEFIT_TYPES)}"
    days = benefit.get("valid_days", 1)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
        return "valid_days must be a whole number from 1 to 366"
    if benefit["type"] == "coupon":
        percent = benefit.get("percent_off")
        if not isinstance(percent, int) or isinstance(percent, bool) or not 1 <= percent <= 100:
            return "percent_off must be a whole number from 1 to 100"
    else:
        multiplier = benefit.get("multiplier")
        if not isinstance(multiplier, int | float) or isinstance(multiplier, bool):
            return "multiplier must be a number greater than 1"
        if not 1 < multiplier <= 100:
            return "multiplier must be a number greater than 1 (at most 100)"
    return None
