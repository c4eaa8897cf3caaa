"""Evidence bundles: written once, verified against three digests, any tampering detected."""

import gzip
import io
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.types import FetchResult, Item
from storage.evidence import EvidenceStore

BODY = "<html><body><p>家长反映，化隆二幼多名幼儿午餐后呕吐。</p></body></html>".encode("gbk")
AT = datetime(2026, 11, 30, 5, 7, tzinfo=timezone.utc)


def result() -> FetchResult:
    return FetchResult(url="http://bbs.example.cn/t/1", final_url="http://bbs.example.cn/t/1?x=1", status=200,
                       headers=(("Content-Type", "text/html"), ("Content-Encoding", "gzip")), body=BODY,
                       text=BODY.decode("gbk"), encoding="gb18030", fetched_at=AT, elapsed_ms=5,
                       request_headers=(("User-Agent", "yuqing"), ("Cookie", "<redacted>")))


ITEM = Item(url="http://bbs.example.cn/t/1", source_id="bbs", title="幼儿呕吐", text="化隆二幼多名幼儿午餐后呕吐。",
            fetched_at=AT)


def test_warc_holds_the_exchange_and_text(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    digest = store.save(result(), [ITEM])
    warc, manifest = store.paths(digest)
    records = {r.rec_type: r for r in ArchiveIterator(io.BytesIO(warc.read_bytes()))}
    assert set(records) == {"request", "response", "resource"}
    assert records["request"].http_headers.get_header("Cookie") == "<redacted>"
    records = {}
    for record in ArchiveIterator(io.BytesIO(warc.read_bytes())):
        records[record.rec_type] = (record.content_stream().read(), record.http_headers)
    assert records["response"][0] == BODY  # the raw bytes, GBK as served
    assert records["response"][1].get_header("Content-Encoding") is None  # stored decompressed
    assert "化隆二幼多名幼儿午餐后呕吐" in records["resource"][0].decode()
    assert json.loads(manifest.read_text())["fetched_at"] == AT.isoformat()
    assert store.save(result(), [ITEM]) == digest  # idempotent
    assert store.verify(digest).ok


def test_tampering_is_detected(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    digest = store.save(result(), [ITEM])
    warc, manifest = store.paths(digest)
    original = warc.read_bytes()
    # rewrite the archive with an altered body (a valid gzip, so only the digests can tell)
    tampered = gzip.compress(gzip.decompress(original).replace("呕吐".encode("gbk"), "正常".encode("gbk")))
    warc.write_bytes(tampered)
    problems = " ".join(store.verify(digest).problems)
    assert "WARC" in problems and "SHA-256" in problems
    warc.write_bytes(original)
    assert store.verify(digest).ok
    data = json.loads(manifest.read_text())
    data["text_sha256"] = "0" * 64
    manifest.write_text(json.dumps(data))
    assert not store.verify(digest).ok
    assert not store.verify("f" * 64).ok  # no bundle at all


def test_export_zip(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    digest = store.save(result(), [ITEM])
    out = store.export_zip(digest, tmp_path / "bundle.zip", extra={"处理单.txt": "测试".encode()})
    with zipfile.ZipFile(out) as bundle:
        assert sorted(bundle.namelist()) == sorted([f"{digest}.warc.gz", "manifest.json", "text.txt", "处理单.txt"])
        assert "化隆二幼" in bundle.read("text.txt").decode()
