"""SQLAlchemy 2 models: the schema prefchat stores, one class per table.

Only :mod:`prefchat.storage` imports these; other layers get plain records.
Every foreign key to a user (directly or through sessions and questions) is
``ON DELETE CASCADE``, and timestamps are timezone-aware UTC on every backend.
The Alembic migrations in ``migrations/versions`` must match these classes; a test
compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column

from .records import ANSWER_KINDS, SESSION_STATES, SUMMARY_SOURCES

USER_ID_MAX = 128
SESSION_ID_MAX = 32
ITEM_ID_MAX = 256
PACK_NAME_MAX = 128
PACK_VERSION_MAX = 64

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored as UTC and read back as UTC on every backend.

    SQLite keeps no offset, so values are converted to UTC before storage and tagged as
    UTC when read; a naive datetime is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _user_fk(index: bool = True) -> MappedColumn[str]:
    return mapped_column(String(USER_ID_MAX), ForeignKey("users.id", ondelete="CASCADE"), index=index)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRow(Base):
    """An opaque user id (anonymous users get a uuid4 hex)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(USER_ID_MAX), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SessionRow(Base):
    """One onboarding conversation of a user with one pack."""

    __tablename__ = "sessions"
    __table_args__ = (CheckConstraint(_one_of("state", SESSION_STATES), name="state"),)

    id: Mapped[str] = mapped_column(String(SESSION_ID_MAX), primary_key=True)
    user_id: Mapped[str] = _user_fk()
    pack_name: Mapped[str] = mapped_column(String(PACK_NAME_MAX))
    pack_version: Mapped[str] = mapped_column(String(PACK_VERSION_MAX))
    state: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QuestionRow(Base):
    """Items shown together, as a JSON list of item ids, at a 1-based position."""

    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("session_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_MAX), ForeignKey("sessions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item_ids: Mapped[list[str]] = mapped_column(JSON)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AnswerRow(Base):
    """An answer to a question, or feedback on a one-item question; undo sets ``undone``."""

    __tablename__ = "answers"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ANSWER_KINDS), name="kind"),
        CheckConstraint("(kind = 'choice') = (choice IS NOT NULL)", name="choice_iff_kind_choice"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(Integer, ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    choice: Mapped[str | None] = mapped_column(String(ITEM_ID_MAX))
    raw_text: Mapped[str] = mapped_column(Text)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)


class SavedPosterior:
    """The columns of one saved posterior, the same in the current profile and in its history."""

    pack_name: Mapped[str] = mapped_column(String(PACK_NAME_MAX))
    pack_version: Mapped[str] = mapped_column(String(PACK_VERSION_MAX))
    version: Mapped[int] = mapped_column(Integer)
    mean: Mapped[list[float]] = mapped_column(JSON)
    cov: Mapped[list[list[float]]] = mapped_column(JSON)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)


class ProfileRow(SavedPosterior, Base):
    """The current posterior of a user for one pack name and version, saved in place."""

    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("user_id", "pack_name", "pack_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = _user_fk(index=False)  # the unique constraint indexes it
    n_answers: Mapped[int] = mapped_column(Integer, index=True)  # the analysts' list sorts and filters by these two
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ProfileVersionRow(SavedPosterior, Base):
    """Every saved version of a user's posterior, never rewritten: what :class:`ProfileRow` held after each save."""

    __tablename__ = "profile_versions"
    __table_args__ = (Index("ix_profile_versions_user_id_pack_name", "user_id", "pack_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = _user_fk(index=False)  # indexed with pack_name above
    n_answers: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SummaryRow(Base):
    """A version of a user's preference summary; ``superseded_at`` is NULL for the current one."""

    __tablename__ = "summaries"
    __table_args__ = (
        CheckConstraint(_one_of("source", SUMMARY_SOURCES), name="source"),
        Index("ix_summaries_user_id_pack_name", "user_id", "pack_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = _user_fk(index=False)  # indexed with pack_name above
    pack_name: Mapped[str] = mapped_column(String(PACK_NAME_MAX))
    pack_version: Mapped[str] = mapped_column(String(PACK_VERSION_MAX))
    text: Mapped[str] = mapped_column(Text)
    structured: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RankingRow(Base):
    """A ranking served to a user: item ids best first and their scores, as JSON lists."""

    __tablename__ = "rankings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = _user_fk()
    pack_name: Mapped[str] = mapped_column(String(PACK_NAME_MAX))
    pack_version: Mapped[str] = mapped_column(String(PACK_VERSION_MAX))
    item_ids: Mapped[list[str]] = mapped_column(JSON)
    scores: Mapped[list[float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ForgetRequestRow(Base):
    """A "forget me" the user asked for and has not confirmed yet; a confirmation counts until ``expires_at``.

    Kept in the database, not in a process, so that the confirmation may reach any server process.
    """

    __tablename__ = "forget_requests"

    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FriendRow(Base):
    """A friend of a user, as the host named them (a user id: a pack's training user or a stored user), with a weight.

    A user's friends give their social prior. Deleting a user deletes their friend list and every
    row naming them as a friend (:meth:`~prefchat.storage.Store.delete_user`).
    """

    __tablename__ = "friends"
    __table_args__ = (UniqueConstraint("user_id", "friend_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = _user_fk(index=False)  # the unique constraint indexes it
    friend_id: Mapped[str] = mapped_column(String(USER_ID_MAX), index=True)
    weight: Mapped[float] = mapped_column(Float)

