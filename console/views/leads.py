"""信息员线索报送: text, a link and screenshots, through ``alerts.leads.submit_lead`` like ``yuqing leads add``.

Uploads are limited three ways: the whole request (``client_max_size``), the number of files, and
each file's size and type — judged by its first bytes, not by the name or the type the browser
claims, so a script renamed ``.png`` is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp_jinja2
from aiohttp import web

from alerts.leads import MAX_SCREENSHOT_BYTES, LeadError, Screenshot, submit_lead
from alerts.workflow import GRADES
from console.app import MAX_UPLOAD_FILES, desk_of
from console.auth import STAFF
from console.views import current_user, may_see
from storage import workflow as store

routes = web.RouteTableDef()
SUBMITTERS = STAFF | {"informant"}
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"GIF87a", ".gif"), (b"GIF89a", ".gif"))


def image_suffix(data: bytes) -> str | None:
    """The file type the bytes really are (PNG, JPEG, GIF, WebP), or None."""
    for magic, suffix in _SIGNATURES:
        if data.startswith(magic):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


def screenshots_of(form: object) -> list[Screenshot]:
    files = [f for f in form.getall("screenshot", []) if isinstance(f, web.FileField) and f.filename]  # type: ignore[attr-defined]
    if len(files) > MAX_UPLOAD_FILES:
        raise LeadError(f"一次最多上传 {MAX_UPLOAD_FILES} 张截图 (at most {MAX_UPLOAD_FILES} screenshots)")
    shots = []
    for upload in files:
        data = upload.file.read(MAX_SCREENSHOT_BYTES + 1)
        if len(data) > MAX_SCREENSHOT_BYTES:
            raise LeadError(f"截图过大（上限 {MAX_SCREENSHOT_BYTES // 1024 // 1024} MB）：{upload.filename}")
        suffix = image_suffix(data)
        if suffix is None:
            raise LeadError(f"截图只接受 PNG/JPEG/GIF/WebP 图片：{upload.filename} (images only)")
        shots.append(Screenshot(f"screenshot{suffix}", data))  # the name the bytes earn, not the one sent
    return shots


async def _page(request: web.Request, user: store.Person, *, error: str | None = None, done: int | None = None,
                values: dict[str, str] | None = None, status: int = 200) -> web.Response:
    async with desk_of(request).sessions() as session:
        mine = [c for c in await store.list_cases(session, limit=500)
                if c.source_id == "informant" and c.author == user.name and may_see(user, c)][:20]
    return aiohttp_jinja2.render_template("lead.html", request, {
        "error": error, "done": done, "values": values or {}, "grades": GRADES, "mine": mine,
        "max_files": MAX_UPLOAD_FILES, "max_mb": MAX_SCREENSHOT_BYTES // 1024 // 1024}, status=status)


@routes.get("/leads/new")
async def lead_form(request: web.Request) -> web.Response:
    user = current_user(request, SUBMITTERS)
    done = request.query.get("done", "")
    return await _page(request, user, done=int(done) if done.isdigit() else None)


@routes.post("/leads")
async def lead_submit(request: web.Request) -> web.Response:
    user = current_user(request, SUBMITTERS)
    desk = desk_of(request)
    form = await request.post()
    values = {k: str(form.get(k, "")) for k in ("text", "url", "grade", "category")}
    try:
        grade = values["grade"] or "一般"
        if grade not in GRADES:
            raise LeadError("等级应为 一般 或 重大 (unknown grade)")
        url = values["url"].strip() or None
        if url and not url.startswith(("http://", "https://")):
            raise LeadError("链接应以 http:// 或 https:// 开头 (links must be http or https)")
        async with desk.sessions() as session:
            alert_id = await submit_lead(
                session, informant=user.name, text=values["text"], url=url, grade=grade,
                category=values["category"].strip()[:32] or "信息员报送", now=datetime.now(UTC),
                screenshots_dir=desk.data_dir / "leads", screenshots=screenshots_of(form),
                channels_for=desk.channels_for)
    except LeadError as exc:
        return await _page(request, user, error=str(exc), values=values, status=400)
    raise web.HTTPSeeOther(f"/leads/new?done={alert_id}")
