"""Network guard: the fetcher may only reach public http(s) hosts (SSRF protection).

A page, a redirect or a robots.txt under a hostile site's control must not make the daemon talk
to the metadata service (169.254.169.254), the database on 10.x or a service on loopback.

Policy settings read: ``allow_private_networks`` (by the caller): ``True`` lets every address
through; a tuple of networks lets exactly those through (an intranet forum on 10.1.2.0/24, or
127.0.0.0/8 for a site on this machine) and still refuses every other private address.

Two checks, both needed:

* ``check_url`` before each request (every redirect hop): scheme and IP-literal hosts, which
  aiohttp connects to without asking any resolver.
* ``GuardedResolver`` inside the connector for host names: the addresses it approves are the very
  addresses the connection is made to, so a DNS answer that changes between a check and the
  connect (DNS rebinding) cannot slip a private address through.
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

_SCHEMES = frozenset({"http", "https"})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Allowed = bool | tuple[Network, ...]  # FetchPolicy.allow_private_networks


class GuardRefusal(OSError):
    """The guard refused a URL or an address.

    An ``OSError`` so that, raised by the resolver inside aiohttp's connector, it surfaces as a
    connection error that still carries our reason (``ClientConnectorError.os_error``).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, NAT64): it is the one really reached."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(address: str, allowed: Allowed = False) -> str | None:
    """Why a numeric address may not be contacted, or None when it is a public address (or one
    ``allowed`` lets through)."""
    if allowed is True:
        return None
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    except ValueError:
        return f"无法识别的地址 unparsable address {address} refused"
    if isinstance(ip, ipaddress.IPv6Address):
        ip = _embedded_ipv4(ip) or ip
    if allowed and any(ip.version == net.version and ip in net for net in allowed):
        return None
    if (
        not ip.is_global
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    ):
        return f"拒绝访问内网地址 private address {address} refused"
    return None


def check_url(url: URL, *, allow_private_networks: Allowed) -> None:
    """Refuse a non-http(s) URL, and a private IP-literal host unless private networks are allowed.

    Host names are left to ``GuardedResolver``, which checks them when the connection is made.
    """
    if url.scheme not in _SCHEMES:
        raise GuardRefusal(f"不支持的协议 scheme {url.scheme!r} refused")
    host = url.host
    if not host:
        raise GuardRefusal("网址缺少主机 URL without host refused")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return
    reason = refusal_reason(host, allow_private_networks)
    if reason is not None:
        raise GuardRefusal(reason)


async def resolve_checked(
    host: str, port: int, *, allow_private_networks: Allowed, family: int = socket.AF_UNSPEC
) -> list[ResolveResult]:
    """Resolve with the event loop's getaddrinfo; refuse if ANY address is not public.

    Refusing on any (not only the first) address matters: the connector tries them in turn.
    """
    results = await ThreadedResolver().resolve(host, port, family=socket.AddressFamily(family))
    for result in results:
        reason = refusal_reason(result["host"], allow_private_networks)
        if reason is not None:
            raise GuardRefusal(reason)
    return results


class GuardedResolver(AbstractResolver):
    """The connector's resolver: it only hands out addresses the guard approved."""

    def __init__(self, *, allow_private_networks: Allowed) -> None:
        self._allow_private_networks = allow_private_networks

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return await resolve_checked(host, port, allow_private_networks=self._allow_private_networks, family=family)

    async def close(self) -> None:
        """Nothing to release: each lookup uses the loop's own executor."""
