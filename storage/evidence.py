"""Evidence of a hit, kept the moment it is found (posts get deleted): the raw HTTP exchange in a
WARC file, the extracted text, and a manifest of SHA-256 digests.

Files are content-addressed by the SHA-256 of the response body, which the ``items`` row also
records, so a bundle is written before the database commit (a stored hit always has its evidence)
and writing it twice is harmless. Verification compares three independent copies of the digest:
the WARC payload itself, the manifest, and the database.

An optional full-page screenshot (``<sha256>.png``) is added after the commit, because taking it
may be slow or fail and must never hold up or endanger the hit: its digest goes into the manifest,
so ``verify`` detects an altered or removed screenshot, and a bundle without one is still whole.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.types import FetchResult, Item

# Headers describing the transfer, not the stored bytes (the body is kept decompressed).
_TRANSFER_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    problems: tuple[str, ...]
    manifest: dict[str, object]


class EvidenceStore:
    """``DATA/evidence/ab/<sha256>.warc.gz`` plus ``<sha256>.json`` (the manifest)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def paths(self, body_sha256: str) -> tuple[Path, Path]:
        folder = self.root / body_sha256[:2]
        return folder / f"{body_sha256}.warc.gz", folder / f"{body_sha256}.json"

    def screenshot_path(self, body_sha256: str) -> Path:
        return self.root / body_sha256[:2] / f"{body_sha256}.png"

    def has_screenshot(self, body_sha256: str) -> bool:
        _, manifest_path = self.paths(body_sha256)
        return manifest_path.exists() and "screenshot" in json.loads(manifest_path.read_text(encoding="utf-8"))

    def add_screenshot(self, body_sha256: str, png: bytes, taken_at: datetime) -> None:
        """Keep the page's screenshot beside its WARC and record its digest in the manifest.

        The PNG is written (fsynced) before the manifest names it, so a crash in between leaves an
        unlisted file, never a listed one that is missing. A bundle keeps its first screenshot.
        """
        _, manifest_path = self.paths(body_sha256)
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if "screenshot" in manifest:
            return
        path = self.screenshot_path(body_sha256)
        _write_atomic(path, png)
        manifest["screenshot"] = {"file": path.name, "sha256": hashlib.sha256(png).hexdigest(),
                                  "taken_at": taken_at.isoformat()}
        _write_atomic(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))

    def save(self, result: FetchResult, items: list[Item]) -> str:
        """Write the bundle (idempotent); returns the body digest that names it."""
        digest = result.sha256
        warc_path, manifest_path = self.paths(digest)
        if warc_path.exists() and manifest_path.exists():
            return digest
        warc_path.parent.mkdir(parents=True, exist_ok=True)
        text = "\n\n".join(f"{i.title}\n{i.text}" for i in items).encode("utf-8")
        warc = _warc_bytes(result, text)
        manifest = {
            "url": result.url,
            "final_url": result.final_url,
            "status": result.status,
            "fetched_at": result.fetched_at.isoformat(),
            "body_sha256": digest,
            "text_sha256": hashlib.sha256(text).hexdigest(),
            "warc_sha256": hashlib.sha256(warc).hexdigest(),
            "items": [i.url for i in items],
        }
        _write_atomic(warc_path, warc)
        _write_atomic(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
        return digest

    def verify(self, body_sha256: str) -> VerifyResult:
        warc_path, manifest_path = self.paths(body_sha256)
        problems: list[str] = []
        if not warc_path.exists() or not manifest_path.exists():
            return VerifyResult(False, (f"证据文件缺失 evidence missing: {warc_path.name}",), {})
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        raw = warc_path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != manifest.get("warc_sha256"):
            problems.append("WARC 文件已被改动 the WARC file differs from its manifest digest")
        body, text = _payloads(raw)
        if body is None or hashlib.sha256(body).hexdigest() != body_sha256:
            problems.append("原始网页内容与数据库记录的 SHA-256 不符 response body does not match the stored digest")
        if manifest.get("body_sha256") != body_sha256:
            problems.append("清单中的 SHA-256 与数据库不符 manifest digest differs from the database")
        if text is None or hashlib.sha256(text).hexdigest() != manifest.get("text_sha256"):
            problems.append("提取文本已被改动 extracted text differs from its manifest digest")
        shot = manifest.get("screenshot")
        if isinstance(shot, dict):
            path = self.screenshot_path(body_sha256)
            if not path.exists():
                problems.append(f"截图文件缺失 screenshot missing: {path.name}")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != shot.get("sha256"):
                problems.append("截图已被改动 the screenshot differs from its manifest digest")
        return VerifyResult(not problems, tuple(problems), manifest)

    def archived_body(self, body_sha256: str) -> bytes | None:
        """The response body as archived (None: no such evidence, or the WARC cannot be read)."""
        warc_path = self.paths(body_sha256)[0]
        if not warc_path.exists():
            return None
        return _payloads(warc_path.read_bytes())[0]

    def export_zip(self, body_sha256: str, out: Path, extra: dict[str, bytes] | None = None) -> Path:
        """WARC + extracted text + manifest (+ the screenshot, + extra files such as the 处理单) in one ZIP."""
        warc_path, manifest_path = self.paths(body_sha256)
        _, text = _payloads(warc_path.read_bytes())
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.write(warc_path, warc_path.name)
            bundle.write(manifest_path, "manifest.json")
            bundle.writestr("text.txt", text or b"")
            screenshot = self.screenshot_path(body_sha256)
            if self.has_screenshot(body_sha256) and screenshot.exists():  # only one the manifest vouches for
                bundle.write(screenshot, "screenshot.png")
            for name, data in (extra or {}).items():
                bundle.writestr(name, data)
        return out


def _warc_bytes(result: FetchResult, text: bytes) -> bytes:
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    date = {"WARC-Date": _warc_date(result.fetched_at)}
    path = result.final_url.split("/", 3)[3] if result.final_url.count("/") >= 3 else ""
    request = StatusAndHeaders(f"GET /{path} HTTP/1.1", list(result.request_headers), is_http_request=True)
    writer.write_record(writer.create_warc_record(result.final_url, "request", http_headers=request,
                                                  warc_headers_dict=date))
    headers = [(k, v) for k, v in result.headers if k.lower() not in _TRANSFER_HEADERS]
    response = StatusAndHeaders(f"{result.status} OK", headers, protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(
        result.final_url, "response", payload=io.BytesIO(result.body), http_headers=response,
        warc_headers_dict={**date, "WARC-Payload-Digest-SHA256": result.sha256}))
    writer.write_record(writer.create_warc_record(
        f"urn:yuqing:text:{result.sha256}", "resource", payload=io.BytesIO(text),
        warc_content_type="text/plain; charset=utf-8", warc_headers_dict=date))
    return buffer.getvalue()


def _payloads(raw: bytes) -> tuple[bytes | None, bytes | None]:
    body = text = None
    try:
        for record in ArchiveIterator(io.BytesIO(raw), no_record_parse=False):
            if record.rec_type == "response":
                body = record.content_stream().read()
            elif record.rec_type == "resource":
                text = record.content_stream().read()
    except Exception:  # a corrupted file is a verification failure, not a crash
        return None, None
    return body, text


def _warc_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
