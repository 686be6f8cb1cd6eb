"""Rendering the product-grid newsletter: Herald's prepared message against a bare Jinja2
render of the same template, and against one ``EmailMessage`` per member.

The bare render is the floor: plain ``jinja2.Environment`` (autoescape, no sandbox), links as
written, no text part, no message. Herald's template line renders the same template in the
sandbox under its budget with every link tracked per delivery (a signed URL per link and
position); the message line adds the subject, the text part and the MIME bytes. The baselines
build and serialise a full stdlib ``EmailMessage`` per member, one of them also inlining CSS and
extracting text per member, which preparing once avoids.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import css_inline
import jinja2
from inscriptis import get_text

from bench.report import machine, median, timed, write_section
from herald.channels.base import Recipient, RunInfo
from herald.channels.email import EmailChannel
from herald.core.settings import Settings
from herald.templating import render as templates
from herald.templating.track_links import LinkTracker

MEMBERS = 500
REPEAT = 3

# the weekly product-grid newsletter of the template corpus: six products in a loop, a link and a
# button each, a coupon, points, a <style> block (13 tracked links per message)
HTML = (Path(__file__).parents[1] / "tests/templating/corpus/product_grid.html").read_text()


def _setup() -> tuple[EmailChannel, object, list[Recipient]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-email-"))
    settings = Settings.from_env(
        {
            "HERALD_INSTANCE_PATH": str(folder),
            "HERALD_SECRET_KEY": "bench-secret",
            "HERALD_PUBLIC_URL": "https://herald.example",
            "HERALD_MAIL_FROM": "Shop <news@shop.example>",
        }
    )
    channel = EmailChannel(settings)
    run = RunInfo(
        campaign_id=1,
        campaign_name="Double 11",
        run_id=1,
        variant_id=1,
        variant_name="A",
        content={"subject": "{{ contact.first_name }}, 双十一 starts now 🎉", "html": HTML},
        started_at=datetime.now(UTC),
    )
    prepared = channel.prepare(run)
    recipients = [
        Recipient(
            contact_id=i,
            delivery_id=10_000 + i,
            email=f"member{i}@example.com",
            phone=None,
            context={
                "contact": {
                    "first_name": f"Zoë{i}",
                    "last_name": "Wang",
                    "tier": "gold",
                    "points": i,
                    "attributes": {},
                },
                "campaign": {"id": 1, "name": "Double 11"},
                "coupon": {"code": f"TEA-{i:05d}", "percent_off": 15},
                "event": {},
                "unsubscribe_url": f"https://herald.example/u/token{i}",
            },
        )
        for i in range(MEMBERS)
    ]
    return channel, prepared, recipients


def _herald(channel: EmailChannel, prepared: object, recipients: list[Recipient]) -> None:
    for recipient in recipients:
        channel.render(prepared, recipient)  # type: ignore[arg-type]


def _bare_jinja(recipients: list[Recipient]) -> None:
    template = jinja2.Environment(autoescape=True).from_string(HTML)
    for recipient in recipients:
        template.render(recipient.context)


def _herald_template(prepared: object, recipients: list[Recipient]) -> None:
    html = prepared.content.html  # type: ignore[attr-defined]
    for recipient in recipients:
        unsubscribe = recipient.context["unsubscribe_url"]
        links = LinkTracker(
            "https://herald.example", "bench-secret", recipient.delivery_id, unsubscribe
        )
        templates.render(html, recipient.context, links)


def _per_member_message(
    channel: EmailChannel, prepared: object, recipients: list[Recipient], naive: bool
) -> None:
    source = templates.compile_template("html", HTML, html=True) if naive else None
    for recipient in recipients:
        context = recipient.context
        if naive:
            html = css_inline.inline(templates.render(source, context))
            text = get_text(html)
        else:
            text, html = prepared.content.render(context, recipient.delivery_id)  # type: ignore[attr-defined]
        message = EmailMessage()
        message["Subject"] = templates.render(prepared.subject, context)  # type: ignore[attr-defined]
        message["From"] = "Shop <news@shop.example>"
        message["To"] = f"Zoë Wang <{recipient.email}>"
        message["Message-ID"] = f"<{recipient.delivery_id}@shop.example>"
        message["Date"] = "Tue, 24 Nov 2026 23:00:00 +0000"
        message["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(text)
        message.add_alternative(html or "", subtype="html")
        message.as_bytes(policy=SMTP)


def main() -> None:
    """Measure, print and write the ``email`` section of BENCHMARKS.md."""
    channel, prepared, recipients = _setup()
    _herald(channel, prepared, recipients[:200])  # warm up caches and imports
    bare = median(timed(lambda: _bare_jinja(recipients), REPEAT))
    template = median(timed(lambda: _herald_template(prepared, recipients), REPEAT))
    herald = median(timed(lambda: _herald(channel, prepared, recipients), REPEAT))
    baseline = median(
        timed(lambda: _per_member_message(channel, prepared, recipients, False), REPEAT)
    )
    naive = median(timed(lambda: _per_member_message(channel, prepared, recipients, True), 3))
    rows = [
        ("bare Jinja2 render of the same template (HTML only, links as written)", bare),
        ("Herald: the HTML template in the sandbox, every link tracked", template),
        ("Herald: whole message (subject, HTML, text part, MIME bytes)", herald),
        ("one `EmailMessage` per member, same rendered bodies (baseline)", baseline),
        (
            "one `EmailMessage` per member, CSS inlined + text extracted per member, "
            "links untracked",
            naive,
        ),
    ]
    lines = [
        f"## Rendering email: the product-grid newsletter ({MEMBERS} members, "
        f"{len(HTML):,}-character template, 13 tracked links)",
        "",
        f"{machine()}; medians of {REPEAT} runs (3 for the slowest line). The template is",
        "tests/templating/corpus/product_grid.html: six products in a loop, an image link and a",
        "button each, a coupon and points. No SMTP, no DKIM (RSA signing adds the same cost to",
        "every path).",
        "",
        "| path | median time | messages/s | µs/message |",
        "|---|---|---|---|",
    ]
    for label, seconds in rows:
        lines.append(
            f"| {label} | {seconds:.3f} s | {MEMBERS / seconds:,.0f} | "
            f"{seconds / MEMBERS * 1e6:,.0f} |"
        )
    lines += [
        "",
        f"Herald's tracked render of the template costs **{template / bare:.1f}×** the bare "
        f"Jinja2 render; the whole message **{herald / bare:.1f}×**. Herald renders "
        f"**{baseline / herald:.1f}×** as many messages per second as building an "
        f"`EmailMessage` per member, and **{naive / herald:.1f}×** as many as also inlining CSS "
        "and extracting text per member.",
    ]
    section = "\n".join(lines)
    print(section)
    write_section("email", section)


if __name__ == "__main__":
    main()
