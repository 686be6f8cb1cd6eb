"""Member days (会员日), the channel's part: a member's tier benefit posted to the shop.

One signed request per member to ``{SHOP_API_URL}/member-benefits`` (Standard Webhooks, with a
``webhook-id`` the caller derives from the delivery, so a retry is idempotent at the shop). What
the benefit is (the coupon code issued once per delivery, the notices on the member's channels,
who is eligible) is campaign logic: :mod:`herald.campaigns.member_days` decides it and hands this
channel a finished :class:`BenefitPost`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from standardwebhooks import Webhook

from herald.channels import http
from herald.channels.base import Outcome, Recipient, RunInfo
from herald.channels.ratelimit import Limiter, limiter_for
from herald.core import clock
from herald.core.settings import Settings


@dataclass(frozen=True)
class BenefitPost:
    """One member's benefit request, ready to sign and post."""

    message_id: str
    payload: Mapping[str, Any]


class MemberDayChannel(http.HttpClient):
    """Tier benefits posted to the shop API."""

    kind: ClassVar[str] = "member_day"
    # the shop knows members by their external id: without one there is no one to credit
    address: ClassVar[str | None] = "external_id"
    consent: ClassVar[str | None] = None  # each notice checks its own channel's consent
    marketing: ClassVar[bool] = False  # a benefit is the member's due, not capped as marketing
    # the webhook-id and the coupon are stable per delivery, so the shop sees a resend as a
    # duplicate
    resend_uncertain: ClassVar[bool] = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check_variant(self, content: Mapping[str, Any]) -> dict[str, str]:
        """Whether the variant has ``benefits`` at all: each tier's offer (a coupon spec) and the
        notices are checked by the campaign (:mod:`herald.campaigns.member_days`)."""
        benefits = content.get("benefits")
        if benefits == "tier_defaults" or (isinstance(benefits, Mapping) and benefits):
            return {}
        return {
            "benefits": 'benefits is required: "tier_defaults" (the tier benefits configured '
            'for each tier) or per tier, e.g. {"gold": {"type": "coupon", "percent_off": 15}}'
        }

    def prepare(self, run: RunInfo) -> RunInfo:
        return run

    def render(self, prepared: RunInfo, recipient: Recipient) -> BenefitPost:
        """The request for one member: ``recipient.context["benefit"]`` is the offer the
        campaign decided (type, code, dates)."""
        member = recipient.context.get("contact") or {}
        payload = {
            "campaign_id": prepared.campaign_id,
            "run_id": prepared.run_id,
            "member": {"external_id": member.get("external_id"), "email": member.get("email")},
            "tier": member.get("tier"),
            "benefit": dict(recipient.context.get("benefit") or {}),
        }
        return BenefitPost(f"herald-md-{prepared.run_id}-{recipient.delivery_id}", payload)

    def unconfigured(self) -> Outcome | None:
        """The permanent failure of every send while the shop API is not configured."""
        if self.settings.shop_api_url and self.settings.shop_api_secret:
            return None
        return Outcome.permanent(
            "the shop API is not configured (HERALD_SHOP_API_URL, HERALD_SHOP_API_SECRET)"
        )

    def send(self, message: BenefitPost) -> Outcome:
        refused = self.unconfigured()
        if refused is not None:
            return refused
        s = self.settings
        if not self.limiter.acquire():
            return Outcome.transient("shop API rate limit: no slot free in time", retry_after=5)
        secret = s.shop_api_secret or ""
        signer = Webhook(secret) if secret.startswith("whsec_") else Webhook(secret.encode())
        body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False)
        now = clock.now()
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message.message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(message.message_id, now, body),
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
            lambda response: Outcome.sent(message.message_id),
            ok_statuses=(200, 201, 202, 204),
        )

    @cached_property
    def limiter(self) -> Limiter:
        """The shop API's rate limit (``HERALD_SHOP_RATE`` requests per second)."""
        return limiter_for(self.settings, "shop")
