"""The repository: every read and write of prefchat's data, one transaction per call.

Other layers call only :class:`Store` and get plain frozen records back
(:mod:`prefchat.storage.records`), never ORM rows, and never write SQL. Each write is
committed before the method returns, so a process killed between two answers loses
nothing that was acknowledged.

Ids: users have opaque string ids (1..128 characters of :data:`USER_ID_PATTERN`; anonymous users get a
uuid4 hex), sessions get a uuid4 hex, questions, answers, summaries and rankings get
integers. An unknown id raises :class:`~prefchat.storage.errors.NotFound` naming it;
malformed input raises :class:`ValueError` naming the value; a request the stored state
forbids (answering twice, asking in a finished session) raises
:class:`~prefchat.storage.errors.Conflict`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from numbers import Integral
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Engine, Insert, RowMapping, bindparam, case, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from .engine import checkpoint, make_engine, migrate
from .errors import Conflict, NotFound
from .models import (
    ITEM_ID_MAX,
    PACK_NAME_MAX,
    PACK_VERSION_MAX,
    SESSION_ID_MAX,
    USER_ID_MAX,
    AnswerRow,
    Base,
    ForgetRequestRow,
    FriendRow,
    ProfileRow,
    ProfileVersionRow,
    QuestionRow,
    RankingRow,
    SessionRow,
    SummaryRow,
    UserRow,
)
from .records import (
    FEEDBACK_KINDS,
    KWAY_EXTRA_CHOICES,
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

R = TypeVar("R")
Row = TypeVar("Row", bound=Base)

EXPORT_FORMAT = "prefchat-user-export/1"
USER_TABLES = (SessionRow, ProfileRow, ProfileVersionRow, SummaryRow, RankingRow, ForgetRequestRow, FriendRow)  # the tables with a user_id column


def open_store(url: str | os.PathLike[str]) -> Store:
    """Connect to ``url`` (see :func:`~prefchat.storage.make_engine`), create or upgrade the
    schema with Alembic, and return a :class:`Store`."""
    engine = make_engine(url)
    migrate(engine)
    return Store(engine)


class Store:
    """prefchat's data: users, onboarding sessions, answers, profiles, summaries, rankings.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        From :func:`~prefchat.storage.make_engine` (SQLite connections need its pragmas),
        with the schema migrated; :func:`open_store` does both.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._open = threading.local()  # this thread's transaction of an atomic() block, if any

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Run every call of this store inside the block, in this thread, as one transaction.

        All its writes are committed together when the block ends, or none if it raises; reads
        inside see one consistent state. Blocks nest (the outermost one commits). Outside a block
        each call is its own transaction.
        """
        if getattr(self._open, "db", None) is not None:
            yield
            return
        with self._sessions.begin() as db:
            self._open.db = db
            try:
                yield
            finally:
                self._open.db = None

    @contextmanager
    def _transaction(self) -> Iterator[DBSession]:
        """The transaction of one call: the enclosing :meth:`atomic` block's, else a new one."""
        db = getattr(self._open, "db", None)
        if db is not None:
            yield db
            return
        with self._sessions.begin() as db:
            yield db

    def close(self) -> None:
        self.engine.dispose()

    def reachable(self) -> bool:
        """Whether the database answers a ``SELECT 1`` now (for a readiness probe); never raises for an
        unreachable server, a refused login or an unreadable file."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError:
            return False
        return True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- users ---------------------------------------------------------------------------

    def create_user(self, user_id: str | None = None) -> UserRecord:
        """Create a user; without ``user_id`` an anonymous one with a uuid4 hex id."""
        user_id = uuid.uuid4().hex if user_id is None else check_user_id(user_id)
        with self._transaction() as db:
            if db.get(UserRow, user_id) is not None:
                raise Conflict(f"user {user_id!r} already exists")
            return _record(UserRecord, _added(db, UserRow(id=user_id, created_at=_now())))

    def ensure_user(self, user_id: str) -> UserRecord:
        """The user ``user_id``, created on first sight.

        Safe against a concurrent creation by another process: the insert runs in a savepoint,
        and when it loses the race on the primary key the row the winner committed is read
        instead (no Conflict, no IntegrityError).
        """
        user_id = check_user_id(user_id)
        with self._transaction() as db:
            row = db.get(UserRow, user_id)
            if row is not None:
                return _record(UserRecord, row)
            try:
                with db.begin_nested():
                    row = _added(db, UserRow(id=user_id, created_at=_now()))
            except IntegrityError:  # created meanwhile by a concurrent transaction, now committed
                row = _user(db, user_id)
            return _record(UserRecord, row)

    def get_user(self, user_id: str) -> UserRecord:
        with self._transaction() as db:
            return _record(UserRecord, _user(db, user_id))

    # -- sessions, questions, answers ----------------------------------------------------

    def start_session(
        self,
        user_id: str,
        pack_name: str,
        pack_version: str,
        settings: Mapping[str, Any] | None = None,
        reuse_unanswered: bool = False,
    ) -> SessionRecord:
        """Start an onboarding session; the user's active sessions with this pack are abandoned.

        ``settings`` is a JSON object, e.g. ``{"min_questions": 6, "max_questions": 10,
        "strategy": "infogain"}``. With ``reuse_unanswered``, the user's active session of this
        pack and version is returned as it is when it has the same settings and no answer yet:
        two starts at once (a double click, a retry, two tabs opening) then give one session,
        instead of one that the other has already abandoned. The user's row is locked first, so
        concurrent starts for one user run one after the other.
        """
        pack_name, pack_version = _check_pack(pack_name, pack_version)
        settings = _check_json_object({} if settings is None else settings, "settings")
        with self._transaction() as db:
            _user(db, user_id, lock=True)
            if reuse_unanswered:
                answered = (
                    select(AnswerRow.id).join(QuestionRow)
                    .where(QuestionRow.session_id == SessionRow.id, ~AnswerRow.undone).exists()
                )
                fresh = db.scalars(
                    select(SessionRow).where(
                        SessionRow.user_id == user_id, SessionRow.pack_name == pack_name,
                        SessionRow.pack_version == pack_version, SessionRow.state == "active", ~answered,
                    ).order_by(SessionRow.created_at.desc()).limit(1)
                ).first()
                if fresh is not None and fresh.settings == settings:
                    return _record(SessionRecord, fresh)
            now = _now()
            db.execute(
                update(SessionRow)
                .where(SessionRow.user_id == user_id, SessionRow.pack_name == pack_name, SessionRow.state == "active")
                .values(state="abandoned", updated_at=now)
            )
            row = SessionRow(
                id=uuid.uuid4().hex,
                user_id=user_id,
                pack_name=pack_name,
                pack_version=pack_version,
                state="active",
                settings=settings,
                created_at=now,
                updated_at=now,
            )
            return _record(SessionRecord, _added(db, row))

    def get_session(self, session_id: str, lock: bool = False) -> SessionRecord:
        """The session; with ``lock``, its row is locked until the enclosing :meth:`atomic` block
        ends (``SELECT ... FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already serialises writers),
        so that a read-then-write of one session by two processes runs one after the other."""
        with self._transaction() as db:
            return _record(SessionRecord, _session(db, session_id, lock))

    def latest_session(
        self, user_id: str, pack_name: str | None = None, states: Sequence[str] = ("active",)
    ) -> SessionRecord | None:
        """The user's most recently started session in one of ``states`` (with ``pack_name`` if
        given), or None. NotFound for an unknown user."""
        unknown = set(states) - set(SESSION_STATES)
        if unknown:
            raise ValueError(f"session states {sorted(unknown)} are not among {SESSION_STATES}")
        with self._transaction() as db:
            _user(db, user_id)
            query = select(SessionRow).where(SessionRow.user_id == user_id, SessionRow.state.in_(list(states)))
            if pack_name is not None:
                query = query.where(SessionRow.pack_name == pack_name)
            row = db.scalars(query.order_by(SessionRow.created_at.desc()).limit(1)).first()
            return None if row is None else _record(SessionRecord, row)

    def record_question(self, session_id: str, item_ids: Sequence[str]) -> QuestionRecord:
        """Record that ``item_ids`` (two for pairwise, k for k-way) were shown, at the next position.

        Raises Conflict while another question of the session is unanswered: of two racing
        callers, one records the next question and the other is told to show that one.
        """
        item_ids = _check_item_ids(item_ids, min_count=2)
        with self._transaction() as db:
            session = _active_session(db, session_id)
            with db.no_autoflush:  # the session's row is written with the question, not before this read
                last, pending = db.execute(_POSITIONS, {"session_id": session.id}).one()
            if pending is not None:
                raise Conflict(f"session {session_id!r} has question {pending} unanswered; answer or undo it first")
            return _add_question(db, session, item_ids, last)

    def record_answer(
        self, question_id: int, choice: str, raw_text: str = "", latency_ms: int | None = None
    ) -> AnswerRecord:
        """Record the answer to a question, committed before returning.

        ``choice`` is one of ``"a"``, ``"b"``, ``"tie"``, ``"skip"`` for a pairwise
        question; for a k-way question the chosen item id, ``"tie"`` or ``"skip"``.
        ``raw_text`` is what the user typed, ``latency_ms`` how long they took.
        """
        raw_text = _check_str(raw_text, "raw_text")
        latency_ms = _check_latency(latency_ms)
        question_id = _check_count(question_id, "question id")
        with self._transaction() as db:
            found = db.execute(_QUESTION_ANSWERED, {"question_id": question_id}).one_or_none()
            if found is None:
                raise NotFound(f"question {question_id!r} not found")
            session = _active_session(db, found.session_id)
            choice = _check_choice(choice, found.item_ids)
            if found.answered:
                raise Conflict(f"question {question_id} is already answered; undo that answer first")
            return _add_answer(db, session, question_id, "choice", choice, raw_text, latency_ms)

    def record_feedback(self, session_id: str, item_id: str, kind: str, raw_text: str = "") -> AnswerRecord:
        """Record evidence about one item after onboarding: ``kind`` is one of
        ``"thumbs_up"``, ``"thumbs_down"``, ``"more_like"``, ``"less_like"``.

        Stored as a one-item question and its answer, in a session of any state.
        """
        (item_id,) = _check_item_ids([item_id], min_count=1)
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind {kind!r} is not one of {FEEDBACK_KINDS}")
        raw_text = _check_str(raw_text, "raw_text")
        with self._transaction() as db:
            session = _session(db, session_id, lock=True)
            question = _add_question(db, session, (item_id,))
            return _add_answer(db, session, question.id, kind, None, raw_text, None)

    def undo_last_answer(self, session_id: str) -> AnswerRecord | None:
        """Mark the session's most recent live answer undone (it stays in the history).

        Returns the undone answer, or None when there is nothing to undo. Its question
        can then be answered again.
        """
        with self._transaction() as db:
            session = _active_session(db, session_id)
            row = db.scalars(
                select(AnswerRow)
                .join(QuestionRow)
                .where(QuestionRow.session_id == session.id, ~AnswerRow.undone)
                .order_by(AnswerRow.id.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            row.undone = True
            session.updated_at = _now()
            return _record(AnswerRecord, row)

    def session_history(self, session_id: str) -> list[Exchange]:
        """Every question of the session in order, each with its live answer or None.

        Undone answers are left out; the first turn without an answer (or position
        ``len(history) + 1``) is where an interrupted session resumes.
        """
        with self._transaction() as db:
            _session(db, session_id)
            return [_exchange(row._mapping) for row in db.execute(_HISTORY, {"session_id": session_id})]

    def finish_session(self, session_id: str, state: str = "finished") -> SessionRecord:
        """Close an active session as ``"finished"`` or ``"abandoned"``."""
        if state not in ("finished", "abandoned"):
            raise ValueError(f"state {state!r} is not 'finished' or 'abandoned'")
        with self._transaction() as db:
            session = _active_session(db, session_id)
            session.state = state
            session.updated_at = _now()
            return _record(SessionRecord, session)

    def reopen_session(self, session_id: str) -> SessionRecord:
        """A finished session active again, so that its last answer can be undone (its stored
        profile and summary stay until it finishes again); Conflict unless it is finished."""
        with self._transaction() as db:
            session = _session(db, session_id, lock=True)
            if session.state != "finished":
                raise Conflict(f"session {session_id!r} is {session.state}, not finished")
            session.state = "active"
            session.updated_at = _now()
            return _record(SessionRecord, session)

    def note_on_session(self, session_id: str, notes: Mapping[str, Any]) -> SessionRecord:
        """``notes`` (a JSON object) added to a session's settings, key by key: what happened after it that
        its user's next visit reads (a check-in declined). Its answers, state and other settings stay as they are."""
        notes = _check_json_object(notes, "notes")
        with self._transaction() as db:
            session = _session(db, session_id, lock=True)
            session.settings = {**session.settings, **notes}  # a new object: the JSON column sees the change
            return _record(SessionRecord, session)

    # -- profiles ------------------------------------------------------------------------

    def save_profile(
        self,
        user_id: str,
        pack_name: str,
        pack_version: str,
        mean: np.ndarray,
        cov: np.ndarray,
        counts: Mapping[str, int],
    ) -> ProfileRecord:
        """Save the user's posterior N(mean, cov) for a pack; ``version`` goes up by one.

        Parameters
        ----------
        mean : (n_bases,) array_like of finite floats
        cov : (n_bases, n_bases) array_like, symmetric, finite
        counts : answers by kind, e.g. ``{"a": 4, "b": 3, "tie": 1, "skip": 2}``
        """
        pack_name, pack_version = _check_pack(pack_name, pack_version)
        mean, cov = _check_gaussian(mean, cov)
        counts = _check_counts(counts)
        with self._transaction() as db:
            _user(db, user_id, lock=True)
            row = db.scalars(
                select(ProfileRow).filter_by(user_id=user_id, pack_name=pack_name, pack_version=pack_version)
            ).one_or_none()
            if row is None:
                row = ProfileRow(user_id=user_id, pack_name=pack_name, pack_version=pack_version, version=0)
                db.add(row)
            row.version += 1
            row.mean = mean.tolist()
            row.cov = cov.tolist()
            row.counts = counts
            row.n_answers = sum(counts.values())
            row.updated_at = _now()
            db.add(ProfileVersionRow(user_id=user_id, pack_name=pack_name, pack_version=pack_version, version=row.version,
                                     mean=row.mean, cov=row.cov, counts=counts, n_answers=row.n_answers,
                                     updated_at=row.updated_at))
            return _profile_record(row)

    def profile_history(self, user_id: str, pack_name: str | None = None) -> list[ProfileRecord]:
        """Every version of the user's profile ever saved (of ``pack_name`` if given), oldest first: a saved
        profile is replaced as the current one, never lost (as a summary's old versions are kept)."""
        with self._transaction() as db:
            _user(db, user_id)
            query = select(ProfileVersionRow).where(ProfileVersionRow.user_id == user_id)
            if pack_name is not None:
                query = query.where(ProfileVersionRow.pack_name == pack_name)
            rows = db.scalars(query.order_by(ProfileVersionRow.id))
            return [_profile_record(row) for row in rows]

    def get_profile(
        self, user_id: str, pack_name: str | None = None, pack_version: str | None = None
    ) -> ProfileRecord | None:
        """The user's most recently saved profile (for this pack name / version if given), or None."""
        with self._transaction() as db:
            _user(db, user_id)
            query = _profiles_of_pack(select(ProfileRow).where(ProfileRow.user_id == user_id), pack_name, pack_version)
            row = db.scalars(query.order_by(ProfileRow.updated_at.desc(), ProfileRow.id.desc()).limit(1)).first()
            return None if row is None else _profile_record(row)

    def list_profiles(
        self,
        pack_name: str | None = None,
        pack_version: str | None = None,
        since: datetime | None = None,
        min_answers: int | None = None,
        search: str | None = None,
    ) -> list[ProfileRecord]:
        """Profiles for the analyst, most recently updated first.

        Parameters
        ----------
        pack_name, pack_version : keep this pack only
        since : timezone-aware datetime, keep profiles updated at or after it
        min_answers : keep profiles built from at least this many answers
        search : case-insensitive substring of the user id or of the current summary text
        """
        query = _profiles_of_pack(select(ProfileRow), pack_name, pack_version)
        if since is not None:
            if not isinstance(since, datetime) or since.tzinfo is None:
                raise ValueError(f"since={since!r} must be a timezone-aware datetime")
            query = query.where(ProfileRow.updated_at >= since)
        if min_answers is not None:
            query = query.where(ProfileRow.n_answers >= _check_count(min_answers, "min_answers"))
        if search:
            summary_matches = (
                select(SummaryRow.id)
                .where(
                    SummaryRow.user_id == ProfileRow.user_id,
                    SummaryRow.pack_name == ProfileRow.pack_name,
                    SummaryRow.superseded_at.is_(None),
                    SummaryRow.text.icontains(search, autoescape=True),
                )
                .exists()
            )
            query = query.where(or_(ProfileRow.user_id.icontains(search, autoescape=True), summary_matches))
        with self._transaction() as db:
            rows = db.scalars(query.order_by(ProfileRow.updated_at.desc(), ProfileRow.id.desc()))
            return [_profile_record(row) for row in rows]

    # -- summaries -----------------------------------------------------------------------

    def add_summary(
        self,
        user_id: str,
        pack_name: str,
        pack_version: str,
        text: str,
        structured: Mapping[str, Any],
        source: str = "generated",
    ) -> SummaryRecord:
        """Add a new current summary of the user for a pack name; the previous one is
        superseded (kept, with ``superseded_at`` set).

        ``structured`` is ``{descriptor: {"weight": ..., "sign": ..., "confidence": ...}}``;
        ``source`` is ``"generated"`` or ``"edited"`` (by the user).
        """
        pack_name, pack_version = _check_pack(pack_name, pack_version)
        text = _check_str(text, "text")
        structured = _check_json_object(structured, "structured")
        if source not in SUMMARY_SOURCES:
            raise ValueError(f"source {source!r} is not one of {SUMMARY_SOURCES}")
        with self._transaction() as db:
            _user(db, user_id, lock=True)
            now = _now()
            db.execute(
                update(SummaryRow)
                .where(
                    SummaryRow.user_id == user_id, SummaryRow.pack_name == pack_name, SummaryRow.superseded_at.is_(None)
                )
                .values(superseded_at=now)
            )
            row = SummaryRow(
                user_id=user_id,
                pack_name=pack_name,
                pack_version=pack_version,
                text=text,
                structured=structured,
                source=source,
                created_at=now,
                superseded_at=None,
            )
            return _record(SummaryRecord, _added(db, row))

    def current_summary(self, user_id: str, pack_name: str) -> SummaryRecord | None:
        """The user's current summary for a pack name, or None if there is none yet."""
        with self._transaction() as db:
            _user(db, user_id)
            row = db.scalars(
                select(SummaryRow).filter_by(user_id=user_id, pack_name=pack_name, superseded_at=None)
            ).one_or_none()
            return None if row is None else _record(SummaryRecord, row)

    def summary_history(self, user_id: str, pack_name: str) -> list[SummaryRecord]:
        """Every summary of the user for a pack name, oldest first; the last is current."""
        with self._transaction() as db:
            _user(db, user_id)
            query = select(SummaryRow).filter_by(user_id=user_id, pack_name=pack_name).order_by(SummaryRow.id)
            rows = db.scalars(query)
            return [_record(SummaryRecord, row) for row in rows]

    # -- rankings ------------------------------------------------------------------------

    def record_ranking(
        self, user_id: str, pack_name: str, pack_version: str, item_ids: Sequence[str], scores: Sequence[float]
    ) -> RankingRecord:
        """Record a ranking served to the user: ``item_ids`` best first, with their ``scores``."""
        pack_name, pack_version = _check_pack(pack_name, pack_version)
        item_ids = _check_item_ids(item_ids, min_count=1)
        values = np.asarray(scores, dtype=float)
        if values.shape != (len(item_ids),) or not np.all(np.isfinite(values)):
            raise ValueError(f"scores must be {len(item_ids)} finite numbers, one per item; got {values!r}")
        with self._transaction() as db:
            _user(db, user_id)
            row = RankingRow(
                user_id=user_id,
                pack_name=pack_name,
                pack_version=pack_version,
                item_ids=list(item_ids),
                scores=values.tolist(),
                created_at=_now(),
            )
            return _ranking_record(_added(db, row))

    # -- confirmations -------------------------------------------------------------------

    def ask_forget(self, user_id: str, ttl: timedelta) -> None:
        """Record that the user asked to be forgotten: :meth:`take_forget` says so for ``ttl`` from now.

        NotFound for an unknown user (there is nothing to forget). Asking again restarts the clock.
        """
        with self._transaction() as db:
            _user(db, user_id, lock=True)  # concurrent asks of one user run one after the other
            row, expires_at = db.get(ForgetRequestRow, user_id), _now() + ttl
            if row is None:
                _added(db, ForgetRequestRow(user_id=user_id, expires_at=expires_at))
            else:
                row.expires_at = expires_at

    def take_forget(self, user_id: str) -> bool:
        """Whether the user has an unexpired "forget me" pending; it is dropped either way (taken once:
        of two processes reading it at once, one gets True)."""
        with self._transaction() as db:
            row = db.get(ForgetRequestRow, check_user_id(user_id), with_for_update=True)
            if row is None:
                return False
            db.delete(row)
            db.flush()
            return row.expires_at > _now()

    # -- friends -------------------------------------------------------------------------

    def set_friends(self, user_id: str, friends: Mapping[str, float]) -> None:
        """Replace the user's friends with ``friends`` (friend id -> positive weight); NotFound for an unknown user."""
        checked = {check_user_id(friend): _check_weight(weight) for friend, weight in friends.items()}
        if user_id in checked:
            raise ValueError(f"user {user_id!r} cannot be their own friend")
        with self._transaction() as db:
            _user(db, user_id, lock=True)
            db.execute(delete(FriendRow).where(FriendRow.user_id == user_id), execution_options={"synchronize_session": False})
            if checked:  # one executemany, not an object per friend
                db.execute(insert(FriendRow), [{"user_id": user_id, "friend_id": friend, "weight": weight}
                                               for friend, weight in checked.items()])

    def friends_of(self, user_id: str) -> dict[str, float]:
        """The user's friends with their weights (empty for a user with none, or not stored)."""
        with self._transaction() as db:
            rows = db.execute(select(FriendRow.friend_id, FriendRow.weight).where(FriendRow.user_id == check_user_id(user_id))
                              .order_by(FriendRow.friend_id))
            return {friend: float(weight) for friend, weight in rows}

    def stored_users(self, user_ids: Iterable[str]) -> set[str]:
        """Those of ``user_ids`` that are stored users."""
        ids = [check_user_id(user_id) for user_id in user_ids]
        with self._transaction() as db:
            return set(db.scalars(select(UserRow.id).where(UserRow.id.in_(ids)))) if ids else set()

    # -- the user's data as a whole ------------------------------------------------------

    def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, as JSON-serialisable data (lists per table,
        including undone answers and superseded summaries; timestamps in ISO 8601)."""
        with self._transaction() as db:
            user = _user(db, user_id)
            sessions = db.scalars(
                select(SessionRow).where(SessionRow.user_id == user_id).order_by(SessionRow.created_at)
            )
            questions = db.scalars(
                select(QuestionRow)
                .join(SessionRow)
                .where(SessionRow.user_id == user_id)
                .order_by(QuestionRow.session_id, QuestionRow.position)
            )
            answers = db.scalars(
                select(AnswerRow)
                .join(QuestionRow)
                .join(SessionRow)
                .where(SessionRow.user_id == user_id)
                .order_by(AnswerRow.id)
            )
            profiles = db.scalars(select(ProfileRow).where(ProfileRow.user_id == user_id).order_by(ProfileRow.id))
            versions = db.scalars(select(ProfileVersionRow).where(ProfileVersionRow.user_id == user_id)
                                  .order_by(ProfileVersionRow.id))
            summaries = db.scalars(select(SummaryRow).where(SummaryRow.user_id == user_id).order_by(SummaryRow.id))
            rankings = db.scalars(select(RankingRow).where(RankingRow.user_id == user_id).order_by(RankingRow.id))
            friends = db.execute(select(FriendRow.friend_id, FriendRow.weight).where(FriendRow.user_id == user_id)
                                 .order_by(FriendRow.friend_id))
            return {
                "format": EXPORT_FORMAT,
                "exported_at": _now().isoformat(),
                "user": _jsonable(_record(UserRecord, user)),
                "sessions": [_jsonable(_record(SessionRecord, row)) for row in sessions],
                "questions": [_jsonable(_question_record(row)) for row in questions],
                "answers": [_jsonable(_record(AnswerRecord, row)) for row in answers],
                "profiles": [_jsonable(_profile_record(row)) for row in profiles],
                "profile_history": [_jsonable(_profile_record(row)) for row in versions],
                "summaries": [_jsonable(_record(SummaryRecord, row)) for row in summaries],
                "rankings": [_jsonable(_ranking_record(row)) for row in rankings],
                "friends": [{"friend_id": friend, "weight": float(weight)} for friend, weight in friends],
            }

    def delete_user(self, user_id: str) -> None:
        """Delete the user and every row that refers to them, in every table.

        The deletes are explicit, children first, so they do not depend on the database
        enforcing ``ON DELETE CASCADE`` (which the schema also declares). On SQLite the deleted
        rows are overwritten (``secure_delete``) and, unless the call runs inside an
        :meth:`atomic` block, the write-ahead log is checkpointed and truncated once the delete
        is committed, so that the user's id and answers are not left in the ``-wal`` file
        (:func:`~prefchat.storage.engine.checkpoint`).
        """
        self._delete_user(user_id)
        if getattr(self._open, "db", None) is None:
            checkpoint(self.engine)

    def _delete_user(self, user_id: str) -> None:
        with self._transaction() as db:
            _user(db, user_id, lock=True)
            session_ids = select(SessionRow.id).where(SessionRow.user_id == user_id)
            question_ids = select(QuestionRow.id).where(QuestionRow.session_id.in_(session_ids))
            statements = [
                delete(AnswerRow).where(AnswerRow.question_id.in_(question_ids)),
                delete(QuestionRow).where(QuestionRow.session_id.in_(session_ids)),
                *(delete(table).where(table.user_id == user_id) for table in USER_TABLES),
                delete(FriendRow).where(FriendRow.friend_id == user_id),  # out of everyone's friend list
                delete(UserRow).where(UserRow.id == user_id),
            ]
            for statement in statements:
                db.execute(statement, execution_options={"synchronize_session": False})


# -- validation: pure functions, ValueError naming the offending value ---------------------


def _check_weight(weight: object) -> float:
    """A friend's weight: a finite number above 0."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"a friend's weight must be a finite number above 0, got {weight!r}")
    return float(weight)


