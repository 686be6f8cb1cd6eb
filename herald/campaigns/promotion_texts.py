"""The messages of the holiday gallery (:mod:`herald.campaigns.promotion_templates`): short,
editable starting points. Templates see ``promotion`` and ``now``; ``promotion.ends_at |
countdown`` says how long is left at the moment each member's message is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Draft:
    """One campaign of a template: sent ``days`` after the promotion's first day (negative:
    before it) at ``at`` o'clock, or counted from its last day when ``from_end``."""

    name: str
    channel: str
    days: int
    at: str
    variant: dict[str, Any]
    from_end: bool = False


SHOP = "https://shop.example.com"
HELLO = "Hi {{ contact.first_name | default('there') }},"
FOOTER = (
    '<p style="font-size:12px;color:#888">You get this because you are a member. '
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)
TEXT_FOOTER = "Unsubscribe: {{ unsubscribe_url }}"
ENDS = "{{ promotion.ends_at.strftime('%d %B, %H:%M') }}"


def email(subject: str, lines: list[str], link: str, button: str) -> dict[str, Any]:
    """An email variant: a greeting, paragraphs, one button, the footer; a plain-text twin."""
    paragraphs = "".join(f"<p>{line}</p>" for line in lines)
    html = (
        f"<p>{HELLO}</p>{paragraphs}"
        f'<p><a href="{SHOP}{link}" style="background:#d0021b;color:#fff;padding:10px 18px;'
        f'text-decoration:none;border-radius:4px">{button}</a></p>{FOOTER}'
    )
    text = "\n\n".join([HELLO, *lines, f"{button}: {SHOP}{link}", TEXT_FOOTER])
    return {"subject": subject, "html": html, "text": text}


def sms(body: str) -> dict[str, Any]:
    """An SMS variant."""
    return {"body": body}


def social(status: str) -> dict[str, Any]:
    """A social post."""
    return {"status": status, "visibility": "public"}


def member_day(subject: str, line: str) -> dict[str, Any]:
    """Tier benefits (the contract's example) and an email notice with the member's coupon."""
    return {
        "benefits": {
            "gold": {"type": "coupon", "percent_off": 15},
            "platinum": {"type": "points_multiplier", "multiplier": 3},
        },
        "notify": ["email"],
        "subject": subject,
        "html": (
            f"<p>{HELLO}</p><p>{line}</p>"
            "{% if coupon.code %}<p>Your code: <strong>{{ coupon.code }}</strong>, "
            "{{ coupon.percent_off }}% off until {{ coupon.valid_until }}.</p>"
            "{% else %}<p>Your points count triple today.</p>{% endif %}"
            f"{FOOTER}"
        ),
    }


COUNTDOWN = "Only {{ promotion.ends_at | countdown }} left: the sale ends " + ENDS + "."

DOUBLE_11 = (
    Draft(
        "teaser email",
        "email",
        0,
        "10:00",
        email(
            "{{ promotion.name }} starts now: our biggest sale of the year",
            [
                "Double 11 is here. Until 11 November, the whole shop is on sale.",
                "Add to your cart today; members get more on the 8th.",
            ],
            "/double11",
            "See the deals",
        ),
    ),
    Draft(
        "member-day benefit",
        "member_day",
        7,
        "10:00",
        member_day(
            "Your Double 11 member day",
            "Today only, for our gold and platinum members:",
        ),
    ),
    Draft(
        "flash-sale email",
        "email",
        -1,
        "20:00",
        email(
            "Flash sale: {{ promotion.ends_at | countdown }} left",
            ["Tonight's flash sale is on.", COUNTDOWN],
            "/double11/flash",
            "Shop the flash sale",
        ),
        from_end=True,
    ),
    Draft(
        "SMS on the day",
        "sms",
        0,
        "09:00",
        sms(
            "Double 11 is today! Up to 50% off until midnight: "
            f"{SHOP}/double11 Reply STOP to opt out"
        ),
        from_end=True,
    ),
    Draft(
        "social post",
        "social",
        0,
        "10:00",
        social(
            "Double 11 is here: {{ promotion.ends_at | countdown }} of deals left. "
            f"{SHOP}/double11 #Double11"
        ),
        from_end=True,
    ),
)

DOUBLE_12 = (
    Draft(
        "teaser email",
        "email",
        0,
        "10:00",
        email(
            "Double 12: the year's last big sale",
            ["Until 12 December, treat yourself and everyone on your list."],
            "/double12",
            "Start shopping",
        ),
    ),
    Draft(
        "last-chance email",
        "email",
        -1,
        "20:00",
        email(
            "Last chance: {{ promotion.ends_at | countdown }} left",
            [COUNTDOWN],
            "/double12",
            "Don't miss out",
        ),
        from_end=True,
    ),
    Draft(
        "SMS on the day",
        "sms",
        0,
        "09:00",
        sms(f"Double 12 is today: the year's last sale ends at midnight. {SHOP}/double12"),
        from_end=True,
    ),
)

