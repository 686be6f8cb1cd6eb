"""Member days (会员日), the campaign's part: who is eligible, which benefit, the coupon, notices.

On every occurrence of the campaign's schedule, each member whose tier the variant's ``benefits``
name gets one benefit, posted to the shop by :class:`~herald.channels.member_day.MemberDayChannel`
with a unique coupon code issued once per delivery (reused on retry) or a points multiplier. Then
a notice goes out on each channel in ``notify`` the member has consented to, through those
channels' own classes; the notice templates see ``coupon``.

Eligibility is decided at plan time (:meth:`MemberDaySender.eligible` narrows the audience), so
members of other tiers are not in the run's ledger at all; a member whose tier changed between
plan and send fails with "tier not eligible".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.audiences.models import Contact, Suppression
from herald.campaigns import coupon_specs, coupons, tier_benefits
from herald.campaigns.policy import quiet_until
from herald.channels.base import Outcome, Recipient, RunInfo
from herald.channels.member_day import BenefitPost, MemberDayChannel
from herald.channels.registry import CHANNELS, channel_for
from herald.core import clock
from herald.core.db import Database
from herald.core.errors import ValidationError
from herald.core.settings import Settings
from herald.core.tiers import TIERS

# a variant's ``benefits`` may be this, and a tier's benefit "tier_default": the member-day
# coupon configured for the tier (herald.campaigns.tier_benefits)
TIER_DEFAULTS = "tier_defaults"
TIER_DEFAULT = "tier_default"
# the offer's fields the shop is told, besides type, code and the validity window
OFFER_FIELDS = ("percent_off", "amount_off", "min_spend", "sku", "multiplier")

# notice fields of a member-day variant → the fields of the notice channel's own variant
NOTICE_FIELDS: dict[str, dict[str, str]] = {
    "email": {"subject": "subject", "html": "html", "text": "text", "from": "from"},
    "sms": {"sms_body": "body"},
}


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


class MemberDaySender:
    """What the ledger hands member-day deliveries to: it decides the benefit and issues the
    coupon, has the channel post it, then sends the notices. It has a channel's interface."""

    kind: ClassVar[str] = MemberDayChannel.kind
    address: ClassVar[str | None] = MemberDayChannel.address
    consent: ClassVar[str | None] = MemberDayChannel.consent
    marketing: ClassVar[bool] = MemberDayChannel.marketing
    # a notice may go twice only if a worker died between posting and recording
    resend_uncertain: ClassVar[bool] = MemberDayChannel.resend_uncertain
    # a member who may get an SMS notice gets the whole member-day message after the SMS quiet
    # hours (defer, don't skip); members without SMS consent are not held back
    quiet_consent: ClassVar[str | None] = "sms"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.quiet_hours = getattr(settings, "sms_quiet_hours", None)
        self.channel = MemberDayChannel(settings)
        self._db: Database | None = None

    # ------------------------------------------------------------------ save time

    @classmethod
    def eligible(cls, contents: list[Mapping[str, Any]], session: Session | None = None) -> Any:
        """The audience condition: members whose tier some variant's benefits name (with
        ``tier_defaults``, the tiers a member-day benefit is configured for)."""
        configured = tier_benefits.all_benefits(session) if session is not None else {}
        tiers = sorted(
            {tier for c in contents for tier in resolve_benefits(c.get("benefits"), configured)}
        )
        return Contact.tier.in_(tiers)

    def check_variant(self, content: Mapping[str, Any]) -> dict[str, str]:
        problems = self.channel.check_variant(content)
        benefits = content.get("benefits")
        if isinstance(benefits, Mapping):
            for tier, benefit in benefits.items():
                problem = benefit_problem(tier, benefit)
                if problem:
                    problems[f"benefits.{tier}"] = problem
        notify = content.get("notify", [])
        if not isinstance(notify, list) or not all(isinstance(k, str) for k in notify):
            problems["notify"] = 'notify must be a list of channels, e.g. ["email", "sms"]'
            return problems
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
        notices = []
        for kind in run.content.get("notify") or []:
            channel = channel_for(kind, self.settings)
            info = replace(run, content=_notice_content(kind, run.content))
            notices.append((kind, channel, channel.prepare(info)))
        with self._database().session() as session:
            configured = tier_benefits.all_benefits(session)
        benefits = resolve_benefits(run.content.get("benefits"), configured)
        return PreparedMemberDay(run, benefits, notices)

    def render(self, prepared: PreparedMemberDay, recipient: Recipient) -> MemberBenefit:
        return MemberBenefit(prepared, recipient)

    def send(self, message: MemberBenefit) -> Outcome:
        run, recipient = message.prepared.run, message.recipient
        member = recipient.context.get("contact") or {}
        benefit = message.prepared.benefits.get(str(member.get("tier")))
        if benefit is None:
            return Outcome.permanent("tier not eligible")
        refused = self.channel.unconfigured()  # before a coupon is issued for nothing
        if refused is not None:
            return refused
        valid_from, valid_until = coupon_specs.validity(benefit, run.started_at)
        offer: dict[str, Any] = {"type": benefit["type"], "code": None}
        offer.update({k: benefit[k] for k in OFFER_FIELDS if benefit.get(k) is not None})
        coupon: dict[str, Any]
        if benefit["type"] == "points_multiplier":  # credited by the shop, no code to type
            coupon = coupon_specs.template_view({**offer, "valid_until": valid_until})
        else:
            issued = self._coupon(run, recipient, benefit, valid_until)
            offer["code"] = issued.code
            coupon = issued.offer()
        offer.update(valid_from=valid_from.isoformat(), valid_until=valid_until.isoformat())
        post: BenefitPost = self.channel.render(
            run, replace(recipient, context={**recipient.context, "benefit": offer})
        )
        outcome = self.channel.send(post)
        if outcome.status != "sent":
            return outcome
        notes = self._notify(message.prepared, recipient, coupon)
        return Outcome(
            "sent", provider_id=post.message_id, reason="; ".join(["benefit posted", *notes])
        )

    def close(self) -> None:
        self.channel.close()
        if self._db is not None:
            self._db.dispose()
        self._db = None

    # ------------------------------------------------------------------ parts

    def _database(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url)
        return self._db

    def _coupon(
        self, run: RunInfo, recipient: Recipient, benefit: Mapping[str, Any], valid_until: Any
    ) -> coupons.Coupon:
        """The delivery's coupon, issued and committed before the shop hears of it."""
        with self._database().session() as session:
            issued = coupons.issue(
                session,
                campaign_id=run.campaign_id,
                run_id=run.run_id,
                contact_id=recipient.contact_id,
                delivery_id=recipient.delivery_id,
                valid_from=run.started_at,
                valid_until=valid_until,
                offer=benefit,
            )
            session.flush()
            session.expunge(issued)
            return issued

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
            zone = clock.member_zone(contact.timezone, self.settings.timezone)
        notice_recipient = replace(recipient, context={**recipient.context, "coupon": dict(coupon)})
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


