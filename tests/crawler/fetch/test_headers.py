"""Request headers and their redaction for the evidence record."""

from __future__ import annotations

from crawler.fetch.headers import redacted, request_headers
from crawler.types import FetchPolicy, Validators

POLICY = FetchPolicy(
    cookie="sid=abc",
    headers=(("Authorization", "Bearer t0ken"), ("Accept-Language", "en"), ("Referer", "https://x.cn/")),
)


def test_policy_headers_override_defaults() -> None:
    headers = request_headers(POLICY, None, with_secrets=True)
    assert headers["User-Agent"] == POLICY.user_agent
    assert headers["accept-language"] == "en"
    assert headers.getall("Accept-Language") == ["en"]
    assert headers["Cookie"] == "sid=abc"
    assert headers["Referer"] == "https://x.cn/"


def test_validators_become_conditional_headers() -> None:
    headers = request_headers(
        FetchPolicy(), Validators(etag='"e1"', last_modified="Wed, 01 Jan 2025 00:00:00 GMT"), with_secrets=True
    )
    assert headers["If-None-Match"] == '"e1"'
    assert headers["If-Modified-Since"] == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert "If-None-Match" not in request_headers(FetchPolicy(), Validators(), with_secrets=True)


def test_secrets_dropped_for_another_host() -> None:
    headers = request_headers(POLICY, None, with_secrets=False)
    assert "Cookie" not in headers and "Authorization" not in headers
    assert headers["Referer"] == "https://x.cn/"


def test_redacted() -> None:
    sent = [("Cookie", "sid=abc"), ("authorization", "Bearer t0ken"), ("User-Agent", "yuqing")]
    assert redacted(sent) == (("Cookie", "<redacted>"), ("authorization", "<redacted>"), ("User-Agent", "yuqing"))
