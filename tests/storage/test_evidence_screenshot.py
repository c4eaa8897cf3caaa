"""The screenshot in an evidence bundle: added after the hit, listed with its digest, verified,
exported, and never replaced."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler.types import FetchResult, Item
from storage.evidence import EvidenceStore

AT = datetime(2026, 11, 30, 5, 7, tzinfo=UTC)
BODY = "<html><body><p>化隆二幼多名幼儿午餐后呕吐。</p></body></html>".encode()
PNG = b"\x89PNG\r\n\x1a\n" + b"screenshot pixels" * 10
RESULT = FetchResult(url="http://news.example.cn/1", final_url="http://news.example.cn/1", status=200,
                     headers=(("Content-Type", "text/html; charset=utf-8"),), body=BODY, text=BODY.decode(),
                     encoding="utf-8", fetched_at=AT, elapsed_ms=3)
ITEM = Item(url="http://news.example.cn/1", source_id="news", title="幼儿不适", text="化隆二幼多名幼儿午餐后呕吐。",
            fetched_at=AT)


def test_a_bundle_without_screenshot_is_whole_and_one_added_later_is_verified(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    digest = store.save(RESULT, [ITEM])
    assert store.verify(digest).ok and not store.has_screenshot(digest)
    store.add_screenshot(digest, PNG, AT + timedelta(seconds=3))
    manifest = json.loads(store.paths(digest)[1].read_text(encoding="utf-8"))
    assert manifest["screenshot"]["file"] == f"{digest}.png"
    assert manifest["screenshot"]["taken_at"] == (AT + timedelta(seconds=3)).isoformat()
    assert store.screenshot_path(digest).read_bytes() == PNG and store.verify(digest).ok
    store.add_screenshot(digest, b"another picture", AT + timedelta(hours=1))  # the first one stays
    assert store.screenshot_path(digest).read_bytes() == PNG and store.verify(digest).ok
    with zipfile.ZipFile(store.export_zip(digest, tmp_path / "e.zip")) as bundle:
        assert bundle.read("screenshot.png") == PNG


def test_altered_or_removed_screenshot_is_detected(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    digest = store.save(RESULT, [ITEM])
    store.add_screenshot(digest, PNG, AT)
    store.screenshot_path(digest).write_bytes(PNG.replace(b"pixels", b"pixelz"))
    assert "截图已被改动" in " ".join(store.verify(digest).problems)
    store.screenshot_path(digest).unlink()
    assert "截图文件缺失" in " ".join(store.verify(digest).problems)


def test_an_unlisted_png_is_not_exported(tmp_path: Path) -> None:
    """A crash between writing the PNG and the manifest leaves a file nothing vouches for."""
    store = EvidenceStore(tmp_path)
    digest = store.save(RESULT, [ITEM])
    store.screenshot_path(digest).write_bytes(PNG)
    assert store.verify(digest).ok
    with zipfile.ZipFile(store.export_zip(digest, tmp_path / "e.zip")) as bundle:
        assert "screenshot.png" not in bundle.namelist()
