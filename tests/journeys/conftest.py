"""Fixtures for journey tests: settings with the shop secret, a real SMTP server and a
Twilio-shaped SMS server."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.channels.registry import close_all
from herald.core.settings import Settings
from tests.channels.fake_provider import Answer, fake_provider
from tests.conftest import make_settings
from tests.journeys.support import SECRET

SID = "AC0123456789abcdef"


@pytest.fixture(autouse=True)
def _fresh_channels():  # type: ignore[no-untyped-def]
    yield
    close_all()


@pytest.fixture
def sms():  # type: ignore[no-untyped-def]
    def ok(seen):  # type: ignore[no-untyped-def]
        return Answer(201, {"sid": f"SM{len(seen.body)}", "status": "queued"})

    with fake_provider(ok) as provider:
        yield provider


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp_server, sms) -> Settings:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return make_settings(
        tmp_path,
        database_url,
        shop_webhook_secret=SECRET,
        smtp_port=str(port),
        sms_api_url=sms.url,
        sms_account_sid=SID,
        sms_auth_token="secret-token",
        sms_from="+15005550006",
        sms_quiet_hours="off",
        machine_event_window="0s",
    )
