"""A seeded desk and a client on it, over SQLite and PostgreSQL (``sessions`` is per backend)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

# The seed helpers sit beside the tests that use them (tests/ itself is on the path, this folder is not).
sys.path.insert(0, str(Path(__file__).parent))
from seed import Scene, make_desk, seed_people, seed_scene, utcnow

from console.app import Desk, make_app


@pytest.fixture
async def desk(sessions, tmp_path: Path) -> Desk:  # type: ignore[no-untyped-def]
    await seed_people(sessions, utcnow())
    return make_desk(sessions, tmp_path / "data")


@pytest.fixture
async def scene(desk: Desk) -> Scene:
    return await seed_scene(desk.sessions, desk.evidence, utcnow())


@pytest.fixture
async def client(desk: Desk) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_app(desk), host="127.0.0.1")) as test_client:
        yield test_client
