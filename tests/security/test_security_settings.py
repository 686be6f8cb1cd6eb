"""The security settings: defaults, and a malformed value stops the process naming the variable."""

from __future__ import annotations

import pytest

from herald.core.settings import ConfigError, Settings


def _env(**values: str) -> dict[str, str]:
    return {"HERALD_SECRET_KEY": "k", **{f"HERALD_{k.upper()}": v for k, v in values.items()}}


def test_security_settings_defaults_are_safe():
    settings = Settings.from_env(_env())
    assert settings.secure_cookies is False  # the default public URL is plain http
    assert settings.proxy_count == 0
    assert settings.allow_link_local_urls is False
    assert Settings.from_env(_env(public_url="https://shop.example")).secure_cookies is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("proxy_count", "two"),
        ("proxy_count", "-1"),
        ("secure_cookies", "maybe"),
        ("login_rate_limit", "lots"),
        ("login_account_rate_limit", "10 per fortnight"),
        ("api_auth_failure_limit", "x"),
        ("allow_link_local_urls", "sometimes"),
    ],
)
def test_security_settings_a_malformed_value_names_the_variable(name, value):
    with pytest.raises(ConfigError, match=f"HERALD_{name.upper()}"):
        Settings.from_env(_env(**{name: value}))
