"""Engines and migrations: the Alembic schema matches the models; SQLite runs in WAL with
foreign keys on every connection."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from prefchat.storage import Store, alembic_config, make_engine, migrate, open_store
from prefchat.storage.models import Base

PRAGMAS = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")


def test_migrations_to_head_match_the_models(empty_url):
    engine = make_engine(empty_url)
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert context.get_current_revision() == head
    engine.dispose()


def test_downgrade_to_base_and_upgrade_again(empty_url):
    engine = make_engine(empty_url)
    migrate(engine)
    migrate(engine)  # already at head: nothing to do
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    migrate(engine)
    assert set(inspect(engine).get_table_names()) == {"alembic_version", *Base.metadata.tables}
    engine.dispose()


def test_open_store_keeps_the_data_of_an_existing_database(empty_url):
    with open_store(empty_url) as store:
        user = store.create_user("kept")
    with open_store(empty_url) as store:
        assert store.get_user("kept") == user


def test_a_database_of_the_previous_schema_gains_the_friends_table_and_keeps_its_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'before-friends.sqlite'}"
    command.upgrade(alembic_config(url), "0002")  # a database written before friends existed
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO users (id, created_at) VALUES ('old', '2026-12-01 00:00:00.000000')")
    assert "friends" not in inspect(engine).get_table_names()
    engine.dispose()
    with open_store(url) as store:  # upgrades to head
        assert store.get_user("old").id == "old"
        store.create_user("new")
        store.set_friends("old", {"new": 1.0})
        assert store.friends_of("old") == {"new": 1.0}


def test_alembic_can_open_its_own_connection_from_a_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_sqlite_pragmas_hold_on_every_connection(tmp_path):
    path = tmp_path / "missing-dir" / "prefchat.sqlite"
    for _ in range(2):  # a fresh engine (another process) and a reused file
        engine = make_engine(path)  # a path-like is an SQLite file; its directory is created
        assert engine.pool.size() == 1  # this process's threads queue for one connection
        connection = engine.raw_connection()
        pragmas = [connection.cursor().execute(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS]
        assert pragmas == ["wal", 1, 1, 5000]
        connection.close()
        engine.dispose()
    assert path.is_file()


def test_concurrent_writers_to_one_sqlite_file_wait_for_each_other(tmp_path):
    path = tmp_path / "shared.sqlite"
    open_store(path).close()
    errors = []

    def write_session(user_id: str) -> None:
        try:
            with Store(make_engine(path)) as store:  # its own engine, as another process would
                session = store.start_session(store.create_user(user_id).id, "movies", "1")
                for k in range(15):
                    question = store.record_question(session.id, [f"x{k}", f"y{k}"])
                    store.record_answer(question.id, "a")
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=write_session, args=(f"writer{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_store(path) as store:
        for n in range(3):
            session = store.latest_session(f"writer{n}")
            assert len(store.session_history(session.id)) == 15


def test_sqlite_enforces_foreign_keys(tmp_path):
    with open_store(tmp_path / "fk.sqlite") as store:
        with pytest.raises(IntegrityError, match="FOREIGN KEY"), store.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO questions (session_id, position, item_ids, asked_at) "
                "VALUES ('no-such-session', 1, '[]', '2026-01-01 00:00:00')"
            )


def test_an_in_memory_database_is_shared_by_all_threads_of_its_engine():
    with open_store("sqlite://") as store:
        user = store.create_user()
        seen = []
        thread = threading.Thread(target=lambda: seen.append(store.get_user(user.id)))
        thread.start()
        thread.join()
        assert seen == [user]


def test_a_deleted_user_is_left_neither_in_the_database_file_nor_in_its_wal(tmp_path):
    path = tmp_path / "forget.sqlite"
    secret = "forgotten-user-7f3a9c"
    with open_store(f"sqlite:///{path}") as store:
        store.create_user("kept-user")
        store.create_user(secret)
        session = store.start_session(secret, "pack", "1", {"note": secret})
        question = store.record_question(session.id, ["x1", "x2"])
        store.record_answer(question.id, "a", raw_text=f"typed by {secret}")
        store.add_summary(secret, "pack", "1", f"summary of {secret}", {})
        store.delete_user(secret)
        files = [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        leaks = [p.name for p in files if secret.encode() in p.read_bytes()]
        assert not leaks, f"the deleted user's id is still in {leaks}"
        assert store.get_user("kept-user").id == "kept-user"
