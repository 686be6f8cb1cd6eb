"""Real-browser helpers for the admin (a live server thread, a sending thread, Chromium through
Playwright) and the README screenshots.

``python -m tests.web.screenshots`` builds a demo database, sends the demo campaign slowly through
a local SMTP sink and writes docs/screenshots/{dashboard,campaign,segment,contacts}.png at
1280x800.
"""

from __future__ import annotations

import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from herald.campaigns import dispatch
from herald.core.db import Database
from herald.core.settings import Settings
from herald.journeys import engine as journeys

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with werkzeug on a free port in a thread; yields the base URL."""
    server = make_server(
        "127.0.0.1", free_port(), app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="admin-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def sending(db: Database, settings: Settings, pause: float = 0.0) -> Iterator[None]:
    """What the scheduler and a worker do, in a thread: start due runs and send their batches,
    waiting ``pause`` seconds after each batch (to watch progress move)."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                journeys.tick(db, settings)
                with db.session() as session:
                    ids = dispatch.start_due_runs(session, settings)
                with db.session() as session:
                    ids += dispatch.batches_to_enqueue(session)
                for batch_id in dict.fromkeys(ids):
                    if stop.is_set():
                        return
                    dispatch.send_batch(db, settings, batch_id)
                    stop.wait(pause)
            except BaseException as exc:  # surfaced by the caller after the block
                errors.append(exc)
                return
            stop.wait(0.2)

    thread = threading.Thread(target=loop, name="admin-sender", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    if errors:
        raise errors[0]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (the system one: browsers cannot be downloaded here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_js(page: Any, expression: str, arg: Any = None, timeout: float = 30_000) -> Any:
    """Poll a JavaScript expression (or a function of ``arg``) until it is truthy. Not
    ``page.wait_for_function``: that evaluates with ``eval`` inside the page, which the admin's
    Content-Security-Policy refuses; ``page.evaluate`` goes through the DevTools protocol."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout / 1000:g}s waiting for {expression}")
        page.wait_for_timeout(100)


def log_in(page: Any, base_url: str, email: str, password: str) -> None:
    """Log in through the login form."""
    page.goto(f"{base_url}/admin/")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def _add_engagement(db: Database, campaign_id: int) -> None:
    """Some opens and clicks on the sent deliveries, so the screenshot's chart has them."""
    from sqlalchemy import select

    from herald.audiences.models import Event
    from herald.campaigns.models import Delivery, Run

    with db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.run_id, Delivery.contact_id)
            .join(Run, Run.id == Delivery.run_id)
            .where(Run.campaign_id == campaign_id, Delivery.status == "sent")
            .order_by(Delivery.id)
        ).all()
        for n, (delivery_id, run_id, contact_id) in enumerate(rows):
            common = {
                "contact_id": contact_id,
                "campaign_id": campaign_id,
                "run_id": run_id,
                "delivery_id": delivery_id,
            }
            if n % 2 == 0:
                session.add(Event(type="email.opened", **common))
            if n % 5 == 0:
                session.add(
                    Event(type="email.clicked", data={"url": "https://shop.example"}, **common)
                )


def take_screenshots(out: Path = SCREENSHOTS) -> list[Path]:
    """Build a demo instance, send its campaign and photograph four admin pages."""
    from herald.channels import sink
    from herald.core.accounts import create_user
    from herald.core.migrate import upgrade
    from herald.demo import load_demo
    from herald.web.app import create_app
    from tests.conftest import make_settings

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="herald-shots-"))
    url = f"sqlite:///{tmp / 'herald.db'}"
    upgrade(url)
    smtp_port = free_port()
    settings = make_settings(tmp, url, smtp_port=str(smtp_port), batch_size="8")
    db = Database(url)
    with db.session() as session:
        create_user(session, "marketer@example.com", "screenshots-pass", "marketer")
        load_demo(session, admin_email="admin@example.com")
    outbox = sink.start(settings.instance_path / "outbox", port=smtp_port)
    app = create_app(settings, db)
    written: list[Path] = []
    try:
        with live_server(app) as base, chromium() as browser, sending(db, settings, pause=0.6):
            page = browser.new_page(viewport=VIEWPORT)
            log_in(page, base, "marketer@example.com", "screenshots-pass")
            page.goto(f"{base}/admin/campaigns/1/")
            page.click("#action-send-now")
            # locator waits, not wait_for_function: the CSP refuses the eval that one needs
            from playwright.sync_api import expect

            expect(page.locator("#progress-percent")).to_have_text(
                re.compile(r"^(3[5-9]|[4-9][0-9]|100)\.[0-9]%$"), timeout=60_000
            )
            _add_engagement(db, 1)
            page.wait_for_timeout(2500)  # one more poll picks the opens and clicks up
            page.screenshot(path=str(out / "campaign.png"))
            written.append(out / "campaign.png")
            page.goto(f"{base}/admin/")
            page.screenshot(path=str(out / "dashboard.png"))
            written.append(out / "dashboard.png")
            page.goto(f"{base}/admin/segments/edit/?id=1")
            page.click("#segment-json-toggle")  # type the rules, then show them in the builder
            page.fill(
                "#rules_json",
                '{"all": [\n  {"field": "consent.email", "op": "eq", "value": true},\n'
                '  {"field": "tier", "op": "in", "value": ["gold", "platinum"]},\n'
                '  {"any": [{"field": "points", "op": "gte", "value": 500},\n'
                '           {"event": "order.placed", "within_days": 90, "min_count": 2}]},\n'
                '  {"not": {"field": "email", "op": "ends_with", "value": "@example.org"}}\n]}',
            )
            page.click("#segment-json-toggle")
            page.mouse.move(0, 0)
            page.evaluate("document.activeElement.blur()")
            page.locator("#segment-sample tr").first.wait_for(timeout=10_000)
            page.wait_for_timeout(700)
            page.screenshot(path=str(out / "segment.png"))
            written.append(out / "segment.png")
            page.goto(f"{base}/admin/contacts/")
            page.screenshot(path=str(out / "contacts.png"))
            written.append(out / "contacts.png")
            written += _workspace_shots(page, base, db, settings, out)
            written += _loyalty_shots(page, base, out)
    finally:
        outbox.stop()
        db.dispose()
    return written


