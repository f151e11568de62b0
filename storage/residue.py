"""Where a forgotten user could still be: what a delete leaves in the database engine, and what the operator runs.

"Forget me" (:meth:`~prefchat.storage.Store.delete_user`) deletes every row about the user in one
transaction. The rows are gone from every query at once, but not from every byte:

- **PostgreSQL** keeps a deleted row's old version in its table file (a *dead tuple*) until
  ``VACUUM`` marks the space free, and even then until new rows overwrite it; ``VACUUM FULL``
  rewrites the table without it. The write-ahead log holds the rows (and their delete) until its
  segments are recycled, and for as long as WAL archives, replication slots and standbys keep
  them. With ``log_statement`` at ``mod`` or ``all`` the server's log holds the statements and
  their parameters, the user's id among them.
- **SQLite** (as prefchat opens it, ``secure_delete=ON``) overwrites deleted rows with zeros, and
  prefchat checkpoints the ``-wal`` file after a delete.
- **Backups** taken before the delete hold the user until they expire, on either backend.

:func:`forget_report` says, for one database, where that can be now, with the command that
clears it (``prefchat db forget-report`` prints it); docs/deployment.md has the procedure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from .engine import in_memory
from .errors import DatabaseUnavailable
from .models import Base

__all__ = ["Residue", "forget_report"]

_BACKUPS = ("backups", "every backup taken before a delete holds the user",
            "expire backups on the schedule your privacy policy promises (docs/deployment.md, Backups)")


@dataclass(frozen=True)
class Residue:
    """One place a deleted user could still be: where, what was found there, and what clears it."""

    place: str
    finding: str
    action: str


def forget_report(engine: Engine) -> list[Residue]:
    """Where rows deleted from the database behind ``engine`` could still be, read from the database now."""
    try:
        with engine.connect() as connection:
            if engine.url.get_backend_name() == "postgresql":
                return [*_postgresql(connection), Residue(*_BACKUPS)]
            if engine.url.get_backend_name() == "sqlite":
                return [*_sqlite(connection, engine), Residue(*_BACKUPS)]
    except DBAPIError as error:
        raise DatabaseUnavailable(f"cannot read {engine.url.render_as_string()}: {error.orig}") from None
    return [Residue(engine.url.get_backend_name(), "a backend prefchat has no report for",
                    "see its documentation for deleted rows, logs and replicas"), Residue(*_BACKUPS)]


def _postgresql(connection: Connection) -> list[Residue]:
    tables = sorted(Base.metadata.tables)
    rows = connection.execute(text(
        "SELECT relname, n_dead_tup, coalesce(greatest(last_vacuum, last_autovacuum)::text, 'never') "
        "FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY(:tables) ORDER BY relname"),
        {"tables": tables}).all()
    found = [Residue(f"table {name}", f"{dead} dead row versions (deleted or replaced rows still in its file); "
                     f"last vacuumed {when}",
                     f"VACUUM {name}; (VACUUM FULL {name}; rewrites it, under an exclusive lock)" if dead else "nothing to run")
             for name, dead, when in rows]
    setting = {name: connection.execute(text(f"SHOW {name}")).scalar_one()
               for name in ("wal_level", "archive_mode", "max_wal_size", "log_statement")}
    found.append(Residue("write-ahead log", f"holds the deleted rows until its segments are recycled (max_wal_size "
                         f"{setting['max_wal_size']})", "CHECKPOINT; then the segments are reused as the server writes"))
    if setting["archive_mode"] != "off":
        found.append(Residue("WAL archive", f"archive_mode is {setting['archive_mode']}: archived segments keep the "
                             "deleted rows as long as the archive does", "expire WAL archives with your backups"))
    slots = connection.execute(text("SELECT count(*) FROM pg_replication_slots")).scalar_one()
    standbys = connection.execute(text("SELECT count(*) FROM pg_stat_replication")).scalar_one()
    if slots or standbys:
        found.append(Residue("replicas", f"{standbys} standby(s) streaming, {slots} replication slot(s): each replays "
                             "the delete, and a slot keeps WAL until it is consumed", "VACUUM on the primary; "
                             "drop replication slots nobody reads"))
    if setting["log_statement"] in ("mod", "all"):
        found.append(Residue("server log", f"log_statement is {setting['log_statement']}: the log holds statements "
                             "with their parameters, user ids among them", "set log_statement to ddl or none; expire "
                             "the logs"))
    return found


def _sqlite(connection: Connection, engine: Engine) -> list[Residue]:
    secure = connection.exec_driver_sql("PRAGMA secure_delete").scalar_one()
    free = connection.exec_driver_sql("PRAGMA freelist_count").scalar_one()
    found = [Residue("database file", f"secure_delete is {'on' if secure else 'OFF'}: deleted rows are "
                     f"{'overwritten with zeros' if secure else 'left in free pages'} ({free} free pages)",
                     "nothing to run" if secure else "VACUUM (the file is rewritten without the free pages)")]
    if not in_memory(engine.url.render_as_string()):
        wal = Path(f"{engine.url.database}-wal")
        size = wal.stat().st_size if wal.exists() else 0
        found.append(Residue("write-ahead log", f"{wal.name}: {size} bytes (prefchat checkpoints it after a delete)",
                             "nothing to run" if size == 0 else "PRAGMA wal_checkpoint(TRUNCATE);"))
    return found
