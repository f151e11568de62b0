"""Engines and migrations: the only place that knows about database URLs.

SQLite is the default backend. Every SQLite connection gets ``journal_mode=WAL``
(readers never block the writer), ``busy_timeout=5000`` (a locked database is waited
for, up to 5 s) and ``foreign_keys=ON`` (so ``ON DELETE CASCADE`` holds), and every
transaction starts with ``BEGIN IMMEDIATE``: the write lock is taken up front, so a
read-then-write transaction (numbering the next question) cannot fail halfway with
"database is locked" when two processes share the file.

Any other SQLAlchemy URL works, e.g. ``postgresql+psycopg://user@host/db``.
The schema is created and upgraded by Alembic, programmatically::

    engine = make_engine("sqlite:////path/to/prefchat.sqlite")
    migrate(engine)                     # fresh database created, old one upgraded

To write a new revision after changing :mod:`prefchat.storage.models`::

    from alembic import command
    command.revision(alembic_config("sqlite:///dev.sqlite"), message="...", autogenerate=True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from .errors import DatabaseUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"

# WAL with synchronous=NORMAL: a commit survives the process being killed (not a power cut),
# at a fraction of the cost of a full sync per answer.
# secure_delete: deleted rows are overwritten with zeros, so a forgotten user is not left in free pages.
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000", "PRAGMA foreign_keys=ON",
                  "PRAGMA secure_delete=ON")


def make_engine(url: str | os.PathLike[str]) -> Engine:
    """Create an engine for an SQLAlchemy URL, or for an SQLite file given as a path.

    Parameters
    ----------
    url : str or path-like
        ``"sqlite:///relative.sqlite"``, ``"sqlite:////abs/path.sqlite"``, ``"sqlite://"``
        (in memory, one database shared by all threads of this engine),
        ``"postgresql+psycopg://..."``, ...; a path-like is an SQLite file.
        The directory of an SQLite file is created if missing, but only that one level (like
        ``mkdir``, not ``mkdir -p``): a mistyped path whose parent directories are missing
        raises :class:`~prefchat.storage.errors.DatabaseUnavailable` naming the first one
        instead of silently creating them.
    """
    sa_url = make_url(f"sqlite:///{Path(url)}" if isinstance(url, os.PathLike) else url)
    if sa_url.get_backend_name() != "sqlite":
        return create_engine(sa_url, pool_pre_ping=True)
    in_memory = sa_url.database in (None, "", ":memory:")
    if in_memory:
        engine = create_engine(sa_url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        directory = Path(str(sa_url.database)).parent
        if not directory.parent.is_dir():
            missing = next(p for p in reversed([directory, *directory.parents]) if not p.is_dir())
            raise DatabaseUnavailable(
                f"cannot open the SQLite file {sa_url.database}: the directory {missing} does not exist (a mistyped path?)"
            )
        directory.mkdir(exist_ok=True)
        # SQLite runs one write transaction at a time anyway (BEGIN IMMEDIATE). One pooled
        # connection makes the threads of this process queue for it in order, instead of
        # contending in SQLite's sleeping busy-wait (p95 of 25 concurrent starts: 1.6 s -> 0.18 s).
        engine = create_engine(sa_url, pool_size=1, max_overflow=0, pool_timeout=60,
                               connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def in_memory(url: str | os.PathLike[str]) -> bool:
    """Whether ``url`` is an in-memory SQLite database: one per process, so never shared by two processes."""
    if isinstance(url, os.PathLike):
        return False
    sa_url = make_url(url)
    return sa_url.get_backend_name() == "sqlite" and sa_url.database in (None, "", ":memory:")


def _configure_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    # Hand transaction control to SQLAlchemy (see _begin_immediate), then set the pragmas.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def checkpoint(engine: Engine) -> bool:
    """Copy an SQLite database's write-ahead log into the database file and truncate it to zero.

    Called after a user is deleted, so that their rows do not outlive the delete in the
    ``-wal`` file. True when the log was emptied; False when a reader of another process still
    needed part of it (the rest goes at the next checkpoint), and for other backends (no-op).
    """
    if engine.url.get_backend_name() != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return False
    with engine.connect() as connection:
        raw = connection.connection.driver_connection  # outside any transaction: a checkpoint needs that
        assert raw is not None
        busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at prefchat's migrations.

    ``url`` is only needed when Alembic should open its own connection (command-line
    style use such as autogenerating a revision); :func:`migrate` passes a connection.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema of ``engine``'s database to ``revision``, in one transaction."""
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except DBAPIError as error:  # unreachable server, refused login, unreadable file: one line, no traceback
        reason = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
        raise DatabaseUnavailable(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: {reason}"
        ) from error
