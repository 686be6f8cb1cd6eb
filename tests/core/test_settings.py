"""Configuration: every malformed value stops start-up with one line naming the variable."""

from __future__ import annotations

import subprocess
import sys
from datetime import time, timedelta

import pytest

from herald.core.settings import ConfigError, Settings, parse_frequency_cap


def env(tmp_path, **values: str) -> dict[str, str]:
    return {"HERALD_INSTANCE_PATH": str(tmp_path), **{f"HERALD_{k}": v for k, v in values.items()}}


def test_defaults_follow_the_contract(tmp_path):
    settings = Settings.from_env(env(tmp_path))
    assert settings.database_url == f"sqlite:///{tmp_path}/herald.db"
    assert settings.public_url == "http://127.0.0.1:5000"
    assert settings.timezone.key == "UTC"
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == (
        "127.0.0.1",
        1025,
        "none",
    )
    assert settings.mail_from == "Herald <marketing@example.com>"
    assert settings.frequency_cap is not None
    assert (settings.frequency_cap.messages, settings.frequency_cap.window) == (
        3,
        timedelta(days=7),
    )
    assert settings.machine_event_window == timedelta(seconds=2)
    assert settings.sms_quiet_hours == (time(21), time(9))
    assert not settings.dkim_enabled
    assert not settings.smtp_configured
    assert settings.broker_url.startswith("filesystem://")
    assert settings.ab_min_sample == 100
    assert Settings.from_env(env(tmp_path, AB_MIN_SAMPLE="250")).ab_min_sample == 250


def test_the_secret_key_is_generated_once_and_kept(tmp_path):
    first = Settings.from_env(env(tmp_path)).secret_key
    assert len(first) > 40
    assert Settings.from_env(env(tmp_path)).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_plain_postgresql_url_picks_the_installed_driver(tmp_path):
    settings = Settings.from_env(env(tmp_path, DATABASE_URL="postgresql://u:p@db/herald"))
    assert settings.database_url == "postgresql+psycopg://u:p@db/herald"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMTP_PORT", "smtp"),
        ("SMTP_PORT", "70000"),
        ("SMTP_TLS", "maybe"),
        ("TIMEZONE", "Mars/Olympus"),
        ("PUBLIC_URL", "herald.example.com"),
        ("FREQUENCY_CAP", "three a week"),
        ("FREQUENCY_CAP", "3/0d"),
        ("MACHINE_EVENT_WINDOW", "soon"),
        ("SMS_QUIET_HOURS", "21-9"),
        ("SMS_QUIET_HOURS", "25:00-09:00"),
        ("REPORT_RECIPIENTS", "boss@example.com, not-an-email"),
        ("SHOP_WEBHOOK_SECRET", "plain-secret"),
        ("REDIS_URL", "localhost:6379"),
        ("BROKER_URL", "kafka://x"),
        ("SMS_API_URL", "ftp://sms"),
        ("BATCH_SIZE", "0"),
        ("API_RATE_LIMIT", "lots"),
        ("EMAIL_RATE", "fast"),
        ("SMS_RATE", "-1"),
        ("HARD_BOUNCE_LIMIT", "0"),
        ("SMTP_CA_FILE", "/nope/ca.pem"),
        ("SHOP_WEBHOOK_SECRET", "whsec_"),
        ("SHOP_WEBHOOK_SECRET", "whsec_YWJj"),
        ("SHOP_WEBHOOK_SECRET", "whsec_!!!"),
        ("EMAIL_EVENTS_SECRET", "whsec_"),
        ("EMAIL_EVENTS_SECRET", "plain-secret"),
        ("TICK_SECONDS", "nan"),
        ("TICK_SECONDS", "inf"),
        ("SMTP_TIMEOUT", "nan"),
        ("MACHINE_EVENT_WINDOW", "99999999999d"),
        ("FREQUENCY_CAP", "3/99999999999d"),
        ("BATCH_LEASE", "99999999999d"),
        ("MAIL_FROM", "not an address"),
        ("MAIL_FROM", "a@b.com\r\nBcc: x@y.com"),
        ("PUBLIC_URL", "http:foo"),
        ("DEFAULT_PHONE_REGION", "ZZ"),
        ("AB_MIN_SAMPLE", "many"),
        ("AB_MIN_SAMPLE", "0"),
    ],
)
def test_a_malformed_value_names_its_variable(tmp_path, name, value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env(tmp_path, **{name: value}))
    assert str(caught.value).startswith(f"HERALD_{name}:")
    assert "\n" not in str(caught.value)


def test_dkim_needs_a_readable_key_file(tmp_path):
    with pytest.raises(ConfigError, match="HERALD_DKIM_KEY_FILE"):
        Settings.from_env(
            env(tmp_path, DKIM_DOMAIN="shop.com", DKIM_SELECTOR="s1", DKIM_KEY_FILE="/nope.pem")
        )


def test_a_dkim_key_file_must_hold_a_private_key(tmp_path):
    key = tmp_path / "dkim.pem"
    key.write_text("not a key")
    with pytest.raises(ConfigError, match=r"^HERALD_DKIM_KEY_FILE: .* holds no PEM private key"):
        Settings.from_env(
            env(tmp_path, DKIM_DOMAIN="shop.com", DKIM_SELECTOR="s1", DKIM_KEY_FILE=str(key))
        )


def test_frequency_cap_can_be_turned_off():
    assert parse_frequency_cap("HERALD_FREQUENCY_CAP", "off") is None
    assert parse_frequency_cap("HERALD_FREQUENCY_CAP", "5/24h").window == timedelta(hours=24)


def test_the_cli_stops_with_one_line_naming_the_variable(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "herald", "db", "upgrade"],
        env={
            "PATH": "/usr/bin:/bin",
            "HERALD_INSTANCE_PATH": str(tmp_path),
            "HERALD_SMTP_TLS": "tls1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "herald: configuration error: HERALD_SMTP_TLS: 'tls1' is not one of none, starttls, ssl"
    ]
