"""Demo data for ``make run``: members across tiers, a segment and a draft email campaign."""

from __future__ import annotations

import random
import secrets
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.audiences import contacts, rfm, shop
from herald.audiences.models import TIERS, Contact, Segment
from herald.campaigns import promotion_templates
from herald.campaigns.models import Campaign, Variant
from herald.core import clock
from herald.core.accounts import User, create_user
from herald.journeys import examples
from herald.journeys import service as journeys

FIRST = [
    "Li",
    "Wang",
    "Zhang",
    "Liu",
    "Chen",
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Feng",
    "Grace",
]
CITIES = ["Hangzhou", "Shanghai", "Beijing", "Shenzhen", "Chengdu"]
ZONES = ["Asia/Shanghai", "Asia/Shanghai", "Europe/Berlin", "America/New_York", None]

DEMO_HTML = """<h1>Hi {{ contact.first_name or 'there' }},</h1>
<p>Our Double 11 early access starts now for {{ contact.tier }} members.</p>
{% if coupon.code %}<p>Your code <strong>{{ coupon.code }}</strong>: {{ coupon.description }},
until {{ coupon.valid_until[:10] }}.</p>{% endif %}
<p><a href="https://shop.example.com/double11">Shop the sale</a></p>
<p style="font-size:12px"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>"""


def load_demo(
    session: Session,
    admin_email: str = "admin@example.com",
    members: int = 120,
    instance: Path | None = None,
) -> str:
    """Create the demo admin (printing its password, and keeping it in ``instance`` for
    ``herald run`` to show again) and, if the database has no members, demo members, a segment
    and a draft campaign."""
    lines = []
    if session.scalar(select(func.count()).select_from(User)) == 0:
        password = secrets.token_urlsafe(12)
        create_user(session, admin_email, password, "admin")
        lines.append(f"demo admin: {admin_email} / {password}")
        if instance is not None:
            from herald.devrun import remember_credentials

            remember_credentials(instance, admin_email, password)
    if session.scalar(select(func.count()).select_from(Contact)):
        lines.append("members exist already: no demo data loaded")
        return "\n".join(lines)
    rng = random.Random(11)
    for n in range(members):
        first = rng.choice(FIRST)
        birthday = date(1970, 1, 1) + timedelta(days=rng.randrange(0, 365 * 35))
        contacts.upsert(
            session,
            {
                "external_id": f"demo-{n:04d}",
                "email": f"{first.lower()}.{n}@example.com",
                "first_name": first,
                "tier": rng.choices(TIERS, weights=[30, 30, 20, 15, 5])[0],
                "points": rng.randrange(0, 3000),
                "birthday": birthday.isoformat(),
                "timezone": rng.choice(ZONES),
                "attributes": {"city": rng.choice(CITIES)},
                "consent": {"email": rng.random() < 0.85, "sms": rng.random() < 0.4},
            },
            source="demo",
        )
    segment = Segment(
        name="All email-consenting members",
        rules={"all": [{"field": "consent.email", "op": "eq", "value": True}]},
    )
    session.add(segment)
    session.flush()
    campaign = Campaign(
        name="Double 11 early access (demo)",
        channel="email",
        segment_id=segment.id,
        status="draft",
        schedule={"type": "immediate"},
    )
    campaign.variants.append(
        Variant(
            name="A",
            position=0,
            content={
                "subject": "{{ contact.first_name }}, Double 11 starts early",
                "html": DEMO_HTML,
                # 满减: one unique code per member (Coupons in the admin lists them)
                "coupon": {"type": "coupon", "amount_off": 30, "min_spend": 200, "valid_days": 14},
            },
        )
    )
    session.add(campaign)
    lines.append(f"loaded {members} demo members, a segment and campaign {campaign.name!r}")
    lines.append(_behaviour(session, rng, members))
    lines.append(_loyalty(session, segment.id))
    return "\n".join(lines)


PRODUCTS = [
    ("TEA-LJ", "Longjing green tea", "tea", 88),
    ("TEA-PU", "Pu'er cake", "tea", 168),
    ("CUP-CL", "Celadon cup", "cups", 45),
    ("POT-YX", "Yixing teapot", "teapots", 320),
    ("SNK-MO", "Mooncake box", "snacks", 128),
]


def _behaviour(session: Session, rng: random.Random, members: int) -> str:
    """Orders with their lines for most demo members, points lots for some, RFM scores, a
    "bought tea in the last 90 days" segment and a draft points-expiry journey."""
    now = clock.now()
    for n in range(members):
        external_id = f"demo-{n:04d}"
        for k in range(rng.choice([0, 0, 1, 1, 2, 3, 5])):
            lines = rng.sample(PRODUCTS, rng.randint(1, 3))
            items = [
                {"sku": s, "name": name, "category": c, "qty": rng.randint(1, 3), "price": p}
                for s, name, c, p in lines
            ]
            order = {
                "id": f"demo-{n:04d}-{k}",
                "customer_external_id": external_id,
                "total": sum(i["qty"] * i["price"] for i in items),
                "currency": "CNY",
                "placed_at": (now - timedelta(days=rng.randrange(1, 400))).isoformat(),
                "items": items,
            }
            shop.store(session, "order.placed", {"order": order})
        if rng.random() < 0.3:
            expires = (now + timedelta(days=rng.randrange(5, 90))).date()
            lots = [{"points": rng.randrange(100, 900), "expires_at": expires.isoformat()}]
            data = {"customer_external_id": external_id, "points": rng.randrange(900, 3000)}
            shop.store(session, "points.changed", {**data, "expiring": lots})
    scores = rfm.recompute(session)
    session.add(
        Segment(
            name="Bought tea in the last 90 days",
            rules={"all": [{"event": "order.placed", "within_days": 90, "category": "tea"}]},
        )
    )
    expiry = examples.example("points_expiry")
    journeys.create(session, {**expiry, "name": "Points expiry warning (demo)"}, ZoneInfo("UTC"))
    session.flush()
    return (
        f"orders and points lots for demo members, RFM scores for {scores.scored}, a tea"
        " segment and a draft points-expiry journey"
    )


def _loyalty(session: Session, segment_id: int) -> str:
    """The handbook's promotion and birthday practice as drafts: the Double 11 promotion with its
    campaigns from the holiday gallery, and a birthday journey giving each tier its gift."""
    promotion, campaign_ids = promotion_templates.apply(
        session, "double11", segment_id=segment_id, zone=ZoneInfo("Asia/Shanghai")
    )
    birthday = examples.example("birthday")
    journeys.create(
        session, {**birthday, "name": "Birthday greeting and tier gift (demo)"}, ZoneInfo("UTC")
    )
    session.flush()
    return (
        f"the promotion {promotion.name!r} with {len(campaign_ids)} draft campaigns and a draft"
        " birthday journey with each tier's gift"
    )
