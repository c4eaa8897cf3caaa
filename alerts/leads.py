"""Informant leads (线索): what no crawler can see — QQ groups, WeChat — submitted by hand.

A lead becomes an item of the pseudo-source ``informant`` with its informant as author, and a hit
of the rule ``informant-lead``, so it enters the same workflow as a crawled finding: an alert with
deadlines, deliveries and an audit trail. Screenshots are kept like evidence: content-addressed
files whose SHA-256 is written into the lead.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from crawler.types import Hit, Item, TermMatch
from storage import queries
from storage import workflow as store

SOURCE_ID = "informant"
RULE_ID = "informant-lead"
MAX_SCREENSHOT_BYTES = 10 * 1024 * 1024
SCREENSHOT_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
SNIPPET_CHARS = 120


class LeadError(ValueError):
    """A lead that cannot be accepted, with a reason the informant can act on."""


@dataclass(frozen=True)
class Screenshot:
    name: str
    data: bytes


def keep_screenshot(folder: Path, shot: Screenshot) -> str:
    """Store one screenshot under its SHA-256 (refusing what is not an image); returns the digest."""
    kind = mimetypes.guess_type(shot.name)[0]
    if kind not in SCREENSHOT_TYPES:
        raise LeadError(f"截图只接受 PNG/JPEG/GIF/WebP：{shot.name} (images only)")
    if len(shot.data) > MAX_SCREENSHOT_BYTES:
        raise LeadError(f"截图过大（上限 {MAX_SCREENSHOT_BYTES // 1024 // 1024} MB）：{shot.name}")
    digest = hashlib.sha256(shot.data).hexdigest()
    target = folder / f"{digest}{Path(shot.name).suffix.lower()}"
    folder.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.write_bytes(shot.data)
    return digest


async def submit_lead(
    session: AsyncSession, *, informant: str, text: str, now: datetime, screenshots_dir: Path,
    channels_for: Callable[[str], list[str]], url: str | None = None, category: str = "信息员报送",
    grade: str = "一般", screenshots: list[Screenshot] | None = None,
) -> int:
    """Store the lead as an item with its alert; returns the alert id."""
    person = await store.find_user(session, informant)
    if person.role not in {"informant", "operator", "admin"}:
        raise LeadError(f"{informant} 的角色是 {person.role}，不能报送线索 (only informants and staff submit leads)")
    text = text.strip()
    if not text and not screenshots:
        raise LeadError("线索需要文字或截图 (a lead needs text or a screenshot)")
    digests = [keep_screenshot(screenshots_dir, shot) for shot in screenshots or []]
    body = text + "".join(f"\n[截图 sha256:{d}]" for d in digests)
    key = hashlib.sha256(f"{informant}\n{now.isoformat()}\n{body}".encode()).hexdigest()[:16]
    item = Item(url=url or f"urn:yuqing:lead:{key}", source_id=SOURCE_ID, title=text.splitlines()[0][:60] if text else
                "（截图线索）", text=body, fetched_at=now, author=person.name)
    snippet = text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else "")
    hit = Hit(RULE_ID, category, grade, (TermMatch(person.name, "author", 0, len(person.name)),), snippet)
    stored = await queries.store_item(session, item, [hit], now=now, channels_for=channels_for)
    if stored is None:
        raise LeadError("这条线索已经报送过 (already submitted)")
    return stored.alert_ids[0]
