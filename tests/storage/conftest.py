"""Fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL: the schemas of ``postgres_schema`` (tests/conftest.py); without a reachable
server the PostgreSQL variants skip, naming the URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import Engine

from prefchat.storage import Store, make_engine, migrate, open_store
from prefchat.storage.models import Base

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_engine(postgres_schema: Callable[[], str]) -> Iterator[Engine]:
    """One migrated schema shared by the repository tests; tables are emptied after each test."""
    engine = make_engine(postgres_schema())
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A store on an empty, migrated database: fresh in-memory SQLite, or the PostgreSQL schema."""
    if request.param == "sqlite":
        with open_store("sqlite://") as sqlite_store:
            yield sqlite_store
        return
    engine = request.getfixturevalue("postgres_engine")
    yield Store(engine)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'prefchat.sqlite'}"
    return request.getfixturevalue("postgres_schema")()

