"""The report tests' data: a generated month (tests/report_world.py) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from report_world import World, build_world

from storage import db


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    engine = db.make_engine(db_url)
    await db.upgrade(engine)
    try:
        yield await build_world(db.sessionmaker(engine), db_url, tmp_path)
    finally:
        await engine.dispose()