_NOT_IN_USER_IDS = ((0x00, 0x1F), (0x7F, 0xA0), (0xAD, 0xAD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
                    (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180E, 0x180E), (0x2000, 0x200F), (0x2028, 0x202F),
                    (0x205F, 0x206F), (0x2800, 0x2800), (0x3000, 0x3000), (0x3164, 0x3164), (0xFEFF, 0xFEFF),
                    (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB))
_NOT_IN = "".join(f"\\u{low:04x}" + ("" if low == high else f"-\\u{high:04x}") for low, high in _NOT_IN_USER_IDS)
USER_ID_PATTERN = f"^[^{_NOT_IN} ](?:[^{_NOT_IN}]{{0,{USER_ID_MAX - 2}}}[^{_NOT_IN} ])?$"
"""What a user id is, as a regular expression (Python's and ECMAScript's alike, for the OpenAPI
document): 1 to 128 characters of visible text, none of them a control character (C0, C1), a
space other than U+0020 (no-break, ideographic, ...), a line or paragraph separator, an invisible
format character (soft hyphen, zero-width and bidirectional controls, byte order mark) or a
character that shows as blank (Hangul fillers, the blank Braille pattern, ...), and no space at
either end. Lone surrogates, which UTF-8 cannot carry, are refused too (:func:`check_user_id`)."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_user_id(user_id: object) -> str:
    """Return ``user_id`` if it is a valid opaque user id: a str matching :data:`USER_ID_PATTERN`
    without lone surrogates."""
    if not isinstance(user_id, str) or re.fullmatch(USER_ID_PATTERN, user_id) is None or _SURROGATE.search(user_id):
        raise ValueError(f"user id {user_id!r} must be 1 to {USER_ID_MAX} characters of visible text: no control, "
                         "separator, invisible or blank-looking character, and no space at either end")
    return user_id


def _check_name(value: object, what: str, max_length: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= max_length or not value.isprintable():
        raise ValueError(f"{what} {value!r} must be a str of 1 to {max_length} printable characters")
    return value


def _check_pack(pack_name: object, pack_version: object) -> tuple[str, str]:
    name = _check_name(pack_name, "pack name", PACK_NAME_MAX)
    return name, _check_name(pack_version, "pack version", PACK_VERSION_MAX)


def _check_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} {value!r} must be a str")
    return value


def _check_item_ids(item_ids: Iterable[str], min_count: int) -> tuple[str, ...]:
    if isinstance(item_ids, str):
        raise ValueError(f"item ids {item_ids!r} must be a sequence of ids, not one str")
    items = tuple(_check_name(item, "item id", ITEM_ID_MAX) for item in item_ids)
    if len(items) < min_count or len(set(items)) != len(items):
        raise ValueError(f"item ids {items!r} must be at least {min_count} distinct ids")
    return items


def _check_choice(choice: object, item_ids: Sequence[str]) -> str:
    if len(item_ids) < 2:
        raise ValueError(f"question with items {item_ids!r} holds feedback, not a choice")
    allowed = PAIRWISE_CHOICES if len(item_ids) == 2 else (*item_ids, *KWAY_EXTRA_CHOICES)
    if choice not in allowed:
        raise ValueError(f"choice {choice!r} is not one of {allowed}")
    return str(choice)


def _check_count(value: object, what: str) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} {value!r} must be a non-negative integer")
    return int(value)


def _check_latency(latency_ms: object) -> int | None:
    return None if latency_ms is None else _check_count(latency_ms, "latency_ms")


def _check_counts(counts: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(counts, Mapping):
        raise ValueError(f"counts {counts!r} must be a mapping of answer kind to count")
    return {_check_str(kind, "answer kind"): _check_count(n, f"count of {kind!r}") for kind, n in counts.items()}


def _check_json_object(value: object, what: str) -> dict[str, Any]:
    """A plain JSON copy of ``value``, which must be a mapping that JSON can hold exactly."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} {value!r} must be a mapping")
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} {value!r} is not JSON-serialisable: {exc}") from None
    copy = json.loads(text)
    if copy.keys() != value.keys():
        raise ValueError(f"{what} {value!r} must have str keys")
    return copy


