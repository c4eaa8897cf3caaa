"""The network guard on its own: address classes, URL checks, resolution (loopback names only)."""

from __future__ import annotations

import ipaddress

import pytest
from yarl import URL

from crawler.fetch.netguard import GuardedResolver, GuardRefusal, check_url, refusal_reason, resolve_checked

REFUSED = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata service
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "2002:a00:1::1",  # 6to4 wrapping 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
]


@pytest.mark.parametrize("address", REFUSED)
def test_private_addresses_refused(address: str) -> None:
    assert refusal_reason(address) == f"拒绝访问内网地址 private address {address} refused"


@pytest.mark.parametrize("address", ["93.184.216.34", "220.181.38.148", "2606:4700::6810:85e5"])
def test_public_addresses_allowed(address: str) -> None:
    assert refusal_reason(address) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1"])
async def test_resolve_checked_refuses_private(address: str) -> None:
    with pytest.raises(GuardRefusal) as caught:
        await resolve_checked(address, 80, allow_private_networks=False)
    assert address in caught.value.reason


async def test_resolve_checked_refuses_a_name_for_loopback() -> None:
    with pytest.raises(GuardRefusal) as caught:
        await resolve_checked("localhost", 80, allow_private_networks=False)
    assert caught.value.reason == "拒绝访问内网地址 private address 127.0.0.1 refused"


async def test_resolve_checked_allows_private_when_told() -> None:
    results = await resolve_checked("127.0.0.1", 8080, allow_private_networks=True)
    assert [(r["host"], r["port"]) for r in results] == [("127.0.0.1", 8080)]


async def test_guarded_resolver_refuses() -> None:
    with pytest.raises(GuardRefusal):
        await GuardedResolver(allow_private_networks=False).resolve("localhost", 80)


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:8080/", "https://127.0.0.1/"],
)
def test_check_url_refuses_private_literals(url: str) -> None:
    with pytest.raises(GuardRefusal, match="private address"):
        check_url(URL(url), allow_private_networks=False)


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://example.com/", "https://新闻.中国/"])
def test_check_url_passes(url: str) -> None:
    check_url(URL(url), allow_private_networks=True)


def test_check_url_leaves_names_to_the_resolver() -> None:
    check_url(URL("http://example.com/"), allow_private_networks=False)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "/relative"])
def test_check_url_refuses_other_schemes(url: str) -> None:
    with pytest.raises(GuardRefusal, match="scheme"):
        check_url(URL(url), allow_private_networks=True)


INTRANET = (ipaddress.ip_network("10.1.2.0/24"), ipaddress.ip_network("127.0.0.0/8"))


@pytest.mark.parametrize("address", ["10.1.2.7", "127.0.0.1", "127.9.9.9", "::ffff:10.1.2.7"])
def test_listed_private_networks_are_let_through(address: str) -> None:
    assert refusal_reason(address, INTRANET) is None
    check_url(URL(f"http://{address}/" if ":" not in address else f"http://[{address}]/"),
              allow_private_networks=INTRANET)


@pytest.mark.parametrize("address", ["10.1.3.7", "169.254.169.254", "192.168.1.1", "::1", "fe80::1"])
def test_every_other_private_address_stays_refused(address: str) -> None:
    assert refusal_reason(address, INTRANET) == f"拒绝访问内网地址 private address {address} refused"
    assert refusal_reason(address, True) is None  # allow_private_networks: true lets everything through
