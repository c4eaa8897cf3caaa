"""A migrated database per test, on SQLite and on the suite's PostgreSQL server (``db_url``)."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import db


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.make_engine(db_url)
    await db.upgrade(engine)
    yield db.sessionmaker(engine)
    await engine.dispose()
