"""Suite-wide fixtures: a real PostgreSQL server (started on first use) and ``db_url`` over both backends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pg_cluster import NOT_FOUND, PgCluster, find_bindir
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import db


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One server for the whole run, started lazily; missing binaries fail (never skip) the tests needing it."""
    bindir = find_bindir()
    if bindir is None:
        pytest.fail(NOT_FOUND, pytrace=False)
    cluster = PgCluster(bindir)
    try:
        cluster.start()
        cluster.create_database("yuqing_test")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_url(pg_cluster: PgCluster) -> str:
    """The shared ``yuqing_test`` database, for tests that want PostgreSQL only."""
    return pg_cluster.url("yuqing_test")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test on each backend, so storage code is proven on both."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'yuqing.db'}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"t_{uuid.uuid4().hex}"
    cluster.create_database(name)
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated database per test, on each backend."""
    engine = db.make_engine(db_url)
    await db.upgrade(engine)
    yield db.sessionmaker(engine)
    await engine.dispose()