def _check_gaussian(mean: object, cov: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate N(mean, cov): shapes (n_bases,) and (n_bases, n_bases), finite, cov symmetric."""
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if mean.ndim != 1 or mean.size == 0 or cov.shape != (mean.size, mean.size):
        raise ValueError(f"mean of shape {mean.shape} and cov of shape {cov.shape}: need (K,) and (K, K), K >= 1")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise ValueError(f"mean {mean!r} and cov {cov!r} must be finite")
    if not np.allclose(cov, cov.T):
        raise ValueError(f"cov {cov!r} is not symmetric")
    return mean, cov


# -- rows to records -----------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _get(db: DBSession, model: type[Row], key: object, what: str, lock: bool = False) -> Row:
    """The row of ``model`` with primary key ``key`` (locked for update if ``lock``), or NotFound.

    A row this transaction has read already is not asked for again: it is in the session's identity
    map, held there (:func:`_held`: the map only keeps rows something refers to), and a lock is held
    until the transaction ends. One round trip per row and transaction, not one per call.
    """
    locked = db.info.setdefault("locked", set())
    lock = lock and (model, key) not in locked
    row = db.get(model, key, with_for_update=lock)
    if row is None:
        raise NotFound(f"{what} {key!r} not found")
    if lock:
        locked.add((model, key))
    return _held(db, row)


def _held(db: DBSession, row: Row) -> Row:
    """``row``, referred to until the transaction ends, so that the session's identity map (which
    holds its rows weakly) answers a later :func:`_get` of it without a query."""
    db.info.setdefault("held", []).append(row)
    return row


def _added(db: DBSession, row: Row) -> Row:
    """Insert ``row`` now, so that its generated id is known."""
    db.add(row)
    db.flush()
    return row


def _user(db: DBSession, user_id: object, lock: bool = False) -> UserRow:
    return _get(db, UserRow, check_user_id(user_id), "user", lock)


def _session(db: DBSession, session_id: object, lock: bool = False) -> SessionRow:
    return _get(db, SessionRow, _check_name(session_id, "session id", SESSION_ID_MAX), "session", lock)


def _active_session(db: DBSession, session_id: object) -> SessionRow:
    """The session row, locked; Conflict unless it is active."""
    session = _session(db, session_id, lock=True)
    if session.state != "active":
        raise Conflict(f"session {session_id!r} is {session.state}, not active")
    return session


def _add_question(db: DBSession, session: SessionRow, item_ids: Sequence[str], last: int | None = None) -> QuestionRecord:
    """Insert the question after position ``last`` (default: read the session's last position)."""
    if last is None:
        last = db.scalar(select(func.max(QuestionRow.position)).where(QuestionRow.session_id == session.id))
    position, asked_at = (last or 0) + 1, _now()
    question_id = _inserted(db, _INSERT_QUESTION, {"session_id": session.id, "position": position,
                                                   "item_ids": list(item_ids), "asked_at": asked_at})
    session.updated_at = asked_at
    return QuestionRecord(question_id, session.id, position, tuple(item_ids), asked_at)


def _add_answer(db: DBSession, session: SessionRow, question_id: int, kind: str, choice: str | None, raw_text: str,
                latency_ms: int | None) -> AnswerRecord:
    answered_at = _now()
    answer_id = _inserted(db, _INSERT_ANSWER, {"question_id": question_id, "kind": kind, "choice": choice,
                                               "raw_text": raw_text, "latency_ms": latency_ms,
                                               "answered_at": answered_at, "undone": False})
    # The session's row is written once per transaction (with the next question, or at commit),
    # not once per row added.
    session.updated_at = answered_at
    return AnswerRecord(answer_id, question_id, kind, choice, raw_text, latency_ms, answered_at, False)


_INSERT_QUESTION, _INSERT_ANSWER = insert(QuestionRow), insert(AnswerRow)


def _inserted(db: DBSession, statement: Insert, values: dict[str, Any]) -> int:
    """Run ``statement`` with ``values`` on the transaction's connection; the new row's id.

    The rows every answer adds (its answer, the next question) go in as Core inserts: no unit of
    work, and no autoflush of the session's touched row before each (the ORM's flush of one new
    object cost more than the statement itself in a profile of the REST app under load).
    """
    key = db.connection().execute(statement, values).inserted_primary_key
    assert key is not None, "a single-row insert has its primary key"
    return int(key[0])


_QUESTIONS, _ANSWERS = QuestionRow.__table__.c, AnswerRow.__table__.c
_QUESTION_FIELDS = tuple(f.name for f in dataclasses.fields(QuestionRecord))
_ANSWER_FIELDS = tuple(f.name for f in dataclasses.fields(AnswerRecord))
_HISTORY = (  # a session's questions in order, each with its live answer's columns (NULLs if none)
    select(*(_QUESTIONS[name] for name in _QUESTION_FIELDS),
           *(_ANSWERS[name].label(f"answer_{name}") for name in _ANSWER_FIELDS))
    .outerjoin_from(QuestionRow.__table__, AnswerRow.__table__, (_ANSWERS.question_id == _QUESTIONS.id) & ~_ANSWERS.undone)
    .where(_QUESTIONS.session_id == bindparam("session_id"))
    .order_by(_QUESTIONS.position)
)
"""Read as columns, not ORM objects: the history is read on every turn, and loading its rows as
objects cost twice the CPU (1.85 against 0.92 ms a call, cProfile of the REST app answering 440
requests on PostgreSQL)."""


def _exchange(row: RowMapping) -> Exchange:
    """A row of :data:`_HISTORY` as the question and its live answer (None when the answer's columns are NULL)."""
    question = QuestionRecord(**{name: row[name] for name in _QUESTION_FIELDS} | {"item_ids": tuple(row["item_ids"])})
    if row["answer_id"] is None:
        return Exchange(question, None)
    return Exchange(question, AnswerRecord(**{name: row[f"answer_{name}"] for name in _ANSWER_FIELDS}))


_POSITIONS = (  # one query for both: a session's last position, and its first one unanswered
    select(func.max(_QUESTIONS.position),
           func.min(case((~select(_ANSWERS.id).where(_ANSWERS.question_id == _QUESTIONS.id, ~_ANSWERS.undone).exists(),
                          _QUESTIONS.position))))
    .where(_QUESTIONS.session_id == bindparam("session_id"))
)
_QUESTION_ANSWERED = (  # what answering a question needs of it: its session, its items, whether it has a live answer
    select(_QUESTIONS.session_id, _QUESTIONS.item_ids,
           select(_ANSWERS.id).where(_ANSWERS.question_id == _QUESTIONS.id, ~_ANSWERS.undone).exists().label("answered"))
    .where(_QUESTIONS.id == bindparam("question_id"))
)


def _profiles_of_pack(query: Any, pack_name: str | None, pack_version: str | None) -> Any:
    if pack_name is not None:
        query = query.where(ProfileRow.pack_name == pack_name)
    if pack_version is not None:
        query = query.where(ProfileRow.pack_version == pack_version)
    return query


def _record(record_type: type[R], row: Base, **converted: Any) -> R:
    """Build ``record_type`` from the row's attributes of the same names, or ``converted``."""
    fields = dataclasses.fields(record_type)  # type: ignore[arg-type]
    return record_type(**{f.name: converted[f.name] if f.name in converted else getattr(row, f.name) for f in fields})


def _question_record(row: QuestionRow) -> QuestionRecord:
    return _record(QuestionRecord, row, item_ids=tuple(row.item_ids))


def _ranking_record(row: RankingRow) -> RankingRecord:
    return _record(RankingRecord, row, item_ids=tuple(row.item_ids), scores=tuple(row.scores))


def _profile_record(row: ProfileRow | ProfileVersionRow) -> ProfileRecord:
    return _record(ProfileRecord, row, mean=_read_only(row.mean), cov=_read_only(row.cov))


def _read_only(values: list[Any]) -> np.ndarray:
    array = np.array(values, dtype=float)
    array.flags.writeable = False
    return array


def _jsonable(value: Any) -> Any:
    """Records, arrays, tuples and datetimes as plain JSON values (datetimes in ISO 8601)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value
