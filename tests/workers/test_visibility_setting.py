"""``HERALD_BROKER_VISIBILITY_TIMEOUT`` (fault scenario 3): the Redis broker's visibility timeout,
with its sweep for unacknowledged messages fitted to it."""

from __future__ import annotations

import pytest

from herald.core.settings import ConfigError
from herald.workers.celery_app import make_celery
from tests.conftest import make_settings


def test_the_visibility_timeout_reaches_the_broker_with_a_fitting_sweep(tmp_path):
    settings = make_settings(
        tmp_path,
        "sqlite://",
        broker_url="redis://127.0.0.1:6379/0",
        broker_visibility_timeout="60s",
    )
    options = make_celery(settings).conf.broker_transport_options
    assert options == {
        "visibility_timeout": 60.0,
        "unacked_restore_interval": 15,
        "unacked_restore_throttle": 1,
    }


def test_without_the_setting_the_broker_keeps_its_defaults(tmp_path):
    settings = make_settings(tmp_path, "sqlite://", broker_url="redis://127.0.0.1:6379/0")
    assert settings.broker_visibility_timeout is None
    assert make_celery(settings).conf.broker_transport_options == {}


@pytest.mark.parametrize("raw", ["soon", "0.2s", "-5s"])
def test_a_malformed_visibility_timeout_names_the_variable(tmp_path, raw):
    with pytest.raises(ConfigError, match="HERALD_BROKER_VISIBILITY_TIMEOUT"):
        make_settings(tmp_path, "sqlite://", broker_visibility_timeout=raw)
