"""Fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL: ``PREFCHAT_TEST_POSTGRES_URL`` (default: the local test server). The tests
create uniquely named schemas in that database and drop them at the end of the session;
without a reachable server the PostgreSQL variants skip, naming the URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from prefchat.storage import Store, make_engine, migrate, open_store
from prefchat.storage.models import Base

POSTGRES_URL = os.environ.get("PREFCHAT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[Callable[[], str]]:
    """Factory of fresh PostgreSQL schemas: each call returns a URL whose search_path is a new
    schema. All of them are dropped at the end of the test session."""
    try:
        admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with admin.connect():
            pass
    except (ImportError, OperationalError) as exc:
        pytest.skip(f"PostgreSQL tests SKIPPED: no server usable at {POSTGRES_URL}: {exc}")
    created: list[str] = []

    def new_schema() -> str:
        name = f"prefchat_test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        created.append(name)
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)

    yield new_schema
    with admin.begin() as connection:
        for name in created:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    admin.dispose()


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

