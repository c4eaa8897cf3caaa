"""The browser keys of sources.yaml: ``render`` per source, ``screenshot`` with defaults, ``browser:``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crawler.config.sources import SourcesFile
from crawler.fetch.browser import BrowserSettings


def sources(**top: object) -> SourcesFile:
    return SourcesFile.model_validate({
        **top,
        "sources": [
            {"id": "plain", "type": "news", "url": "http://example.cn/a/"},
            {"id": "js", "type": "news", "url": "http://example.cn/b/", "render": True},
            {"id": "no-shot", "type": "news", "url": "http://example.cn/c/", "screenshot": False},
        ],
    })


def test_off_by_default_and_screenshot_follows_defaults_then_source() -> None:
    plain = sources()
    assert [plain.needs_browser(s) for s in plain.sources] == [False, True, False]
    shots = sources(defaults={"screenshot": True})
    assert [bool(shots.setting(s, "screenshot", False)) for s in shots.sources] == [True, True, False]
    assert [shots.needs_browser(s) for s in shots.sources] == [True, True, False]


def test_browser_section_becomes_settings() -> None:
    assert BrowserSettings.from_config(sources().browser) == BrowserSettings(executable=None, pages=2, timeout_s=30.0)
    options = sources(browser={"executable": "/usr/bin/chromium", "pages": 4, "timeout": "45s"}).browser
    assert BrowserSettings.from_config(options) == BrowserSettings("/usr/bin/chromium", 4, 45.0)


@pytest.mark.parametrize(("top", "source", "message"), [
    ({"browser": {"page": 2}}, {}, "page"),  # misspelt key
    ({"browser": {"pages": 0}}, {}, "pages"),
    ({"browser": {"timeout": "0s"}}, {}, "timeout"),
    ({}, {"type": "rss", "render": True}, "rss 来源不能用 render"),
    ({}, {"render": "sometimes"}, "render"),
])
def test_bad_values_are_refused(top: dict[str, object], source: dict[str, object], message: str) -> None:
    spec = {"id": "x", "type": "news", "url": "http://example.cn/", **source}
    with pytest.raises(ValidationError, match=message):
        SourcesFile.model_validate({**top, "sources": [spec]})
