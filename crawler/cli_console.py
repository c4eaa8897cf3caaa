"""``yuqing serve``: the web triage desk (console/) on its own, next to a running daemon or without one.

Reads the database and data folder from the main app's options and the configuration folder for
deadlines, channels and sources; a broken configuration leaves the desk usable with defaults.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer

from crawler.app import App
from crawler.config.loader import Config, load_config
from crawler.config.yamlfile import ConfigError

Host = Annotated[str, typer.Option("--host", help="监听地址；对外提供服务请放在 HTTPS 反向代理之后")]
Port = Annotated[int, typer.Option("--port", min=1, max=65535, help="监听端口")]


def config_reader(folder: Path) -> Callable[[], Config | None]:
    """The configuration, re-read when a file in the folder changes; the last good one on errors."""
    state: dict[str, object] = {"stamp": None, "config": None}

    def stamp() -> tuple[tuple[str, float], ...]:
        files = [folder / "sources.yaml", folder / "alerts.yaml", *sorted((folder / "keywords").glob("*.yaml"))]
        return tuple((str(p), p.stat().st_mtime) for p in files if p.exists())

    def read() -> Config | None:
        now = stamp()
        if now != state["stamp"]:
            state["stamp"] = now
            try:
                state["config"] = load_config(folder)
            except ConfigError as exc:
                typer.echo(f"警告：配置有误，工作台按默认处置时限运行 (configuration invalid):\n{exc}", err=True)
        return state["config"]  # type: ignore[return-value]

    return read


def serve(ctx: typer.Context, host: Host = "127.0.0.1", port: Port = 8080) -> None:
    """启动网页工作台（告警队列、证据、巡查台账、统计）；首个管理员账号用 yuqing users add 名字 --role admin --password-stdin 创建。"""
    from console.app import Desk, make_app
    from console.app import serve as serve_app
    from console.auth import Signer, load_secret
    from storage import db

    paths = ctx.obj
    read_config = config_reader(paths.config)
    read_config()

    async def main() -> None:
        engine = db.make_engine(paths.db_url)
        try:
            await db.upgrade(engine)
            desk = Desk(db.sessionmaker(engine), paths.data, read_config, Signer(load_secret(paths.data)))
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await serve_app(make_app(desk), host, port, stop,
                            on_started=lambda url: typer.echo(f"工作台已启动：{url}（Ctrl-C 退出）"))
        finally:
            await engine.dispose()

    asyncio.run(main())


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def desk_service(app: App, data_dir: Path, host: str, port: int) -> Callable[[asyncio.Event], Awaitable[None]]:
    """The desk inside the daemon (``yuqing run --web``): its engine, and its live configuration."""
    from console.app import Desk, make_app
    from console.app import serve as serve_app
    from console.auth import Signer, load_secret

    desk = Desk(app.sessions, data_dir, lambda: app.config, Signer(load_secret(data_dir)))
    return lambda stop: serve_app(make_app(desk), host, port, stop)