WORKSPACE_HTML = (
    '<div style="font-family:Arial;font-size:15px;padding:10px">Hi {{ contact.first_name }}, '
    "Double 11 starts early for you.</div>"
    '<div style="text-align:center;padding:12px"><a href="https://shop.example/" '
    'style="font-family:Arial;display:inline-block;padding:12px 26px;background:#2f6fed;'
    'color:#fff;text-decoration:none;border-radius:4px;font-weight:bold">Shop now</a></div>'
    '<div style="font-family:Arial;border:2px dashed #2f6fed;padding:16px;margin:10px;'
    'text-align:center"><div style="font-size:13px;color:#6b7280">Your code</div>'
    '<div style="font-size:24px;font-weight:bold">{{ coupon.code | default("D11-EARLY") }}</div>'
    "</div>"
)


def _workspace_shots(
    page: Any, base: str, db: Database, settings: Settings, out: Path
) -> list[Path]:
    """The campaign builder (an A/B email in the visual editor, previewed for a member) and the
    month's calendar with a once send, a recurring post and a member day."""
    from datetime import timedelta

    from herald.campaigns import service
    from herald.core import clock

    zone = settings.timezone
    soon = clock.now().astimezone(zone) + timedelta(days=2)
    with db.session() as session:
        ab = service.create_campaign(
            session,
            {
                "name": "Double 11 A/B",
                "channel": "email",
                "segment_id": 1,
                "variants": [
                    {
                        "name": "A",
                        "subject": "{{ contact.first_name }}, early access",
                        "html": WORKSPACE_HTML,
                    },
                    {
                        "name": "B",
                        "subject": "Only for you, {{ contact.first_name }}",
                        "html": WORKSPACE_HTML,
                    },
                ],
                "ab_test": {"test_fraction": 0.2, "metric": "click_rate", "decide_after_hours": 4},
                "schedule": {"type": "once", "at": soon.replace(hour=10, minute=0).isoformat()},
            },
            zone,
        )
        service.create_campaign(
            session,
            {
                "name": "Monthly lookbook",
                "channel": "social",
                "variants": [{"status": "New arrivals are in"}],
                "schedule": {"type": "recurring", "cron": "0 10 8 * *", "timezone": zone.key},
            },
            zone,
        )
        service.create_campaign(
            session,
            {
                "name": "Gold member day",
                "channel": "member_day",
                "variants": [
                    {"benefits": {"gold": {"type": "coupon", "percent_off": 15}}, "notify": []}
                ],
                "schedule": {
                    "type": "local_time",
                    "date": (soon + timedelta(days=5)).date().isoformat(),
                    "time": "09:00",
                },
            },
            zone,
        )
        ab_id = ab.id
    page.goto(f"{base}/admin/build/{ab_id}/")
    page.wait_for_selector("#gjs .gjs-block", timeout=30_000)
    wait_js(
        page,
        "document.getElementById('preview-frame').srcdoc.includes('Double 11 starts early')",
        timeout=15_000,
    )
    page.click("#save-draft")
    try:
        wait_js(
            page,
            "document.getElementById('review-sentence').textContent.includes('members by email')",
        )
    except Exception:
        problems = page.eval_on_selector_all(
            ".invalid-feedback, #builder-error",
            "ns => ns.map(n => n.textContent).filter(t => t.trim())",
        )
        raise RuntimeError(f"the builder did not save: {problems}") from None
    page.evaluate("document.getElementById('step-content').scrollIntoView()")
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "builder.png"))
    page.evaluate("document.getElementById('step-schedule').scrollIntoView()")
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "review.png"))
    page.goto(f"{base}/admin/calendar/")
    page.screenshot(path=str(out / "calendar.png"))
    return [out / "builder.png", out / "review.png", out / "calendar.png"]


LOYALTY_PAGES = {
    # the demo's Double 11 promotion (its campaigns are drafts, so its report is still empty)
    "promotion.png": "/admin/promotions/1/",
    "holiday-templates.png": "/admin/promotions/templates/",
    "rfm.png": "/admin/rfm/",
    "tier-benefits.png": "/admin/tier-benefits/",
    # the opens and clicks the demo campaign's send gathered, by the members' local hour
    "send-time.png": "/admin/send-time/",
    "journeys.png": "/admin/journeys/",
}


def _loyalty_shots(page: Any, base: str, out: Path) -> list[Path]:
    """Loyalty and promotions (contract 15 and 16) as the demo leaves them."""
    written = []
    for name, path in LOYALTY_PAGES.items():
        page.goto(f"{base}{path}")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / name))
        written.append(out / name)
    return written


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    for path in take_screenshots():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
