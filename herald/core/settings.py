"""Typed settings read once from the environment.

Every variable of the contract (section 2) is parsed here and nowhere else. A malformed value
raises :class:`ConfigError` whose message names the variable, so a process stops at start with
one clear line instead of failing later inside a task.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A setting is malformed or missing; the message names the variable."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(name: str, raw: str) -> timedelta:
    """Parse ``2s``, ``500ms``, ``1.5h``, ``7d`` or a bare number of seconds."""
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name}: {raw!r} is not a duration such as 2s, 500ms, 5m or 7d")
    try:
        return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])
    except OverflowError:
        raise ConfigError(f"{name}: {raw!r} is too long a duration") from None


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``messages`` marketing messages per contact in a rolling ``window``."""

    messages: int
    window: timedelta


def parse_frequency_cap(name: str, raw: str) -> FrequencyCap | None:
    """Parse ``3/7d``; ``0`` or ``off`` turns the cap off."""
    if raw.strip().lower() in {"0", "off", "none"}:
        return None
    count, sep, window = raw.partition("/")
    if not sep or not count.strip().isdigit():
        raise ConfigError(f"{name}: {raw!r} is not a cap such as 3/7d (messages/window)")
    parsed = parse_duration(name, window)
    if parsed <= timedelta(0) or int(count) <= 0:
        raise ConfigError(f"{name}: {raw!r} needs a positive count and window")
    return FrequencyCap(int(count), parsed)


def parse_hours_range(name: str, raw: str) -> tuple[time, time] | None:
    """Parse ``21:00-09:00``; an empty value or ``off`` turns quiet hours off."""
    if raw.strip().lower() in {"", "off", "none"}:
        return None
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", raw)
    if not match:
        raise ConfigError(f"{name}: {raw!r} is not a range such as 21:00-09:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ConfigError(f"{name}: {raw!r} has an hour or minute out of range")
    return time(h1, m1), time(h2, m2)


def _zone(name: str, raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{name}: {raw!r} is not an IANA time zone such as Asia/Shanghai"
        ) from exc


def _url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ConfigError(f"{name}: {raw!r} is not a URL starting with one of {', '.join(schemes)}")
    if parts.scheme.startswith("http") and not parts.hostname:
        raise ConfigError(f"{name}: {raw!r} has no host (write it as http://host/...)")
    return raw.rstrip("/") if parts.scheme.startswith("http") else raw


def _int(name: str, raw: str, low: int = 0, high: int = 1 << 31) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {raw!r} is not a whole number") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is outside {low}..{high}")
    return value


def _float(name: str, raw: str, low: float = 0.0) -> float:
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {raw!r} is not a number") from exc
    if not math.isfinite(value):
        raise ConfigError(f"{name}: {raw!r} is not a finite number")
    if value < low:
        raise ConfigError(f"{name}: {value} is below {low}")
    return value


def _webhook_secret(name: str, raw: str | None) -> str | None:
    """A Standard Webhooks secret: ``whsec_`` and base64 of at least 16 bytes."""
    if raw is None:
        return None
    if not raw.startswith("whsec_"):
        raise ConfigError(f"{name}: must start with whsec_")
    try:
        key = base64.b64decode(raw.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{name}: the part after whsec_ is not base64") from None
    if len(key) < 16:
        raise ConfigError(f"{name}: the key after whsec_ must decode to at least 16 bytes")
    return raw


def _mail_from(name: str, raw: str) -> str:
    """A sender such as ``Shop <news@shop.example>`` or ``news@shop.example``."""
    _, address = parseaddr(raw)
    if (
        not address
        or "@" not in address
        or any(ch in raw for ch in "\r\n")
        or any(ch.isspace() for ch in address)
    ):
        raise ConfigError(f"{name}: {raw!r} is not an address such as Shop <news@shop.example>")
    return raw


def _phone_region(name: str, raw: str) -> str:
    import phonenumbers

    region = raw.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"{name}: {raw!r} is not a region code such as CN or US")
    return region


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}: {raw!r} is not true or false")


def _emails(name: str, raw: str) -> tuple[str, ...]:
    out = tuple(part.strip() for part in raw.split(",") if part.strip())
    for address in out:
        if "@" not in address or " " in address:
            raise ConfigError(f"{name}: {address!r} is not an email address")
    return out


