"""The ``herald`` command line (contract section 3)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from herald.core.errors import HeraldError
from herald.core.settings import ConfigError, Settings


def fail(message: str, code: int = 1) -> None:
    """Exit non-zero with a one-line reason."""
    click.echo(f"herald: {message}", err=True)
    sys.exit(code)


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        fail(f"configuration error: {exc}", 2)
        raise  # unreachable


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn domain errors into one line and a non-zero exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail(f"configuration error: {exc}", 2)
        except HeraldError as exc:
            fail(exc.message)

    return wrapper


def _database(settings: Settings):  # type: ignore[no-untyped-def]
    from herald.core.db import Database

    return Database(settings.database_url)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Herald: marketing automation and campaign scheduling for online shops."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@guarded
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    settings = load_settings()
    from herald.core.migrate import upgrade

    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.group()
def user() -> None:
    """Admin users."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["admin", "marketer", "viewer"]), default="marketer")
@guarded
def user_create(email: str, password: str, role: str) -> None:
    """Create a user who can log into the admin."""
    from herald.core.accounts import create_user

    with _database(load_settings()).session() as session:
        created = create_user(session, email, password, role)
        click.echo(f"created {created.role} {created.email}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "marketer", "viewer"]), default="marketer")
@guarded
def token_create(name: str, role: str) -> None:
    """Create an API token and print it, once, alone on stdout."""
    from herald.core.accounts import create_token

    with _database(load_settings()).session() as session:
        _, plain = create_token(session, name, role)
    click.echo(plain)


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option(
    "--workers",
    "-w",
    default=None,
    type=click.IntRange(min=1),
    help="gunicorn worker processes (default: one per core).",
)
@click.option(
    "--threads",
    default=4,
    type=click.IntRange(min=1),
    help="Threads per worker process; requests waiting on the database overlap.",
)
@click.option("--access-log", is_flag=True, help="Log every request to stdout.")
@click.option(
    "--dev", is_flag=True, help="Flask's development server instead (not for production)."
)
@guarded
def web(
    host: str, port: int, workers: int | None, threads: int, access_log: bool, dev: bool
) -> None:
    """Serve the admin, API, webhooks and tracking links with gunicorn."""
    settings = load_settings()
    if dev:
        from herald.web.app import create_app
        from herald.web.security import QuietRequestHandler

        create_app(settings).run(
            host=host,
            port=port,
            threaded=True,
            use_reloader=False,
            request_handler=QuietRequestHandler,
        )
        return
    from herald.web.serve import serve

    serve(settings, host, port, workers=workers, threads=threads, access_log=access_log)


@main.command()
@click.option("--concurrency", "-c", default=2, type=int, help="Worker processes.")
@click.option("--pool", default="prefork", help="Celery pool (prefork, threads, solo).")
@guarded
def worker(concurrency: int, pool: str) -> None:
    """Run a Celery worker that sends batches and runs ticks."""
    load_settings()
    from herald.workers.celery_app import celery

    celery.worker_main(
        ["worker", "--loglevel", "INFO", "--concurrency", str(concurrency), "--pool", pool]
    )


@main.command()
@guarded
def scheduler() -> None:
    """Run the scheduler: it only enqueues ticks; what is due lives in the database."""
    from herald.workers import scheduler as sched

    sched.run(load_settings())


@main.command("run")
@click.option("--port", default=5000, type=int)
@guarded
def run_all(port: int) -> None:
    """Web + worker + scheduler together (and an SMTP sink when no SMTP host is configured)."""
    from herald import devrun
    from herald.core.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    sink = None
    if not settings.smtp_configured:
        from herald.channels import sink as smtp_sink

        outbox = settings.instance_path / "outbox"
        sink = smtp_sink.start(outbox, settings.smtp_host, settings.smtp_port)
        click.echo(f"SMTP sink on {settings.smtp_host}:{settings.smtp_port}, mail in {outbox}")
    env = {**os.environ, "HERALD_SECRET_KEY": settings.secret_key}
    exe = [sys.executable, "-m", "herald"]
    pool = ["--pool", "threads"] if settings.is_sqlite else []
    children = [
        subprocess.Popen([*exe, "web", "--port", str(port)], env=env),
        subprocess.Popen([*exe, "worker", "--concurrency", "2", *pool], env=env),
        subprocess.Popen([*exe, "scheduler"], env=env),
    ]
    click.echo(f"starting Herald at http://127.0.0.1:{port}/admin/ …")
    if devrun.wait_until_up(f"http://127.0.0.1:{port}/healthz", children):
        click.echo(devrun.banner(port, settings.instance_path))
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        fail("a Herald process stopped; shutting the others down")
    except KeyboardInterrupt:
        click.echo("stopping…")
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if sink is not None:
            sink.stop()


@main.group()
def contacts() -> None:
    """Members: CSV import."""


@contacts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--rejects", default=None, help="Where to write rejected rows (CSV).")
@click.option("--encoding", default="utf-8", show_default=True, help="e.g. gbk, gb18030.")
@guarded
def contacts_import(file: str, rejects: str | None, encoding: str) -> None:
    """Import members from a CSV file (columns: contact fields, attributes.<key>,
    consent.<channel>); exit 0 once the file was read, even with rejected rows."""
    from herald.audiences.importcli import run_import

    settings = load_settings()
    run_import(_database(settings), settings, file, rejects, encoding)


@main.group()
def campaigns() -> None:
    """Campaigns."""


@campaigns.command("send")
@click.argument("campaign_id", type=int)
@guarded
def campaigns_send(campaign_id: int) -> None:
    """Send a campaign now (a running worker and scheduler carry it out)."""
    from herald.campaigns import service

    with _database(load_settings()).session() as session:
        campaign = service.send_now(session, service.get_campaign(session, campaign_id))
        click.echo(f"campaign {campaign.id} {campaign.name!r} is {campaign.status}")


@main.group()
def reports() -> None:
    """Reports."""


@reports.command("weekly")
@click.option("--week", default=None, help="ISO week like 2026-W47 (default: last week).")
@click.option("--send", is_flag=True, help="Email it to HERALD_REPORT_RECIPIENTS.")
@guarded
def reports_weekly(week: str | None, send: bool) -> None:
    """Print the weekly report as a table; with --send, email it too."""
    from herald.reports.cli import weekly

    weekly(load_settings(), week, send)


@main.command()
@click.option("--admin-email", default="admin@example.com")
@guarded
def demo(admin_email: str) -> None:
    """Load demo data (members, a segment, a draft campaign) into an empty database."""
    from herald.demo import load_demo

    settings = load_settings()
    with _database(settings).session() as session:
        outcome = load_demo(session, admin_email=admin_email, instance=settings.instance_path)
    click.echo(outcome)


from herald.cli_email import email as _email_commands  # noqa: E402

main.add_command(_email_commands)

if __name__ == "__main__":  # pragma: no cover
    main()
