"""What the engine returns and how a session is run: frozen turns the UI renders, and the options.

Every call of :class:`~prefchat.assistant.session.Conversation` returns one of
:class:`QuestionTurn`, :class:`ResultTurn`, :class:`ReplyTurn` or :class:`ReaskTurn`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..elicitation import STRATEGIES, Comparison, Posterior
from ..elicitation.selection import check_stop_rule
from ..reward.pack import OBJECTIVES, Item
from ..storage import FEEDBACK_KINDS, SessionRecord, Turn
from .ranking import Ranked

__all__ = [
    "AnyTurn",
    "ItemCard",
    "QuestionTurn",
    "ReaskTurn",
    "ReplyTurn",
    "ResultTurn",
    "SessionOptions",
    "SessionState",
    "Showcase",
]

ItemCard = Item
"""One item as the UI shows it: ``item_id``, ``title``, ``text``, ``tags`` (the pack's own record)."""


@dataclass(frozen=True)
class QuestionTurn:
    """"Which do you prefer?" between ``item_a`` and ``item_b``.

    ``position`` counts answers from 1 ("3 of about 10" is position 3, expected_total 10);
    ``prompt`` is the shared prompt of the two items when the pack groups items (e.g. the
    question both assistant responses answer), else None. ``question_id`` names the stored
    question: an answer that names it is taken once, however often it is sent. ``objective``
    is what the question asks (see :attr:`SessionOptions.objective`).
    """

    session_id: str
    user_id: str
    position: int
    expected_total: int
    item_a: ItemCard
    item_b: ItemCard
    prompt: str | None = None
    question_id: int | None = None
    objective: str = "prefer"

    @property
    def progress(self) -> str:
        return f"{self.position} of about {self.expected_total}"


@dataclass(frozen=True)
class Showcase:
    """One prompt the pack never trained on: the response picked for this user (and why), and the
    crowd's pick when it is another one (None when they agree)."""

    prompt: str
    picked: str
    why: str
    crowd: str | None


@dataclass(frozen=True)
class ResultTurn:
    """Onboarding is over: the user's summary, first recommendations and answer counts, and on packs
    that hold prompts out, what the user's profile picks there (:class:`Showcase`)."""

    session_id: str
    user_id: str
    summary_text: str
    recommendations: tuple[Ranked, ...]
    counts: Mapping[str, int]
    showcase: tuple[Showcase, ...] = ()


@dataclass(frozen=True)
class ReplyTurn:
    """A chat reply after onboarding; ``intent`` is what the message was understood as."""

    text: str
    intent: str = "help"
    recommendations: tuple[Ranked, ...] = ()


@dataclass(frozen=True)
class ReaskTurn:
    """The message was not an answer: ``text`` says so kindly, ``question`` is asked again."""

    text: str
    question: QuestionTurn


AnyTurn = QuestionTurn | ResultTurn | ReplyTurn | ReaskTurn


@dataclass(frozen=True)
class SessionOptions:
    """How a session is run; stored with the session, so a resumed session keeps its own.

    Attributes
    ----------
    min_questions, max_questions : int
        Never stop before ``min_questions`` answers, always after ``max_questions``
        (see :func:`~prefchat.elicitation.should_stop`); "about ``max_questions``" is what the
        user is told.
    strategy : str, a key of :data:`~prefchat.elicitation.STRATEGIES`
    threshold : float
        Stop early when the best next question carries fewer nats than this.
    pool_size : int
        Items questions are drawn from (:meth:`~prefchat.reward.pack.Pack.pool`).
    n_recommendations : int
        Recommendations shown with the result.
    objective : str or None
        What the questions ask and how the catalog is ranked, one of
        :data:`~prefchat.reward.pack.OBJECTIVES`: it fixes the session's prior
        (:meth:`~prefchat.reward.pack.Pack.session_prior`) and catalog score
        (:meth:`~prefchat.reward.pack.Pack.catalog_score`). None: the pack's own
        (:attr:`~prefchat.reward.pack.Pack.objective`), resolved when the session starts.
    """

    min_questions: int = 5
    max_questions: int = 10
    strategy: str = "active"
    threshold: float = 0.01
    pool_size: int = 300
    n_recommendations: int = 10
    objective: str | None = None

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r} is not one of {sorted(STRATEGIES)}")
        check_stop_rule(self.min_questions, self.max_questions, self.threshold)
        for name in ("pool_size", "n_recommendations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.objective is not None and self.objective not in OBJECTIVES:
            raise ValueError(f"objective {self.objective!r} is not one of {OBJECTIVES}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SessionOptions:
        """The options stored with a session (keys of other kinds, e.g. provenance, are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in settings.items() if key in names})


@dataclass(frozen=True, eq=False)
class SessionState:
    """A session as rebuilt from storage.

    Attributes
    ----------
    record : SessionRecord
    options : SessionOptions, with the objective resolved
    seed : int, the session's question seed (see :func:`~prefchat.elicitation.onboarding.question_rng`)
    history : tuple of Turn, every stored question with its live answer
    answers : tuple of Comparison, what the posterior is conditioned on, in order
    kinds : tuple of str, the stored kind of each answer ("a", "b", "tie", "skip" or a feedback kind)
    pending : Turn or None, the first question still unanswered
    posterior : Posterior
    """

    record: SessionRecord
    options: SessionOptions
    seed: int
    history: tuple[Turn, ...]
    answers: tuple[Comparison, ...]
    kinds: tuple[str, ...]
    pending: Turn | None
    posterior: Posterior

    @property
    def objective(self) -> str:
        """What the session asks and how it ranks (resolved when it started, see :class:`SessionOptions`)."""
        assert self.options.objective is not None  # SessionState holds resolved options
        return self.options.objective

    @property
    def n_answered(self) -> int:
        """Onboarding answers, skips included (a skip is a click)."""
        return sum(kind not in FEEDBACK_KINDS for kind in self.kinds)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(self.kinds))
