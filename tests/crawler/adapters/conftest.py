"""Build ``FetchResult`` objects from saved pages, as the fetcher would hand them to an adapter.

The text is decoded with the encoding the test names (every saved page here is UTF-8), so these
tests do not depend on the fetcher's charset detection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.types import FetchResult

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
FETCHED_AT = datetime(2024, 5, 13, 8, 0, tzinfo=timezone.utc)

MakeResult = Callable[..., FetchResult]


@pytest.fixture
def data_dir() -> Path:
    """``tests/data``: fixture pages copied from the shared collection (see its README)."""
    return DATA_DIR


@pytest.fixture
def make_result() -> MakeResult:
    """``make_result(body, url, encoding=..., content_type=...)`` → a 200 ``FetchResult``;
    ``body`` is bytes or ``str`` (then encoded with ``encoding``), or a path under ``tests/data``."""

    def make(body: bytes | str | Path, url: str = "http://www.example.cn/news/1.html", *,
             encoding: str = "utf-8", content_type: str | None = "text/html; charset=utf-8") -> FetchResult:
        if isinstance(body, Path):
            raw = (DATA_DIR / body).read_bytes()
        else:
            raw = body.encode(encoding) if isinstance(body, str) else body
        return FetchResult(
            url=url, final_url=url, status=200,
            headers=(("Content-Type", content_type),) if content_type else (),
            body=raw, text=raw.decode(encoding, "replace"), encoding=encoding,
            fetched_at=FETCHED_AT, elapsed_ms=12,
        )

    return make
