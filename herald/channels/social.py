"""A post on the shop's social account through a Mastodon-compatible API (contract section 6).

One post per campaign run, not per contact: ``per_run = True`` tells dispatch to plan no ledger
rows for the run and to call :meth:`SocialChannel.post` once (see herald/campaigns/posts.py).
The ``Idempotency-Key`` is derived from the run, so a retry, a duplicate task or a hand-off
resent after a worker died never posts twice.

Links in the text are posted as written: click tracking tokens name a delivery, and a post has
none; run-level click tokens would be the seam to add for tracked links.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import requests

from herald.channels import http
from herald.channels.base import Outcome, Recipient, RunInfo
from herald.channels.ratelimit import Limiter, limiter_for
from herald.core.settings import Settings
from herald.templating import render as templates
from herald.templating.checks import check_templates

TEMPLATE_FIELDS = {"status": False}
VISIBILITIES = ("public", "unlisted", "private", "direct")
MAX_STATUS = 500  # Mastodon's default limit, in characters
ENGAGEMENT = ("favourites_count", "reblogs_count", "replies_count")


@dataclass(frozen=True)
class PostOutcome(Outcome):
    """An outcome that also carries the post's public URL."""

    url: str | None = None


@dataclass(frozen=True)
class PreparedPost:
    run: RunInfo
    status: Any
    visibility: str


@dataclass(frozen=True)
class OutgoingPost:
    text: str
    visibility: str
    idempotency_key: str
    problem: str | None = None


class SocialChannel(http.HttpClient):
    """One status per run on a Mastodon-compatible server."""

    kind: ClassVar[str] = "social"
    address: ClassVar[str | None] = None
    consent: ClassVar[str | None] = None
    marketing: ClassVar[bool] = False
    # the Idempotency-Key makes a second hand-off of the same run's post harmless
    resend_uncertain: ClassVar[bool] = True
    per_run: ClassVar[bool] = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check_variant(self, content: Mapping[str, Any]) -> dict[str, str]:
        problems = check_templates(content, TEMPLATE_FIELDS)
        status = content.get("status")
        if not status:
            problems.setdefault("status", "status is required")
        elif isinstance(status, str) and len(status) > MAX_STATUS * 4:
            problems.setdefault("status", f"status is far longer than {MAX_STATUS} characters")
        visibility = content.get("visibility", "public")
        if visibility not in VISIBILITIES:
            problems["visibility"] = f"visibility must be one of {', '.join(VISIBILITIES)}"
        return problems

    def prepare(self, run: RunInfo) -> PreparedPost:
        return PreparedPost(
            run=run,
            status=templates.compile_template("status", run.content["status"]),
            visibility=run.content.get("visibility") or "public",
        )

    def idempotency_key(self, run_id: int) -> str:
        """Stable for a run, distinct across runs and across Herald installations."""
        salt = (getattr(self.settings, "secret_key", None) or "herald").encode()
        digest = hashlib.sha256(salt + f":post:{run_id}".encode()).hexdigest()[:24]
        return f"herald-run-{run_id}-{digest}"

    def compose(self, prepared: PreparedPost) -> OutgoingPost:
        """The run's one post."""
        run = prepared.run
        context = {
            "contact": {},
            "campaign": {"id": run.campaign_id, "name": run.campaign_name},
            "coupon": {},
            "unsubscribe_url": "",
            **run.extras,
        }
        text = templates.render(prepared.status, context).strip()
        problem = None
        if not text:
            problem = "the status rendered empty"
        elif len(text) > MAX_STATUS:
            problem = f"the status is {len(text)} characters; the limit is {MAX_STATUS}"
        return OutgoingPost(text, prepared.visibility, self.idempotency_key(run.run_id), problem)

    def render(self, prepared: PreparedPost, recipient: Recipient) -> OutgoingPost:
        """A post has no recipient; the same post whoever asks."""
        return self.compose(prepared)

    def post(self, prepared: PreparedPost) -> PostOutcome:
        """Compose and publish the run's post."""
        return self.send(self.compose(prepared))

    def send(self, message: OutgoingPost) -> PostOutcome:
        if message.problem:
            return PostOutcome("permanent", reason=message.problem)
        s = self.settings
        if not (s.social_api_url and s.social_token):
            return PostOutcome(
                "permanent", reason="social posting is not configured (HERALD_SOCIAL_API_URL)"
            )
        if not self.limiter.acquire():
            return PostOutcome("transient", reason="social rate limit: no slot free in time")
        outcome = http.call(
            "the social server",
            lambda: self._session().post(
                f"{s.social_api_url}/api/v1/statuses",
                json={"status": message.text, "visibility": message.visibility},
                headers={
                    "Authorization": f"Bearer {s.social_token}",
                    "Idempotency-Key": message.idempotency_key,
                },
                timeout=(http.CONNECT_TIMEOUT, http.READ_TIMEOUT),
            ),
            _published,
        )
        if isinstance(outcome, PostOutcome):
            return outcome
        return PostOutcome(outcome.status, reason=outcome.reason, retry_after=outcome.retry_after)

    def engagement(self, status_id: str) -> dict[str, int] | None:
        """The post's favourites, reblogs and replies now; None when the server can't say."""
        s = self.settings
        if not (s.social_api_url and s.social_token):
            return None
        try:
            response = self._session().get(
                f"{s.social_api_url}/api/v1/statuses/{status_id}",
                headers={"Authorization": f"Bearer {s.social_token}"},
                timeout=(http.CONNECT_TIMEOUT, http.READ_TIMEOUT),
            )
            if response.status_code != 200:
                return None
            body = http.json_object(response)
            return {name: int(body.get(name) or 0) for name in ENGAGEMENT}
        except (requests.RequestException, ValueError, TypeError):
            return None

    @cached_property
    def limiter(self) -> Limiter:
        """The social server's rate limit (``HERALD_SOCIAL_RATE`` posts per second)."""
        return limiter_for(self.settings, "social")


def _published(response: requests.Response) -> PostOutcome:
    body = http.json_object(response)
    status_id = body["id"]
    if not isinstance(status_id, str | int) or status_id == "":
        raise ValueError("no status id")
    url = body.get("url")
    return PostOutcome(
        "sent", provider_id=str(status_id), url=url if isinstance(url, str) else None
    )