@dataclass(frozen=True)
class Settings:
    """Everything Herald reads from its environment, parsed and checked."""

    instance_path: Path
    database_url: str
    broker_url: str
    redis_url: str | None
    secret_key: str
    public_url: str
    timezone: ZoneInfo
    smtp_host: str
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_tls: str
    smtp_configured: bool
    smtp_pool_size: int
    smtp_timeout: float
    mail_from: str
    dkim_domain: str | None
    dkim_selector: str | None
    dkim_key_file: Path | None
    sms_api_url: str | None
    sms_account_sid: str | None
    sms_auth_token: str | None
    sms_from: str | None
    social_api_url: str | None
    social_token: str | None
    shop_webhook_secret: str | None
    shop_api_url: str | None
    shop_api_secret: str | None
    report_recipients: tuple[str, ...]
    frequency_cap: FrequencyCap | None
    machine_event_window: timedelta
    sms_quiet_hours: tuple[time, time] | None
    default_phone_region: str
    batch_size: int
    batch_lease: timedelta
    requeue_after: timedelta
    flush_every: int
    tick_seconds: float
    queue: str
    api_rate_limit: str
    # security (RELIABILITY.md): cookies, proxies, throttles, outbound address checks
    secure_cookies: bool = False
    proxy_count: int = 0
    login_rate_limit: str = "10 per minute"
    login_account_rate_limit: str = "20 per 10 minutes"
    api_auth_failure_limit: str = "30 per minute"
    allow_link_local_urls: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)
    # delivered per variant below which an A/B test declares no winner (contract 13)
    ab_min_sample: int = 100
    # how long the Redis broker keeps a taken, unacknowledged wake-up before handing it out again
    # (kombu's default: one hour); see RELIABILITY.md, fault scenario 3
    broker_visibility_timeout: timedelta | None = None
    # where web processes journal opens and clicks before recording them (None: in the request)
    tracking_journal: Path | None = None

    @property
    def dkim_enabled(self) -> bool:
        """DKIM signs every email only when domain, selector and key file are all set."""
        return bool(self.dkim_domain and self.dkim_selector and self.dkim_key_file)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check every ``HERALD_*`` variable; raise :class:`ConfigError` on the first
        malformed one."""
        env = dict(os.environ if environ is None else environ)

        def get(key: str, default: str | None = None) -> str | None:
            value = env.get(f"HERALD_{key}")
            return default if value is None or value.strip() == "" else value.strip()

        instance = Path(get("INSTANCE_PATH", "instance")).absolute()

        database_url = get("DATABASE_URL", f"sqlite:///{instance / 'herald.db'}")
        database_url = normalise_database_url(database_url)
        if "://" not in database_url:
            raise ConfigError(f"HERALD_DATABASE_URL: {database_url!r} is not a SQLAlchemy URL")
        if database_url.startswith("sqlite:///") and not database_url.startswith("sqlite:////"):
            # relative SQLite paths resolve against the working directory, as the default does
            relative = database_url.removeprefix("sqlite:///")
            if relative and relative != ":memory:":
                database_url = f"sqlite:///{Path(relative).absolute()}"

        broker_url = get("BROKER_URL") or f"filesystem://{instance / 'broker'}"
        if not re.match(r"^(redis|rediss|amqp|filesystem|memory|sqla\+\w+)://", broker_url):
            raise ConfigError(
                f"HERALD_BROKER_URL: {broker_url!r} is not a broker URL (redis://, amqp://)"
            )
        redis_url = get("REDIS_URL")
        if redis_url is not None:
            _url("HERALD_REDIS_URL", redis_url, ("redis", "rediss", "unix"))

        smtp_tls = (get("SMTP_TLS", "none") or "none").lower()
        if smtp_tls not in {"none", "starttls", "ssl"}:
            raise ConfigError(f"HERALD_SMTP_TLS: {smtp_tls!r} is not one of none, starttls, ssl")

        dkim_key = get("DKIM_KEY_FILE")
        dkim_key_path = Path(dkim_key) if dkim_key else None
        dkim_parts = [get("DKIM_DOMAIN"), get("DKIM_SELECTOR"), dkim_key]
        if all(dkim_parts) and not dkim_key_path.is_file():  # type: ignore[union-attr]
            raise ConfigError(f"HERALD_DKIM_KEY_FILE: {dkim_key!r} is not a readable file")

        shop_secret = _webhook_secret("HERALD_SHOP_WEBHOOK_SECRET", get("SHOP_WEBHOOK_SECRET"))
        _webhook_secret("HERALD_EMAIL_EVENTS_SECRET", get("EMAIL_EVENTS_SECRET"))

        settings = cls(
            instance_path=instance,
            database_url=database_url,
            broker_url=broker_url,
            redis_url=redis_url,
            secret_key=get("SECRET_KEY") or _instance_secret(instance),
            public_url=_url(
                "HERALD_PUBLIC_URL", get("PUBLIC_URL", "http://127.0.0.1:5000"), ("http", "https")
            ),
            timezone=_zone("HERALD_TIMEZONE", get("TIMEZONE", "UTC")),
            smtp_host=get("SMTP_HOST", "127.0.0.1"),
            smtp_port=_int("HERALD_SMTP_PORT", get("SMTP_PORT", "1025"), 1, 65535),
            smtp_user=get("SMTP_USER"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_tls=smtp_tls,
            smtp_configured=get("SMTP_HOST") is not None,
            smtp_pool_size=_int("HERALD_SMTP_POOL_SIZE", get("SMTP_POOL_SIZE", "2"), 1, 64),
            smtp_timeout=_float("HERALD_SMTP_TIMEOUT", get("SMTP_TIMEOUT", "30"), 0.1),
            mail_from=_mail_from(
                "HERALD_MAIL_FROM", get("MAIL_FROM", "Herald <marketing@example.com>") or ""
            ),
            dkim_domain=get("DKIM_DOMAIN"),
            dkim_selector=get("DKIM_SELECTOR"),
            dkim_key_file=dkim_key_path,
            sms_api_url=_opt_url(get("SMS_API_URL"), "HERALD_SMS_API_URL"),
            sms_account_sid=get("SMS_ACCOUNT_SID"),
            sms_auth_token=get("SMS_AUTH_TOKEN"),
            sms_from=get("SMS_FROM"),
            social_api_url=_opt_url(get("SOCIAL_API_URL"), "HERALD_SOCIAL_API_URL"),
            social_token=get("SOCIAL_TOKEN"),
            shop_webhook_secret=shop_secret,
            shop_api_url=_opt_url(get("SHOP_API_URL"), "HERALD_SHOP_API_URL"),
            shop_api_secret=get("SHOP_API_SECRET"),
            report_recipients=_emails(
                "HERALD_REPORT_RECIPIENTS", get("REPORT_RECIPIENTS", "") or ""
            ),
            frequency_cap=parse_frequency_cap(
                "HERALD_FREQUENCY_CAP", get("FREQUENCY_CAP", "3/7d") or "3/7d"
            ),
            machine_event_window=parse_duration(
                "HERALD_MACHINE_EVENT_WINDOW", get("MACHINE_EVENT_WINDOW", "2s") or "2s"
            ),
            sms_quiet_hours=parse_hours_range(
                "HERALD_SMS_QUIET_HOURS", env.get("HERALD_SMS_QUIET_HOURS", "21:00-09:00")
            ),
            default_phone_region=_phone_region(
                "HERALD_DEFAULT_PHONE_REGION", get("DEFAULT_PHONE_REGION", "CN") or "CN"
            ),
            batch_size=_int("HERALD_BATCH_SIZE", get("BATCH_SIZE", "500"), 1, 100_000),
            batch_lease=parse_duration("HERALD_BATCH_LEASE", get("BATCH_LEASE", "60s")),
            requeue_after=parse_duration(
                "HERALD_REQUEUE_AFTER", get("REQUEUE_AFTER", "60s") or "60s"
            ),
            flush_every=_int("HERALD_FLUSH_EVERY", get("FLUSH_EVERY", "100"), 1, 10_000),
            tick_seconds=_float("HERALD_TICK_SECONDS", get("TICK_SECONDS", "1"), 0.05),
            queue=get("QUEUE", "herald") or "herald",
            api_rate_limit=_rate_limit(
                "HERALD_API_RATE_LIMIT", get("API_RATE_LIMIT", "600 per minute") or ""
            ),
            **_security(get, get("PUBLIC_URL", "") or ""),
            extra={k: v for k, v in env.items() if k.startswith("HERALD_")},
            tracking_journal=_journal_dir(get("TRACKING_JOURNAL"), instance),
            ab_min_sample=_int("HERALD_AB_MIN_SAMPLE", get("AB_MIN_SAMPLE", "100"), 1, 10_000_000),
            broker_visibility_timeout=_visibility(get("BROKER_VISIBILITY_TIMEOUT")),
        )
        _check_channel_settings(settings)
        return settings


def _visibility(raw: str | None) -> timedelta | None:
    """``HERALD_BROKER_VISIBILITY_TIMEOUT``: unset keeps the broker's default."""
    if raw is None:
        return None
    value = parse_duration("HERALD_BROKER_VISIBILITY_TIMEOUT", raw)
    if value < timedelta(seconds=1):
        raise ConfigError(f"HERALD_BROKER_VISIBILITY_TIMEOUT: {raw!r} is shorter than 1s")
    return value


