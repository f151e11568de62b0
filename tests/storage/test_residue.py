"""``prefchat db forget-report`` (issue 24, finding 11): where a deleted user could still be, read from the database."""

from __future__ import annotations

from sqlalchemy import text

from prefchat.cli import main
from prefchat.storage import forget_report, open_store
from prefchat.storage.models import Base


def forgotten(url: str) -> None:
    """A user with a session, then forgotten."""
    with open_store(url) as store:
        store.create_user("alice")
        store.start_session("alice", "movies", "1")
        store.delete_user("alice")
        if store.engine.url.get_backend_name() == "postgresql":
            with store.engine.connect() as connection:  # the counters of this backend, to shared memory now
                connection.execute(text("SELECT pg_stat_force_next_flush()"))


def test_postgresql_reports_every_table_s_dead_rows_the_wal_and_backups(postgres_schema):
    url = postgres_schema()
    forgotten(url)
    with open_store(url) as store:
        report = {residue.place: residue for residue in forget_report(store.engine)}
    assert {f"table {name}" for name in Base.metadata.tables} <= set(report)
    dead = {place: int(residue.finding.split()[0]) for place, residue in report.items() if place.startswith("table ")}
    assert dead["table users"] >= 1 and dead["table sessions"] >= 1, dead
    assert report["table users"].action.startswith("VACUUM users;")
    assert "CHECKPOINT" in report["write-ahead log"].action
    assert "expire backups" in report["backups"].action


def test_sqlite_reports_secure_delete_and_an_emptied_wal(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    forgotten(url)
    with open_store(url) as store:
        report = {residue.place: residue for residue in forget_report(store.engine)}
    assert report["database file"].finding.startswith("secure_delete is on: deleted rows are overwritten with zeros")
    assert report["write-ahead log"].finding == "r.sqlite-wal: 0 bytes (prefchat checkpoints it after a delete)"
    assert set(report) == {"database file", "write-ahead log", "backups"}


def test_the_command_prints_each_place_and_what_clears_it(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    forgotten(url)
    assert main(["db", "forget-report", "--db", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Where a deleted user could still be, in sqlite:///")
    assert "- database file: secure_delete is on" in out and "- backups: every backup taken before a delete" in out
    assert out.count("    run: ") == 3
