"""Journeys a marketer starts from in the builder (and the demo loads): the handbook's welcome
series, birthday gift, points-expiry warning, referral thank-you and win-back, each a valid
definition of contract section 14 that only needs its texts adjusted."""

from __future__ import annotations

import copy
from typing import Any

FOOTER = '<p style="font-size:12px"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'

BIRTHDAY_HTML = (
    "<h1>Happy birthday, {{ contact.first_name or 'friend' }}!</h1>"
    "<p>As a {{ tier.name }} member your gift this week is {{ coupon.description }}: "
    "<strong>{{ coupon.code }}</strong>, valid until {{ coupon.valid_until }}.</p>" + FOOTER
)
EXPIRY_HTML = (
    "<p>Hi {{ contact.first_name or 'there' }},</p>"
    "<p>Your {{ contact.points_expiring }} points expire on {{ contact.points_expire_at }}. "
    "Redeem them before then.</p>" + FOOTER
)


def _email(step_id: str, subject: str, html: str, nxt: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "message",
        "channel": "email",
        "variants": [{"name": "A", "subject": subject, "html": html}],
        **extra,
        "next": nxt,
    }


EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "welcome": (
        "Welcome series",
        {
            "name": "Welcome series",
            "entry": {"event": "customer.created"},
            "exit_on": ["order.placed"],
            "re_entry": "never",
            "holdout": 0.1,
            "steps": [
                _email("hello", "Welcome {{ contact.first_name }}", "<p>Hi</p>" + FOOTER, "wait1"),
                {"id": "wait1", "type": "wait", "minutes": 2880, "next": "opened?"},
                {
                    "id": "opened?",
                    "type": "branch",
                    "condition": {"event": "email.opened", "step": "hello"},
                    "then": "offer",
                    "else": "sms",
                },
                _email(
                    "offer",
                    "10% off for you",
                    "<p>Your code {{ coupon.code }}: {{ coupon.description }}</p>" + FOOTER,
                    "exit",
                    coupon={"type": "coupon", "percent_off": 10, "valid_days": 7},
                ),
                {
                    "id": "sms",
                    "type": "message",
                    "channel": "sms",
                    "variants": [{"name": "A", "body": "Welcome {{ contact.first_name }}!"}],
                    "next": "exit",
                },
            ],
        },
    ),
    "birthday": (
        "Birthday greeting and tier gift",
        {
            "name": "Birthday greeting and tier gift",
            "entry": {"date_field": "birthday", "offset_days": -3, "time": "10:00"},
            "steps": [
                _email(
                    "greet",
                    "Happy birthday week, {{ contact.first_name }}",
                    BIRTHDAY_HTML,
                    "exit",
                    coupon={"tier_benefit": "birthday_gift"},
                )
            ],
        },
    ),
    "points_expiry": (
        "Points expiry warning",
        {
            "name": "Points expiry warning",
            "entry": {"date_field": "points_expire_at", "offset_days": -7, "time": "10:00"},
            "holdout": 0.1,
            "steps": [
                _email(
                    "warn", "{{ contact.points_expiring }} points expire soon", EXPIRY_HTML, "exit"
                )
            ],
        },
    ),
    "referral": (
        "Referral thank-you",
        {
            "name": "Referral thank-you",
            "entry": {"event": "referral.converted"},
            "re_entry": "after_exit",
            "steps": [
                _email(
                    "thanks",
                    "A friend joined thanks to you",
                    "<p>Thank you, {{ contact.first_name or 'friend' }}! Here is "
                    "{{ coupon.description }}: <strong>{{ coupon.code }}</strong>.</p>" + FOOTER,
                    "exit",
                    coupon={"type": "coupon", "amount_off": 20, "min_spend": 100, "valid_days": 30},
                )
            ],
        },
    ),
    "winback": (
        "Win-back of lapsing buyers",
        {
            "name": "Win-back",
            "entry": {
                "event": "cart.abandoned",
                "filter": {"field": "rfm.group", "op": "in", "value": ["at_risk", "cant_lose"]},
            },
            "exit_on": ["order.placed"],
            "re_entry": {"after_days": 90},
            "holdout": 0.1,
            "steps": [
                {"id": "wait", "type": "wait", "minutes": 120, "next": "remind"},
                _email(
                    "remind",
                    "We miss you, {{ contact.first_name }}",
                    "<p>Your cart is waiting, with {{ coupon.description }}.</p>" + FOOTER,
                    "exit",
                    coupon={"type": "free_shipping", "valid_days": 7},
                ),
            ],
        },
    ),
}


def example(key: str) -> dict[str, Any]:
    """A fresh copy of the named starting point (``welcome`` for an unknown key)."""
    return copy.deepcopy(EXAMPLES.get(key, EXAMPLES["welcome"])[1])


def choices() -> list[tuple[str, str]]:
    """``(key, label)`` of every starting point, in the order the builder lists them."""
    return [(key, label) for key, (label, _) in EXAMPLES.items()]