def _check_channel_settings(settings: Settings) -> None:
    """Settings the channels read: checked here so a bad value stops the process at start, not
    a worker at its first send."""
    for provider in ("email", "sms", "social", "shop"):
        provider_rate(settings, provider)
    hard_bounce_limit(settings)
    cafile = (settings.extra.get("HERALD_SMTP_CA_FILE") or "").strip()
    if cafile and not Path(cafile).is_file():
        raise ConfigError(f"HERALD_SMTP_CA_FILE: {cafile!r} is not a readable file")
    if settings.dkim_enabled:
        assert settings.dkim_key_file is not None
        key = settings.dkim_key_file.read_bytes()
        if b"PRIVATE KEY" not in key:
            raise ConfigError(
                f"HERALD_DKIM_KEY_FILE: {str(settings.dkim_key_file)!r} holds no PEM private key"
            )


def provider_rate(settings: Settings, provider: str) -> float:
    """``HERALD_<PROVIDER>_RATE`` in messages per second; 0 when unset."""
    name = f"HERALD_{provider.upper()}_RATE"
    raw = (settings.extra.get(name) or "0").strip()
    try:
        rate = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a number of messages per second") from None
    if rate < 0:
        raise ConfigError(f"{name}: {raw!r} must be 0 (unlimited) or more")
    return rate


