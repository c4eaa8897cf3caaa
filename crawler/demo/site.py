"""The demo's local news site: the bundled pages of ``crawler/demo/site/``, served on loopback.

The pages are read through ``importlib.resources`` so the demo also runs from an installed wheel.
They are served the way small Chinese sites serve them: UTF-8 files with ``charset=utf-8``, a GBK
file as bare ``text/html`` (the fetcher has to find the charset in ``<meta>`` or detect it), an
``ETag`` so conditional GETs get ``304``. Feeds need absolute links but the port is only known at
start, so ``${BASE_URL}`` in an XML file becomes the address the client used.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from importlib.abc import Traversable
from types import MappingProxyType

from aiohttp import web

SITE_PACKAGE = "crawler.demo"
SITE_FOLDER = "site"
BASE_URL_MARK = b"${BASE_URL}"
CONTENT_TYPES = MappingProxyType({".html": "text/html", ".xml": "application/rss+xml", ".txt": "text/plain"})


def _walk(folder: Traversable, prefix: str = "/") -> dict[str, bytes]:
    """URL path → file bytes, for every servable file below ``folder``."""
    files: dict[str, bytes] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            files.update(_walk(entry, f"{prefix}{entry.name}/"))
        elif any(entry.name.endswith(suffix) for suffix in CONTENT_TYPES):
            files[prefix + entry.name] = entry.read_bytes()
    return files


def _content_type(path: str, body: bytes) -> str:
    kind = CONTENT_TYPES[path[path.rindex("."):]]
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return kind  # a GBK page: no charset, like the old sites the fetcher must cope with
    return f"{kind}; charset=utf-8"


def demo_site_app() -> web.Application:
    """The site as an aiohttp application; ``/`` is the list page."""
    files = _walk(resources.files(SITE_PACKAGE) / SITE_FOLDER)

    async def serve(request: web.Request) -> web.StreamResponse:
        path = "/index.html" if request.path == "/" else request.path
        body = files.get(path)
        if body is None:
            raise web.HTTPNotFound(text="404 页面不存在")
        if path.endswith(".xml"):
            body = body.replace(BASE_URL_MARK, f"{request.scheme}://{request.host}".encode())
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"Content-Type": _content_type(path, body), "ETag": etag})

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    return app


async def start_demo_site(host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve the demo site; returns the runner (``await runner.cleanup()`` stops it) and the base URL."""
    runner = web.AppRunner(demo_site_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, f"http://{bound_host}:{bound_port}"
