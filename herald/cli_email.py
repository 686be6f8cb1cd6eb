"""``herald email dsn FILE...``: feed bounce reports (RFC 3464 DSNs, RFC 5965 feedback reports)
saved from the return-path mailbox into Herald, as ``POST /webhooks/email/events`` does."""

from __future__ import annotations

from pathlib import Path

import click

from herald.cli import _database, fail, guarded, load_settings


@click.group("email")
def email() -> None:
    """Email: bounce and complaint reports."""


@email.command("dsn")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@guarded
def email_dsn(files: tuple[str, ...]) -> None:
    """Record the bounces and complaints of each report file (bounced/complained events,
    suppressions); a file that is not a report stops with a one-line reason."""
    from herald.campaigns.feedback import apply_report
    from herald.channels.dsn import NotAReport, parse_dsn

    settings = load_settings()
    with _database(settings).session() as session:
        for name in files:
            try:
                reports = parse_dsn(Path(name).read_bytes())
            except NotAReport as exc:
                fail(f"{name}: {exc}")
            for report in reports:
                matched = apply_report(session, settings, **report.__dict__)
                where = "matched" if matched else "no delivery or member found"
                click.echo(
                    f"{name}: {report.type} ({report.kind}) {report.email}: {report.reason} "
                    f"[{where}]"
                )
            if not reports:
                click.echo(f"{name}: no failed recipients")