def hard_bounce_limit(settings: Settings) -> int:
    """``HERALD_HARD_BOUNCE_LIMIT`` (default 1): hard bounces after which an address is
    suppressed for email."""
    raw = (settings.extra.get("HERALD_HARD_BOUNCE_LIMIT") or "1").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"HERALD_HARD_BOUNCE_LIMIT: {raw!r} is not a whole number of 1 or more")
    return int(raw)


def _security(get: Callable[..., str | None], public_url: str) -> dict[str, Any]:
    """The security settings: ``HERALD_SECURE_COOKIES`` (default: on when the public URL is
    https), ``HERALD_PROXY_COUNT`` (reverse proxies whose X-Forwarded-* headers are trusted,
    default 0), the login and bad-token throttles, and ``HERALD_ALLOW_LINK_LOCAL_URLS``."""
    secure_default = "true" if public_url.startswith("https://") else "false"
    return {
        "secure_cookies": _bool(
            "HERALD_SECURE_COOKIES", get("SECURE_COOKIES", secure_default) or secure_default
        ),
        "proxy_count": _int("HERALD_PROXY_COUNT", get("PROXY_COUNT", "0") or "0", 0, 10),
        "login_rate_limit": _rate_limit(
            "HERALD_LOGIN_RATE_LIMIT", get("LOGIN_RATE_LIMIT", "10 per minute") or ""
        ),
        "login_account_rate_limit": _rate_limit(
            "HERALD_LOGIN_ACCOUNT_RATE_LIMIT",
            get("LOGIN_ACCOUNT_RATE_LIMIT", "20 per 10 minutes") or "",
        ),
        "api_auth_failure_limit": _rate_limit(
            "HERALD_API_AUTH_FAILURE_LIMIT", get("API_AUTH_FAILURE_LIMIT", "30 per minute") or ""
        ),
        "allow_link_local_urls": _bool(
            "HERALD_ALLOW_LINK_LOCAL_URLS", get("ALLOW_LINK_LOCAL_URLS", "false") or "false"
        ),
    }


def _rate_limit(name: str, raw: str) -> str:
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(
            f"{name}: {raw!r} is not a rate such as 600 per minute or 10/second"
        ) from None
    return raw


def _opt_url(raw: str | None, name: str) -> str | None:
    return None if raw is None else _url(name, raw, ("http", "https"))


def normalise_database_url(url: str) -> str:
    """Let a plain ``postgresql://`` URL pick the installed driver (psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _journal_dir(value: str | None, instance: Path) -> Path | None:
    """``HERALD_TRACKING_JOURNAL``: a directory, ``off`` (record in the request), or unset (the
    instance's ``tracking-journal``)."""
    if value is None:
        return instance / "tracking-journal"
    if value.lower() in {"off", "none", "0", "false", "no"}:
        return None
    path = Path(value).absolute()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"HERALD_TRACKING_JOURNAL: {value!r} is a file, not a directory")
    return path


def _instance_secret(instance: Path) -> str:
    """Generate the secret key into ``instance/`` once, and reuse it on later starts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
