"""The ``herald`` command line: users, tokens, sending, demo data, one-line failures."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from herald.audiences.models import Contact, ContactScore, OrderItem
from herald.campaigns.models import Campaign
from herald.campaigns.promotions import Promotion
from herald.cli import main
from herald.core.accounts import find_token
from herald.journeys.models import Journey


@pytest.fixture
def run(tmp_path, database_url):
    runner = CliRunner()
    env = {
        "HERALD_INSTANCE_PATH": str(tmp_path / "instance"),
        "HERALD_DATABASE_URL": database_url,
        "HERALD_SECRET_KEY": "cli-test",
    }

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_token_create_prints_the_token_alone_and_it_works(run, db):
    result = run("token", "create", "--name", "shop", "--role", "admin")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert token.startswith("hrld_") and "\n" not in token
    with db.session() as session:
        found = find_token(session, token)
        assert found is not None and found.role == "admin" and found.token_hash != token


def test_user_create_refuses_a_short_password_with_one_line(run):
    result = run("user", "create", "--email", "a@example.com", "--password", "short")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "herald: password must have at least 8 characters"
    ]
    ok = run(
        "user",
        "create",
        "--email",
        "a@example.com",
        "--password",
        "long enough",
        "--role",
        "viewer",
    )
    assert ok.exit_code == 0 and "created viewer a@example.com" in ok.stdout


def test_demo_loads_once_and_prints_the_admin_password_once(run, db):
    first = run("demo")
    assert first.exit_code == 0 and "demo admin: admin@example.com / " in first.stdout
    second = run("demo")
    assert "demo admin" not in second.stdout and "members exist already" in second.stdout
    with db.session() as session:
        assert session.query(Contact).count() == 120
        named = Campaign.name == "Double 11 early access (demo)"
        campaign = session.scalars(select(Campaign).where(named)).one()
        # the demo's behaviour: order lines, scores, the tea segment, the expiry journey
        assert session.query(OrderItem).count() > 100
        assert session.query(ContactScore).count() > 50
        journeys = session.scalars(select(Journey.name).order_by(Journey.name)).all()
        assert journeys == [
            "Birthday greeting and tier gift (demo)",
            "Points expiry warning (demo)",
        ]
        # the handbook's promotion: Double 11 with its draft campaigns on every channel
        promotion = session.scalars(select(Promotion)).one()
        assert promotion.name.startswith("Double 11") and promotion.kind == "holiday"
        rows = session.execute(
            select(Campaign.channel, Campaign.status).where(Campaign.promotion_id == promotion.id)
        ).all()
        assert {channel for channel, _ in rows} == {"email", "sms", "social", "member_day"}
        assert {status for _, status in rows} == {"draft"}
    sent = run("campaigns", "send", str(campaign.id))
    assert sent.exit_code == 0 and sent.stdout.strip().endswith("is scheduled")
    missing = run("campaigns", "send", "999")
    assert (
        missing.exit_code == 1 and missing.stderr.strip() == "herald: campaign 999 does not exist"
    )
