"""Plain, frozen records returned by :class:`prefchat.storage.Store`; never ORM rows.

Every timestamp is a timezone-aware UTC :class:`~datetime.datetime`. JSON payloads
(``settings``, ``counts``, ``structured``) are plain dicts; item ids are tuples of str.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

SESSION_STATES: tuple[str, ...] = ("active", "finished", "abandoned")

PAIRWISE_CHOICES: tuple[str, ...] = ("a", "b", "tie", "skip")
"""Answers to a pairwise question: item a, item b, both fine (soft label 1/2), don't know."""

KWAY_EXTRA_CHOICES: tuple[str, ...] = ("tie", "skip")
"""Answers to a k-way question besides the chosen item id."""

FEEDBACK_KINDS: tuple[str, ...] = ("thumbs_up", "thumbs_down", "more_like", "less_like")
"""Evidence about one item given after onboarding."""

ANSWER_KINDS: tuple[str, ...] = ("choice", *FEEDBACK_KINDS)

SUMMARY_SOURCES: tuple[str, ...] = ("generated", "edited")


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One onboarding conversation of a user with one pack.

    ``settings`` holds what the conversation was configured with, e.g.
    ``{"min_questions": 6, "max_questions": 10, "strategy": "infogain"}``.
    """

    id: str
    user_id: str
    pack_name: str
    pack_version: str
    state: Literal["active", "finished", "abandoned"]  # one of SESSION_STATES
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class QuestionRecord:
    """Items shown together: two for a pairwise question, k for a k-way one, one for feedback.

    ``position`` counts from 1 within the session.
    """

    id: int
    session_id: str
    position: int
    item_ids: tuple[str, ...]
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One answer. ``kind`` is ``"choice"`` for an answer to a question (``choice`` is then
    one of :data:`PAIRWISE_CHOICES`, or for a k-way question the chosen item id, ``"tie"``
    or ``"skip"``) or one of :data:`FEEDBACK_KINDS` (``choice`` is None).

    Undo never deletes: an undone answer stays in the history with ``undone=True``.
    """

    id: int
    question_id: int
    kind: str
    choice: str | None
    raw_text: str
    latency_ms: int | None
    answered_at: datetime
    undone: bool


@dataclass(frozen=True, slots=True)
class Exchange:
    """A question asked in a session and its live answer (None while unanswered or after undo).

    Not to be confused with the turns the assistant returns (:mod:`prefchat.assistant.turns`)."""

    question: QuestionRecord
    answer: AnswerRecord | None


@dataclass(frozen=True, slots=True, eq=False)
class ProfileRecord:
    """A user's posterior N(mean, cov) over the coefficients of one pack.

    Attributes
    ----------
    mean : (n_bases,) float64, read-only
    cov : (n_bases, n_bases) float64, read-only
    counts : dict of str to int, answers by kind, e.g. ``{"a": 4, "b": 3, "tie": 1, "skip": 2}``
    n_answers : int, the sum of ``counts``
    version : int, 1 on the first save, incremented on each save
    """

    user_id: str
    pack_name: str
    pack_version: str
    version: int
    mean: np.ndarray
    cov: np.ndarray
    counts: dict[str, int]
    n_answers: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SummaryRecord:
    """A semantic preference summary: text plus ``{descriptor: {weight, sign, confidence}}``.

    Summaries are keyed by pack *name*: they are model-independent and carry a profile
    across retrained pack versions. ``pack_version`` records the version that wrote it.
    A new summary supersedes the current one (``superseded_at`` is set), never deletes it.
    """

    id: int
    user_id: str
    pack_name: str
    pack_version: str
    text: str
    structured: dict[str, Any]
    source: str
    created_at: datetime
    superseded_at: datetime | None


@dataclass(frozen=True, slots=True)
class RankingRecord:
    """Items served to a user, best first, with their scores (for analysts)."""

    id: int
    user_id: str
    pack_name: str
    pack_version: str
    item_ids: tuple[str, ...]
    scores: tuple[float, ...]
    created_at: datetime