SPRING_FESTIVAL = (
    Draft(
        "order-before-the-holiday email",
        "email",
        0,
        "10:00",
        email(
            "Spring Festival gifts, delivered before New Year",
            [
                "Couriers stop for the holiday: order early so your gifts arrive in time.",
                "Gift boxes, tea and treats for the whole family.",
            ],
            "/spring-festival",
            "Shop New Year gifts",
        ),
    ),
    Draft(
        "member gift",
        "member_day",
        7,
        "10:00",
        member_day(
            "A New Year gift for you",
            "To thank our most loyal members before the holiday:",
        ),
    ),
    Draft(
        "last orders email",
        "email",
        -7,
        "10:00",
        email(
            "Last week to order for New Year",
            ["Order now so your gifts arrive before the festival."],
            "/spring-festival",
            "Order now",
        ),
        from_end=True,
    ),
    Draft(
        "New Year greeting SMS",
        "sms",
        -1,
        "18:00",
        sms("Happy New Year from all of us! Wishing you health and luck in the year ahead."),
        from_end=True,
    ),
)

SIX_EIGHTEEN = (
    Draft(
        "teaser email",
        "email",
        0,
        "10:00",
        email(
            "618 is coming: the mid-year sale starts now",
            ["From today until 18 June, deals across the shop."],
            "/618",
            "See the deals",
        ),
    ),
    Draft(
        "countdown email",
        "email",
        -1,
        "20:00",
        email(
            "618: {{ promotion.ends_at | countdown }} left",
            [COUNTDOWN],
            "/618",
            "Shop 618",
        ),
        from_end=True,
    ),
    Draft(
        "SMS on the day",
        "sms",
        0,
        "09:00",
        sms(f"It's 618! Mid-year prices end at midnight: {SHOP}/618"),
        from_end=True,
    ),
)

MEMBER_DAY = (
    Draft(
        "notice the day before",
        "email",
        -1,
        "18:00",
        email(
            "Tomorrow is member day",
            ["Member-only prices and your tier's benefit, all day tomorrow."],
            "/members",
            "See member prices",
        ),
    ),
    Draft(
        "member-day benefit",
        "member_day",
        0,
        "10:00",
        member_day("Happy member day", "Your member-day benefit is ready:"),
    ),
)

FLASH_SALE = (
    Draft(
        "announcement email",
        "email",
        0,
        "10:00",
        email(
            "Flash sale tonight at 20:00",
            ["24 hours, limited stock, prices we can't repeat."],
            "/flash",
            "Set a reminder",
        ),
    ),
    Draft(
        "SMS as it opens",
        "sms",
        0,
        "20:00",
        sms(f"The flash sale is open: {{{{ promotion.ends_at | countdown }}}} left. {SHOP}/flash"),
    ),
    Draft(
        "last call email",
        "email",
        0,
        "16:00",
        email(
            "Last call: {{ promotion.ends_at | countdown }} left",
            [COUNTDOWN],
            "/flash",
            "Shop before it ends",
        ),
        from_end=True,
    ),
)

LAUNCH = (
    Draft(
        "teaser email",
        "email",
        -3,
        "10:00",
        email(
            "Something new is coming",
            ["In three days we launch something we have worked on all year. Members see it first."],
            "/new",
            "Get notified",
        ),
    ),
    Draft(
        "launch email",
        "email",
        0,
        "10:00",
        email(
            "It's here: meet our newest product",
            [
                "Available from today, with a launch price until "
                "{{ promotion.ends_at.strftime('%d %B') }}."
            ],
            "/new",
            "Discover it",
        ),
    ),
    Draft(
        "launch post",
        "social",
        0,
        "10:00",
        social(f"New in: our latest launch is live. {SHOP}/new #NewIn"),
    ),
)

WINBACK = (
    Draft(
        "we miss you email",
        "email",
        0,
        "10:00",
        email(
            "We miss you, {{ contact.first_name | default('friend') }}",
            [
                "It has been a while. Here is what is new since your last visit.",
                "Come back before {{ promotion.ends_at.strftime('%d %B') }} "
                "for a welcome-back price.",
            ],
            "/welcome-back",
            "Take a look",
        ),
    ),
    Draft(
        "reminder SMS",
        "sms",
        7,
        "10:00",
        sms(
            "Your welcome-back price ends in {{ promotion.ends_at | countdown }}: "
            f"{SHOP}/welcome-back Reply STOP to opt out"
        ),
    ),
)
