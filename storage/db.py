"""Engines and migrations. The database URL picks the backend: SQLite (default) or PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).with_name("migrations")
# ``revision = "0004"`` / ``down_revision = "0003"`` (or None) at the top level of a migration file
_REVISION_LINE = re.compile(
    r"""^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:(['"])([^'"\n]+)\2|(None))\s*(?:#.*)?$""", re.MULTILINE)
T = TypeVar("T")


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'yuqing.db').resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the desk read while the daemon writes; FULL because alerts must survive power loss.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


def head_revision() -> str | None:
    """The newest migration, read from the files of ``migrations/versions``; None unless they form
    one simple chain (a merge, a branch or an unusual file): then Alembic alone decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found: dict[str, list[str | None]] = {}
        for m in _REVISION_LINE.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(m.group(1), []).append(m.group(3))
        if len(found.get("revision", [])) != 1 or len(found.get("down_revision", [])) != 1:
            return None
        revision, parent = found["revision"][0], found["down_revision"][0]
        if revision is None or revision in revisions:
            return None
        revisions.add(revision)
        if parent is not None:
            parents.add(parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _current_revisions(connection: Connection) -> set[str]:
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return {row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}


def _upgrade(connection: Connection) -> None:
    head = head_revision()
    if head is not None and _current_revisions(connection) == {head}:
        return  # up to date: Alembic not even imported (11 MB for the life of the daemon)
    from alembic import command  # only when the schema is behind (see above)
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every Alembic migration; safe to call on each start (cheap when nothing is due)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


async def run_once(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Open the database (migrating it), run one unit of work in a session, close: for CLI commands."""
    engine = make_engine(url)
    try:
        await upgrade(engine)
        async with sessionmaker(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()
