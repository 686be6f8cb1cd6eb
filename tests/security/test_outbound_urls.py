"""Outbound requests to provider and shop URLs refuse link-local and cloud metadata addresses
unless ``HERALD_ALLOW_LINK_LOCAL_URLS`` is on; loopback stays allowed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from herald.channels import http
from herald.channels.outbound import BlockedAddress, check_url
from tests.conftest import free_port


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.1.1:8080/",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.GOOGLE.INTERNAL./",
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud
        "http://[fd00:ec2::254]/",
    ],
)
def test_outbound_link_local_and_metadata_urls_are_refused(url):
    with pytest.raises(BlockedAddress):
        check_url(url)
    answer = http.call("the SMS provider", lambda: http.session().get(url, timeout=1), None)  # type: ignore[arg-type]
    assert answer.status == "permanent"
    assert "HERALD_ALLOW_LINK_LOCAL_URLS" in (answer.reason or "")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:5000/", "http://localhost/", "http://10.0.0.5/", "https://api.twilio.com/"],
)
def test_outbound_loopback_private_and_public_urls_pass_the_check(url):
    check_url(url)


class _Redirect(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", free_port()), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_outbound_a_redirect_to_a_metadata_address_is_refused(redirector):
    with pytest.raises(BlockedAddress):
        http.session().get(redirector, timeout=3)


def test_outbound_channels_read_the_setting(tmp_path):
    from herald.channels.sms import SmsChannel
    from tests.conftest import make_settings

    blocked = SmsChannel(make_settings(tmp_path, "sqlite://"))
    allowed = SmsChannel(make_settings(tmp_path, "sqlite://", allow_link_local_urls="true"))
    assert isinstance(blocked._session().get_adapter("http://x/"), http.GuardedAdapter)
    assert not isinstance(allowed._session().get_adapter("http://x/"), http.GuardedAdapter)
