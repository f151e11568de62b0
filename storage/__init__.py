"""prefchat.storage: everything prefchat keeps, behind a small repository API.

SQLAlchemy 2 models (SQLite by default, any SQLAlchemy URL such as PostgreSQL works),
Alembic migrations, and a :class:`Store` whose methods return plain frozen records, never
ORM rows. No other layer writes SQL.

Public API
----------
open_store(url) -> Store                      engine + migrations to head, ready to use
make_engine(url) -> Engine                    SQLite: WAL, busy_timeout=5000, foreign_keys=ON
migrate(engine, revision="head")              create or upgrade the schema (Alembic)
in_memory(url) -> bool                        an in-memory SQLite URL (one database per process)
alembic_config(url=None) -> alembic Config    for writing new revisions
check_user_id(user_id) -> str                 ValueError unless it matches USER_ID_PATTERN (1..128 characters, no
                                              control, separator or invisible format character)

Store(engine)
    create_user(user_id=None) -> UserRecord             get_user(user_id) -> UserRecord
    start_session(user_id, pack_name, pack_version, settings=None) -> SessionRecord
    get_session(session_id) -> SessionRecord
    latest_session(user_id, pack_name=None, states=("active",)) -> SessionRecord | None
    record_question(session_id, item_ids) -> QuestionRecord
    record_answer(question_id, choice, raw_text="", latency_ms=None) -> AnswerRecord
    record_feedback(session_id, item_id, kind, raw_text="") -> AnswerRecord
    undo_last_answer(session_id) -> AnswerRecord | None
    session_history(session_id) -> list[Exchange]       questions in order, live answers
    finish_session(session_id, state="finished") -> SessionRecord
    save_profile(user_id, pack_name, pack_version, mean, cov, counts) -> ProfileRecord
    get_profile(user_id, pack_name=None, pack_version=None) -> ProfileRecord | None
    list_profiles(pack_name=None, pack_version=None, since=None, min_answers=None,
                  search=None) -> list[ProfileRecord]
    add_summary(user_id, pack_name, pack_version, text, structured, source="generated")
        -> SummaryRecord                                supersedes the current one
    current_summary(user_id, pack_name) -> SummaryRecord | None
    summary_history(user_id, pack_name) -> list[SummaryRecord]
    record_ranking(user_id, pack_name, pack_version, item_ids, scores) -> RankingRecord
    ask_forget(user_id, ttl)                            a "forget me" pending for ttl
    take_forget(user_id) -> bool                        pending and unexpired; dropped either way
    reachable() -> bool                                 the database answers SELECT 1
    export_user(user_id) -> dict                        JSON-serialisable, everything
    delete_user(user_id)                                every row referring to the user

Errors: NotFound (unknown id, names it), Conflict (state forbids it), both StorageError;
ValueError for malformed input, naming the value.
"""

from .engine import alembic_config, in_memory, make_engine, migrate
from .errors import Conflict, DatabaseUnavailable, NotFound, StorageError
from .models import ITEM_ID_MAX, SESSION_ID_MAX
from .records import (
    ANSWER_KINDS,
    FEEDBACK_KINDS,
    PAIRWISE_CHOICES,
    SESSION_STATES,
    SUMMARY_SOURCES,
    AnswerRecord,
    Exchange,
    ProfileRecord,
    QuestionRecord,
    RankingRecord,
    SessionRecord,
    SummaryRecord,
    UserRecord,
)
from .repository import USER_ID_PATTERN, Store, check_user_id, open_store
from .residue import Residue, forget_report

__all__ = [
    "ITEM_ID_MAX",
    "ANSWER_KINDS",
    "FEEDBACK_KINDS",
    "PAIRWISE_CHOICES",
    "SESSION_ID_MAX",
    "SESSION_STATES",
    "SUMMARY_SOURCES",
    "AnswerRecord",
    "Conflict",
    "DatabaseUnavailable",
    "NotFound",
    "ProfileRecord",
    "QuestionRecord",
    "RankingRecord",
    "SessionRecord",
    "StorageError",
    "Store",
    "SummaryRecord",
    "Exchange",
    "USER_ID_PATTERN",
    "Residue",
    "UserRecord",
    "alembic_config",
    "check_user_id",
    "forget_report",
    "in_memory",
    "make_engine",
    "migrate",
    "open_store",
]
