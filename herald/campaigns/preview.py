"""A campaign's message rendered for one member, as it would be sent, and test sends of it
(contract section 12). Previews carry no tracking: viewing one never counts as an open or a
click, and a test send writes nothing to the ledger or the stats."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from jinja2.exceptions import TemplateError
from sqlalchemy.orm import Session

from herald.audiences.models import Contact
from herald.campaigns import coupon_specs, tier_benefits
from herald.campaigns.context import contact_context as full
from herald.campaigns.context import member_zone, moment_context, promotion_snapshot
from herald.campaigns.member_days import resolve_benefits
from herald.campaigns.models import Campaign, Variant
from herald.channels.base import Outcome
from herald.channels.email import EmailChannel, OutgoingEmail
from herald.channels.sms import OutgoingSms, SmsChannel, segments
from herald.core import clock
from herald.core.errors import NotFound, ValidationError
from herald.core.settings import Settings
from herald.templating import render as templates
from herald.templating.checks import sample_promotion
from herald.templating.problems import TemplateProblem

_TEXT = ParserConfig(display_links=True)
MAX_ADDRESS = 320
# what a link to the unsubscribe page shows in a preview: a real one would be a token
UNSUBSCRIBE_PLACEHOLDER = "#unsubscribe"


def contact_context(contact: Contact | None) -> dict[str, Any]:
    """What templates see as ``contact``; an empty mapping renders every field empty (a field
    the member lacks renders empty too: :func:`herald.templating.render.member_view`)."""
    return {} if contact is None else full(contact)


def _variant(campaign: Campaign, name: str | None) -> tuple[int, Variant]:
    if not campaign.variants:
        raise ValidationError("the campaign has no variants", {"variants": "required"})
    if name is None:
        return 0, campaign.variants[0]
    for index, variant in enumerate(campaign.variants):
        if variant.name == name:
            return index, variant
    names = ", ".join(v.name for v in campaign.variants)
    raise ValidationError(
        f"variant {name!r} does not exist (this campaign has {names})", {"variant": "no such"}
    )


def _contact(session: Session, contact_id: Any) -> Contact | None:
    if contact_id is None or contact_id == "":
        return None
    try:
        number = int(contact_id)
    except (TypeError, ValueError):
        raise ValidationError(
            "contact_id must be a whole number", {"contact_id": "not an id"}
        ) from None
    contact = session.get(Contact, number) if 1 <= number <= 2_147_483_647 else None
    if contact is None or contact.erased_at is not None:
        raise NotFound(f"contact {contact_id} does not exist")
    return contact


class _Renderer:
    """Renders one variant's template fields, turning failures into the contract's 422."""

    def __init__(self, campaign: Campaign, index: int, variant: Variant, context: Mapping) -> None:
        self.campaign, self.index, self.variant, self.context = campaign, index, variant, context

    def field(self, name: str, source: Any, *, html: bool = False) -> str:
        where = f"variants[{self.index}].{name}"
        if not source:
            return ""
        try:
            template = templates.compile_template(name, str(source), html=html)
            return templates.render(template, self.context)
        except TemplateProblem as exc:
            message = f"variant {self.variant.name}: {exc}"
        except TemplateError as exc:
            message = f"variant {self.variant.name}: {name}: {exc.message or type(exc).__name__}"
        except Exception as exc:  # data the member has that the template cannot handle
            message = f"variant {self.variant.name}: {name}: {type(exc).__name__}: {exc}"
        raise ValidationError(message, {where: message})


def preview(
    session: Session,
    campaign: Campaign,
    contact_id: Any = None,
    variant_name: str | None = None,
    zone: ZoneInfo | None = None,
) -> dict[str, Any]:
    """The variant rendered for the contact (values it lacks render empty), by channel: email
    ``{subject, html, text}``, sms ``{body, segments, encoding}``, social ``{status,
    characters}``, member_day ``{benefit, notice}``. Templates see the campaign's promotion (a
    sample one, named so, when it has none) and ``now``, in the member's zone (``zone``, the
    shop's, for a member without one)."""
    contact = _contact(session, contact_id)
    index, variant = _variant(campaign, variant_name)
    local = member_zone(contact, zone or ZoneInfo("UTC"))
    now = clock.now()
    promotion = promotion_snapshot(session, campaign.promotion_id) or sample_promotion(now)
    configured = tier_benefits.all_benefits(session)
    tier = contact.tier if contact else None
    context = {
        "contact": contact_context(contact),
        "campaign": {"id": campaign.id, "name": campaign.name},
        "coupon": sample_coupon((variant.content or {}).get("coupon"), tier, configured),
        "tier": tier_benefits.template_view(tier, configured),
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
        "event": {},
        **moment_context(promotion, local, now),
    }
    out = _Renderer(campaign, index, variant, context)
    content = variant.content or {}
    answer: dict[str, Any] = {
        "variant": variant.name,
        "contact_id": contact.id if contact else None,
        "promotion": {"id": promotion["id"] or None, "name": promotion["name"]},
    }
    if campaign.channel == "email":
        answer.update(_email(out, content))
    elif campaign.channel == "sms":
        answer.update(_sms(out.field("body", content.get("body")).strip()))
    elif campaign.channel == "social":
        status = out.field("status", content.get("status")).strip()
        answer.update(status=status, characters=len(status))
    elif campaign.channel == "member_day":
        benefits = resolve_benefits(content.get("benefits"), configured)
        if tier in benefits:
            context["coupon"] = sample_coupon(benefits[tier], tier, configured)
        notice: dict[str, Any] = {}
        if "email" in (content.get("notify") or []):
            notice["email"] = _email(out, content)
        if "sms" in (content.get("notify") or []):
            notice["sms"] = _sms(out.field("sms_body", content.get("sms_body")).strip())
        answer.update(
            benefit=benefits.get(tier) if tier else None, benefits=benefits, notice=notice
        )
    return answer


