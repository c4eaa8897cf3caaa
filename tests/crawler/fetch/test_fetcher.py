"""End-to-end: the Fetcher against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC
from typing import TYPE_CHECKING

import pytest

from crawler.fetch import Fetcher
from crawler.types import FetchError, FetchPolicy

if TYPE_CHECKING:
    from conftest import LocalServer


def same_page(decoded: str, utf8_twin: str) -> bool:
    """The twin was saved without the <meta charset> line (and with a final newline): compare the rest."""
    return [line for line in decoded.splitlines() if "<meta charset" not in line] == utf8_twin.splitlines()


async def test_plain_page(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    result = await fetcher.fetch(server.url("/plain"), policy)
    assert result.status == 200
    assert result.text == server.PLAIN_HTML
    assert result.encoding == "utf-8"
    assert result.final_url == server.url("/plain")
    assert result.fetched_at.tzinfo is UTC
    assert result.elapsed_ms >= 0
    assert not result.not_modified


async def test_request_headers_sent_and_cookie_redacted(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy
) -> None:
    policy = replace(policy, cookie="session=s3cret", headers=(("X-Trace", "abc"),))
    result = await fetcher.fetch(server.url("/plain"), policy)
    seen = server.state.request_headers["/plain"]
    assert seen["Cookie"] == "session=s3cret"
    assert seen["User-Agent"] == policy.user_agent
    assert seen["X-Trace"] == "abc"
    recorded = dict(result.request_headers)
    assert recorded["Cookie"] == "<redacted>"
    assert "s3cret" not in repr(result.request_headers)
    assert recorded["User-Agent"] == policy.user_agent
    assert "gzip" in recorded["Accept-Encoding"]


async def test_cookie_not_sent_after_redirect_to_another_host(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy
) -> None:
    policy = replace(policy, cookie="session=s3cret")
    other_host = f"http://localhost:{server.port}/plain"
    result = await fetcher.fetch(server.url(f"/redirect?to={other_host}"), policy)
    assert result.final_url == other_host
    assert "Cookie" not in server.state.request_headers["/plain"]
    assert server.state.request_headers["/redirect"]["Cookie"] == "session=s3cret"


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compressed_page_is_decompressed(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy, coding: str
) -> None:
    result = await fetcher.fetch(server.url(f"/compressed/{coding}"), policy)
    assert result.text == server.GZIP_TEXT
    assert dict(result.headers)["Content-Encoding"] == coding


async def test_gbk_page_with_meta_charset(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy, utf8_twin: str
) -> None:
    result = await fetcher.fetch(server.url("/gbk"), policy)
    assert result.encoding == "gb18030"
    assert same_page(result.text, utf8_twin)
    assert "<title>美华人为梁彼得请愿签名 43城万人游行声援(图)_网易新闻中心</title>" in result.text


async def test_page_declaring_utf8_but_sending_gbk(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy, utf8_twin: str
) -> None:
    result = await fetcher.fetch(server.url("/liar"), policy)
    assert result.encoding == "gb18030"
    assert same_page(result.text, utf8_twin)


async def test_forced_encoding_wins(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    result = await fetcher.fetch(server.url("/gbk"), replace(policy, encoding="big5"))
    assert result.encoding == "big5"


async def test_robots_txt_disallows_path(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    policy = replace(policy, obey_robots=True)
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/private"), policy)
    assert "robots.txt" in caught.value.reason
    assert server.state.hits["/private"] == 0
    await fetcher.fetch(server.url("/plain"), policy)
    await fetcher.fetch(server.url("/plain"), policy)
    assert server.state.hits["/robots.txt"] == 1  # cached per host


async def test_robots_txt_ignored_when_policy_says_so(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy
) -> None:
    result = await fetcher.fetch(server.url("/private"), replace(policy, obey_robots=False))
    assert result.text == "members only"
    assert server.state.hits["/robots.txt"] == 0


@pytest.mark.parametrize("robots_status", [404, 500])
async def test_missing_or_broken_robots_txt_allows_all(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy, robots_status: int
) -> None:
    server.state.robots_status = robots_status
    result = await fetcher.fetch(server.url("/private"), replace(policy, obey_robots=True))
    assert result.text == "members only"


async def test_robots_txt_checked_on_redirect_target(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy
) -> None:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/redirect?to=/private"), replace(policy, obey_robots=True))
    assert caught.value.reason == "robots.txt 禁止 disallowed by robots.txt"
    assert server.state.hits["/private"] == 0


async def test_conditional_get_returns_not_modified(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    first = await fetcher.fetch(server.url("/etag"), policy)
    assert first.status == 200 and first.validators.etag == '"v1"'
    second = await fetcher.fetch(server.url("/etag"), policy, first.validators)
    assert second.not_modified and second.status == 304
    assert second.body == b"" and second.text == ""
    sent = server.state.request_headers["/etag"]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Wed, 01 Jan 2025 00:00:00 GMT"


async def test_retry_after_500(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    result = await fetcher.fetch(server.url("/flaky"), replace(policy, retries=2))
    assert result.text == "recovered"
    assert server.state.hits["/flaky"] == 2


async def test_always_500_fails_after_retries(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/always500"), replace(policy, retries=2))
    assert caught.value.reason == "HTTP 500"
    assert server.state.hits["/always500"] == 3


async def test_4xx_is_not_retried(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/status/404"), replace(policy, retries=2))
    assert caught.value.reason == "HTTP 404"
    assert server.state.hits["/status/404"] == 1


async def test_429_honours_retry_after(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    started = time.monotonic()
    result = await fetcher.fetch(server.url("/ratelimited"), replace(policy, retries=1))
    assert result.text == "welcome back"
    assert time.monotonic() - started >= 0.95


async def test_429_with_long_retry_after_fails_at_once(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy
) -> None:
    with pytest.raises(FetchError, match="Retry-After too long"):
        await fetcher.fetch(server.url("/ratelimited-long"), replace(policy, retries=3))
    assert server.state.hits["/ratelimited-long"] == 1


async def test_redirect_is_followed(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    result = await fetcher.fetch(server.url("/redirect?to=/plain"), policy)
    assert result.final_url == server.url("/plain")
    assert result.url == server.url("/redirect?to=/plain")


async def test_redirect_loop_is_cut(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    with pytest.raises(FetchError, match="重定向过多 too many redirects"):
        await fetcher.fetch(server.url("/loop"), replace(policy, max_redirects=3))
    assert server.state.hits["/loop"] == 4


async def test_loopback_refused_before_any_request(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    strict = replace(policy, allow_private_networks=False)
    with pytest.raises(FetchError) as literal:
        await fetcher.fetch(server.url("/plain"), strict)
    assert literal.value.reason == "拒绝访问内网地址 private address 127.0.0.1 refused"
    # A host name is checked by the resolver, on the addresses the connection would use.
    with pytest.raises(FetchError) as named:
        await fetcher.fetch(f"http://localhost:{server.port}/plain", strict)
    assert named.value.reason == "拒绝访问内网地址 private address 127.0.0.1 refused"
    assert sum(server.state.hits.values()) == 0


@pytest.mark.parametrize("location", ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
                                      "http://[::ffff:10.0.0.1]/"])
async def test_redirect_to_private_address_refused(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy, location: str
) -> None:
    # The test server lives on loopback: allow exactly 127.0.0.0/8, as sources.yaml can
    # (allow_private_networks: [127.0.0.0/8]); every other private address stays refused.
    strict = replace(policy, allow_private_networks=(ipaddress.ip_network("127.0.0.0/8"),), connect_timeout_s=0.5)
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url(f"/redirect?to={location}"), strict)
    assert caught.value.reason.startswith("拒绝访问内网地址 private address")
    assert server.state.hits["/redirect"] == 1


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/file", "file:///etc/passwd", "javascript:alert(1)"])
async def test_non_http_schemes_refused(fetcher: Fetcher, policy: FetchPolicy, url: str) -> None:
    with pytest.raises(FetchError, match="scheme"):
        await fetcher.fetch(url, policy)


async def test_oversized_body_refused_by_content_length(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy
) -> None:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/big"), replace(policy, max_body_bytes=100_000, retries=2))
    assert caught.value.reason == "响应过大 body larger than 100000 bytes"
    assert server.state.hits["/big"] == 1


async def test_oversized_stream_aborted_early(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    with pytest.raises(FetchError, match="响应过大"):
        await fetcher.fetch(server.url("/stream"), replace(policy, max_body_bytes=200_000))
    await asyncio.sleep(0.1)
    assert server.state.streamed_bytes < server.STREAM_TOTAL_BYTES // 4


async def test_gzip_bomb_refused_with_bounded_memory(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="响应过大 body larger than 1048576 bytes"):
            await fetcher.fetch(server.url("/bomb"), replace(policy, max_body_bytes=1024 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # the bomb inflates to 32 MB


async def test_slow_server_times_out(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/slow"), replace(policy, read_timeout_s=0.2))
    assert caught.value.reason == "超时 timeout"
    assert time.monotonic() - started < 0.9


async def test_connection_refused_is_retried_then_reported(fetcher: Fetcher, policy: FetchPolicy) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match="连接失败 connection failed"):
        await fetcher.fetch(f"http://127.0.0.1:{port}/", replace(policy, retries=1))


async def test_per_host_delay_between_starts(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    polite = replace(policy, delay_s=0.5)
    await asyncio.gather(*(fetcher.fetch(server.url("/stamp"), polite) for _ in range(3)))
    first, second, third = sorted(server.state.starts)
    # stamped where the server sees each request: on a loaded machine one may arrive late,
    # making the next gap look shorter by as much; 0.1 s of that is tolerated
    assert second - first >= 0.4
    assert third - second >= 0.4


async def test_per_host_concurrency_limit(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    limited = replace(policy, per_host=2)
    await asyncio.gather(*(fetcher.fetch(server.url("/hold"), limited) for _ in range(6)))
    assert server.state.hits["/hold"] == 6
    assert server.state.max_active == 2


async def test_fetch_after_close_opens_a_new_pool(server: LocalServer, fetcher: Fetcher, policy: FetchPolicy) -> None:
    await fetcher.fetch(server.url("/plain"), policy)
    await fetcher.close()
    result = await fetcher.fetch(server.url("/plain"), policy)
    assert result.status == 200


async def test_header_injection_refused_without_leaking_aiohttp_errors(
    server: LocalServer, fetcher: Fetcher, policy: FetchPolicy
) -> None:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/plain"), replace(policy, cookie="a=1\r\nX-Injected: 1"))
    assert caught.value.reason == "请求头无效 invalid request header"
    assert server.state.hits["/plain"] == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1/", "无效网址 invalid URL"),
        ("https://127.0.0.1:99999/", "无效网址 invalid URL"),
        ("http:///nohost", "网址缺少主机 URL without host refused"),
        ("http://2130706433/", "无效网址 invalid URL"),  # 127.0.0.1 as one number: aiohttp refuses it
        ("http://0x7f.1/", "拒绝访问内网地址 private address 127.0.0.1 refused"),  # resolved, then refused
    ],
)
async def test_bad_urls_give_readable_reasons(fetcher: Fetcher, policy: FetchPolicy, url: str, reason: str) -> None:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url, replace(policy, allow_private_networks=False))
    assert caught.value.reason == reason
