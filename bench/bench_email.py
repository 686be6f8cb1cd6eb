"""Rendering marketing email: Herald's prepared skeleton against one ``EmailMessage`` per member.

Both paths render the same Jinja templates with the same tracked links and pixel for each
member; the baseline then builds and serialises a full stdlib ``EmailMessage`` per member, as
the first email channel did, while Herald joins pre-encoded bytes. A third line adds the
per-member CSS inlining and text extraction that preparing once avoids.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import css_inline
from inscriptis import get_text

from bench.report import machine, median, timed, write_section
from herald.channels.base import Recipient, RunInfo
from herald.channels.email import EmailChannel
from herald.core.settings import Settings
from herald.templating import render as templates

MEMBERS = 2000
REPEAT = 5

HTML = (
    """<!doctype html><html><head><style>
body { font-family: Helvetica, Arial, sans-serif; color: #222 } h1 { font-size: 24px }
.cta { background: #c00; color: #fff; padding: 12px 20px; text-decoration: none }
td { padding: 8px } .muted { color: #888; font-size: 12px }
</style></head><body><h1>Double 11 early access, {{ contact.first_name }}!</h1>
<p>As a {{ contact.tier }} member you get in a day early. Your points: {{ contact.points }}.</p>
<table>"""
    + "".join(
        f"<tr><td><a href='https://shop.example/p/{i}?utm_source=herald'>Product {i}</a></td>"
        f"<td>¥{i * 10}</td></tr>"
        for i in range(8)
    )
    + """</table>
<p><a class="cta" href="https://shop.example/sale?c={{ campaign.id }}">Shop the sale</a></p>
<p class="muted">You get this because you joined our club.
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>"""
)


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
                },
                "campaign": {"id": 1, "name": "Double 11"},
                "coupon": {},
                "unsubscribe_url": f"https://herald.example/u/token{i}",
            },
        )
        for i in range(MEMBERS)
    ]
    return channel, prepared, recipients


def _herald(channel: EmailChannel, prepared: object, recipients: list[Recipient]) -> None:
    for recipient in recipients:
        channel.render(prepared, recipient)  # type: ignore[arg-type]


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
    herald = median(timed(lambda: _herald(channel, prepared, recipients), REPEAT))
    baseline = median(
        timed(lambda: _per_member_message(channel, prepared, recipients, False), REPEAT)
    )
    naive = median(timed(lambda: _per_member_message(channel, prepared, recipients, True), 3))
    rows = [
        ("one `EmailMessage` per member, same rendered bodies (baseline)", baseline),
        (
            "one `EmailMessage` per member, CSS inlined + text extracted per member, "
            "links untracked",
            naive,
        ),
        ("Herald: prepared skeleton, render + assemble bytes", herald),
    ]
    lines = [
        f"## Rendering email ({MEMBERS} members, {len(HTML)}-character HTML, 10 tracked links)",
        "",
        f"{machine()}; medians of {REPEAT} runs (3 for the slowest line). The first and last",
        "paths render each member's Jinja subject and body with signed click and pixel URLs;",
        "the second leaves links as they are. No SMTP, no DKIM (RSA signing adds the same cost to",
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
        f"Herald renders **{baseline / herald:.1f}×** as many messages per second as building an "
        f"`EmailMessage` per member, and **{naive / herald:.1f}×** as many as also inlining CSS "
        "and extracting text per member.",
    ]
    section = "\n".join(lines)
    print(section)
    write_section("email", section)


if __name__ == "__main__":
    main()