def resolve_benefits(
    benefits: Any, configured: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """A variant's ``benefits`` as tier → coupon spec: ``"tier_defaults"`` is every tier's
    configured member-day benefit (tiers without one are not eligible), a tier's
    ``"tier_default"`` that tier's; explicit specs are kept as written."""
    if benefits == TIER_DEFAULTS:
        picked = {tier: (configured.get(tier) or {}).get("member_day") for tier in TIERS}
    elif isinstance(benefits, Mapping):
        picked = {
            tier: (configured.get(tier) or {}).get("member_day")
            if benefit in (TIER_DEFAULT, {"tier_benefit": "member_day"})
            else benefit
            for tier, benefit in benefits.items()
        }
    else:
        return {}
    if not configured:  # save time, no database: every tier named stays (checked elsewhere)
        return {tier: dict(b) if isinstance(b, Mapping) else {} for tier, b in picked.items()}
    return {tier: dict(b) for tier, b in picked.items() if isinstance(b, Mapping) and b}


def benefit_problem(tier: Any, benefit: Any) -> str | None:
    """What is wrong with one tier's benefit, in a marketer's words, or ``None``."""
    if tier not in TIERS:
        return f"{tier!r} is not a tier ({', '.join(TIERS)})"
    if benefit in (TIER_DEFAULT, {"tier_benefit": "member_day"}):
        return None
    try:
        coupon_specs.check(benefit, f"benefits.{tier}", default_days=1, tier_benefit=False)
    except ValidationError as exc:
        return next(iter(exc.fields.values()))
    return None