def sample_coupon(
    spec: Any, tier: str | None, configured: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """What a preview shows as ``coupon``: the offer with the sample code ``SAMPLE-CODE``
    (nothing is issued); empty without a coupon, or when the member's tier has no such benefit."""
    if not isinstance(spec, Mapping):
        return {}
    offer = tier_benefits.resolve(spec, tier or "new", configured)
    return coupon_specs.sample(offer, clock.now()) if offer else {}


def _email(out: _Renderer, content: Mapping[str, Any]) -> dict[str, Any]:
    subject = " ".join(out.field("subject", content.get("subject")).split())
    html = out.field("html", content.get("html"), html=True) or None
    text = out.field("text", content.get("text"))
    if not text and html:
        text = get_text(html, _TEXT).strip() + "\n"
    return {"subject": subject, "html": html, "text": text}


def _sms(body: str) -> dict[str, Any]:
    encoding, count = segments(body)
    # the contract's names: "gsm7" or "ucs2"
    return {"body": body, "segments": count, "encoding": encoding.lower().replace("-", "")}


def send_test(
    session: Session, settings: Settings, campaign: Campaign, body: Any
) -> dict[str, Any]:
    """Send the preview of ``body["contact_id"]`` (and ``variant``) once to ``body["to"]``
    through the campaign's channel. Nothing is written to the ledger, the stats or the
    campaign's status; returns ``{to, channel, status, reason}``."""
    if not isinstance(body, Mapping):
        raise ValidationError("the body must be a JSON object", {"": "must be an object"})
    to = body.get("to")
    if not isinstance(to, str) or not to.strip() or len(to) > MAX_ADDRESS:
        raise ValidationError(
            "to must be your email address or phone number", {"to": "an address is required"}
        )
    to = to.strip()
    variant = body.get("variant")
    if variant is not None and not isinstance(variant, str):
        raise ValidationError("variant must be a variant's name", {"variant": "must be text"})
    rendered = preview(session, campaign, body.get("contact_id"), variant, settings.timezone)
    kind = campaign.channel
    if kind == "member_day":
        notice = rendered["notice"]
        kind = "email" if "@" in to else "sms"
        if kind not in notice:
            raise ValidationError(
                f"this member day sends no {kind} notice to test", {"to": f"no {kind} notice"}
            )
        rendered = notice[kind]
    if kind == "email":
        outcome = _send_email(settings, rendered, to, campaign)
    elif kind == "sms":
        outcome = _send_sms(settings, rendered["body"], to)
    else:
        raise ValidationError(
            "a social post has no test send: it would be published; check it in the preview",
            {"to": "not for social posts"},
        )
    if outcome.status != "sent":
        raise ValidationError(
            f"the test message was not accepted: {outcome.reason}", {"to": str(outcome.reason)}
        )
    return {"to": to, "channel": kind, "status": "sent", "provider_id": outcome.provider_id}


def _send_email(
    settings: Settings, rendered: Mapping[str, Any], to: str, campaign: Campaign
) -> Outcome:
    if "@" not in to or any(ch.isspace() for ch in to) or not to.isascii():
        raise ValidationError(f"{to!r} is not an email address", {"to": "not an email address"})
    content = (campaign.variants[0].content or {}) if campaign.variants else {}
    sender = " ".join(str(content.get("from") or settings.mail_from).split())
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr(("", to))
    message["Subject"] = rendered["subject"] or "(no subject)"
    message["Message-ID"] = make_msgid("herald-test")
    message["X-Herald-Test"] = "yes"
    # quoted-printable keeps every line within SMTP's limit, however long the HTML's lines
    message.set_content(rendered.get("text") or "", cte="quoted-printable")
    if rendered.get("html"):
        message.add_alternative(rendered["html"], subtype="html", cte="quoted-printable")
    channel = EmailChannel(settings)
    try:
        envelope_from = getaddresses([sender])[0][1] or sender
        # SMTP lines end in CRLF, and the bytes go over DATA as they are
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        return channel.send(OutgoingEmail(data, envelope_from, to, message["Message-ID"]))
    finally:
        channel.close()


def _send_sms(settings: Settings, body: str, to: str) -> Outcome:
    channel = SmsChannel(settings)
    number, problem = channel.e164(to)
    if problem is not None:
        raise ValidationError(f"{to!r} is not a phone number", {"to": problem})
    if not body:
        raise ValidationError("the message rendered empty", {"to": "empty message"})
    try:
        return channel.send(OutgoingSms(to=number or "", body=body))
    finally:
        channel.close()
