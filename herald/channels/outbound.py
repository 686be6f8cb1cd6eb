"""Where Herald's outbound HTTP may go: provider and shop URLs come from settings an operator (or
someone who took over the admin's environment) wrote, so every request is checked before it
leaves. Link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata endpoints are refused
unless ``HERALD_ALLOW_LINK_LOCAL_URLS`` is on; loopback and private networks stay allowed (tests,
``make run`` and self-hosted providers use them)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter

METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
        "metadata.tencentyun.com",
    }
)
# metadata services outside 169.254.0.0/16: Alibaba Cloud, AWS over IPv6, Oracle Cloud's alias
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "192.0.0.192")
)


class BlockedAddress(ValueError):
    """The URL points at a link-local or metadata address."""


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local or ip in METADATA_ADDRESSES


def check_url(url: str) -> None:
    """Raise :class:`BlockedAddress` when ``url``'s host is a metadata name or resolves to a
    link-local or metadata address."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host:
        raise BlockedAddress(f"{url!r} names no host")
    if host in METADATA_HOSTS:
        raise BlockedAddress(f"{host} is a cloud metadata endpoint")
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return  # requests reports the failure to resolve in its own words
    for info in infos:
        address = str(info[4][0])
        if _blocked(address):
            raise BlockedAddress(f"{host} resolves to {address}, a link-local or metadata address")


class GuardedAdapter(HTTPAdapter):
    """An adapter that checks every request (redirects included) with :func:`check_url`."""

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        check_url(request.url)
        return super().send(request, *args, **kwargs)
