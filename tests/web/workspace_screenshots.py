"""README screenshots of the workspace's part 2: a campaign's results, a member's page and the
triggers list. ``python -m tests.web.workspace_screenshots`` writes
docs/screenshots/{results,member,triggers}.png at 1280x800 from a demo database."""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.web.screenshots import (
    CHROMIUM,
    SCREENSHOTS,
    VIEWPORT,
    chromium,
    free_port,
    live_server,
    log_in,
)

LINKS = ("https://shop.example/double11", "https://shop.example/tea", "https://shop.example/gifts")


def _engage(db, campaign_id: int) -> int:  # type: ignore[no-untyped-def]
    """Opens, clicks and a few orders spread over the first three days; returns a clicker."""
    from herald.audiences import shop
    from herald.audiences.models import Contact, Event
    from herald.campaigns.models import Delivery, Run

    rng = random.Random(7)
    clicker = 0
    with db.session() as session:
        externals = dict(session.execute(select(Contact.id, Contact.external_id)).all())
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.run_id,
                Delivery.contact_id,
                Delivery.variant_id,
                Run.started_at,
            )
            .join(Run, Run.id == Delivery.run_id)
            .where(Run.campaign_id == campaign_id, Delivery.status == "sent")
        ).all()
        for delivery_id, run_id, contact_id, variant_id, started in rows:
            common = {
                "contact_id": contact_id,
                "campaign_id": campaign_id,
                "run_id": run_id,
                "delivery_id": delivery_id,
            }
            odds = 0.55 if variant_id % 2 else 0.4
            if rng.random() > odds:
                continue
            opened = started + timedelta(hours=min(71, rng.expovariate(1 / 9)))
            session.add(Event(type="email.opened", occurred_at=opened, **common))
            if rng.random() < 0.45:
                clicked = opened + timedelta(minutes=rng.randrange(1, 30))
                session.add(
                    Event(
                        type="email.clicked",
                        occurred_at=clicked,
                        data={"url": rng.choice(LINKS)},
                        **common,
                    )
                )
                clicker = contact_id
                if rng.random() < 0.4:
                    placed = (clicked + timedelta(hours=2)).isoformat()
                    order = {
                        "id": f"o-{delivery_id}",
                        "total": rng.choice((88, 168, 299)),
                        "customer_external_id": externals[contact_id],
                        "currency": "CNY",
                        "items": [],
                        "placed_at": placed,
                    }
                    shop.apply(session, "order.placed", {"order": order})
        # carts left behind: the reminder trigger fires for each, an order cancels some
        for n, contact_id in enumerate(list(externals)[:8]):
            cart = {
                "id": f"c-{n}",
                "customer_external_id": externals[contact_id],
                "total": 120,
                "url": "https://shop.example/cart",
                "items": [],
            }
            shop.apply(session, "cart.abandoned", {"cart": cart})
            if n % 3 == 0:
                order = {
                    "id": f"oc-{n}",
                    "customer_external_id": externals[contact_id],
                    "total": 120,
                    "currency": "CNY",
                    "items": [],
                }
                shop.apply(session, "order.placed", {"order": order})
        session.add(
            Event(type="points.changed", contact_id=clicker, data={"points": 1200, "previous": 800})
        )
        session.add(
            Event(
                type="tier.changed", contact_id=clicker, data={"tier": "gold", "previous": "silver"}
            )
        )
    return clicker


def take_workspace_screenshots(out: Path = SCREENSHOTS) -> list[Path]:
    """Build a demo instance, send an A/B campaign, add engagement and photograph three pages."""
    from herald.campaigns import service
    from herald.channels import sink
    from herald.core.accounts import create_user
    from herald.core.db import Database
    from herald.core.migrate import upgrade
    from herald.demo import load_demo
    from herald.journeys import triggers
    from herald.web.app import create_app
    from tests.conftest import make_settings
    from tests.helpers import drain

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="herald-shots-"))
    url = f"sqlite:///{tmp / 'herald.db'}"
    upgrade(url)
    smtp_port = free_port()
    settings = make_settings(tmp, url, smtp_port=str(smtp_port), batch_size="20")
    db = Database(url)
    zone = ZoneInfo("UTC")
    with db.session() as session:
        create_user(session, "marketer@example.com", "screenshots-pass", "marketer")
        load_demo(session, admin_email="admin@example.com")
        campaign = service.create_campaign(
            session,
            {
                "name": "Double 11: subject line test",
                "channel": "email",
                "segment_id": 1,
                "variants": [
                    {
                        "name": "A",
                        "subject": "Double 11 starts now, {{ contact.first_name }}",
                        "html": "".join(f'<a href="{link}">x</a>' for link in LINKS),
                    },
                    {
                        "name": "B",
                        "subject": "{{ contact.first_name }}, your early access",
                        "html": "".join(f'<a href="{link}">x</a>' for link in LINKS),
                    },
                ],
                "schedule": {"type": "immediate"},
            },
            zone,
        )
        service.send_now(session, campaign)
        for name, event, delay, cancel in (
            ("Abandoned cart, 1 hour", "cart.abandoned", 60, "order.placed"),
            ("Welcome", "customer.created", 0, None),
            ("Thank you for your order", "order.placed", 1440, None),
        ):
            triggers.create_trigger(
                session,
                {
                    "name": name,
                    "event": event,
                    "delay_minutes": delay,
                    "cancel_on": cancel,
                    "channel": "email",
                    "variants": [{"name": "A", "subject": name, "html": "<p>Hi</p>"}],
                },
                zone,
            )
        campaign_id = campaign.id
    outbox = sink.start(settings.instance_path / "outbox", port=smtp_port)
    written: list[Path] = []
    try:
        drain(db, settings)
        member = _engage(db, campaign_id)
        app = create_app(settings, db)
        with live_server(app) as base, chromium() as browser:
            page = browser.new_page(viewport=VIEWPORT)
            log_in(page, base, "marketer@example.com", "screenshots-pass")
            for name, path in (
                ("results", f"/admin/results/{campaign_id}/"),
                ("member", f"/admin/members/{member}/"),
                ("triggers", "/admin/triggers/"),
            ):
                page.goto(base + path)
                # the results page is read top to bottom: photograph all of it
                page.screenshot(path=str(out / f"{name}.png"), full_page=name == "results")
                written.append(out / f"{name}.png")
    finally:
        outbox.stop()
        db.dispose()
    return written


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    for path in take_workspace_screenshots():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
