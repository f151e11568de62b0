"""What the assistant returns and how a session is run: frozen turns the UI renders, and the options.

Every call of :class:`~prefchat.assistant.session.Conversation` returns one of
:class:`QuestionTurn`, :class:`ResultTurn`, :class:`ReplyTurn` or :class:`ReaskTurn`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..elicitation import STRATEGIES, Answer, Posterior
from ..elicitation.checkin import CheckIn
from ..elicitation.selection import KWAY_STRATEGIES, check_stop_rule
from ..reward.manifest import MAX_QUESTION_SIZE
from ..reward.pack import Item
from ..reward.serving import OBJECTIVES, SERVED_POOL_SIZE
from ..storage import FEEDBACK_KINDS, Exchange, SessionRecord
from .cards import card_view
from .recommender import Ranked

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
    """"Which do you prefer?" between ``item_a`` and ``item_b``, or "which would you pick?" among :attr:`items`.

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
    more_items: tuple[ItemCard, ...] = ()

    @property
    def items(self) -> tuple[ItemCard, ...]:
        """The cards shown, in order: two for "which do you prefer?", k for "which of these k would you pick?"."""
        return (self.item_a, self.item_b, *self.more_items)

    @property
    def words(self) -> int:
        """Words a person reads to answer: the shared prompt, and what every card shows before its
        "Read all" (:func:`~prefchat.assistant.cards.card_view`)."""
        grouped = self.prompt is not None
        return len((self.prompt or "").split()) + sum(len(card_view(card, grouped).words) for card in self.items)

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
    that hold prompts out, what the user's profile picks there (:class:`Showcase`); ``example``, a
    correction in words the pack can act on, for the chat to suggest; ``moved``, after a returning
    user's check-in, whether its answers contradicted the old profile
    (:meth:`~prefchat.elicitation.checkin.CheckIn.contradicted`: the taste moved), None after an onboarding."""

    session_id: str
    user_id: str
    summary_text: str
    recommendations: tuple[Ranked, ...]
    counts: Mapping[str, int]
    showcase: tuple[Showcase, ...] = ()
    example: str = ""
    moved: bool | None = None


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
        Items questions are drawn from (:meth:`~prefchat.reward.serving.Serving.pool`).
    n_recommendations : int
        Recommendations shown with the result.
    question_size : int or None
        Options a question shows: 2 for pairs, up to
        :data:`~prefchat.reward.manifest.MAX_QUESTION_SIZE` for "which of these k would you pick?"
        (:data:`~prefchat.elicitation.selection.KWAY_STRATEGIES`: only with the ``active`` or the
        ``random`` strategy). None: the pack's validated size (:attr:`~prefchat.reward.pack.Pack.question_size`),
        resolved when the session starts.
    objective : str or None
        What the questions ask and how the catalog is ranked, one of
        :data:`~prefchat.reward.pack.OBJECTIVES`: it fixes the session's prior
        (:meth:`~prefchat.reward.serving.Serving.session_prior`) and catalog score
        (:attr:`~prefchat.reward.serving.ObjectiveServing.catalog_score`). None: the pack's own
        (:attr:`~prefchat.reward.pack.Pack.objective`), resolved when the session starts.
    """

    min_questions: int = 5
    max_questions: int = 10
    strategy: str = "active"
    threshold: float = 0.01
    pool_size: int = SERVED_POOL_SIZE
    n_recommendations: int = 10
    objective: str | None = None
    question_size: int | None = None

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r} is not one of {sorted(STRATEGIES)}")
        check_stop_rule(self.min_questions, self.max_questions, self.threshold)
        for name in ("pool_size", "n_recommendations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.objective is not None and self.objective not in OBJECTIVES:
            raise ValueError(f"objective {self.objective!r} is not one of {OBJECTIVES}")
        size = self.question_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 2 <= size <= MAX_QUESTION_SIZE):
            raise ValueError(f"question_size must be an integer from 2 to {MAX_QUESTION_SIZE}, got {size!r}")
        if size is not None and size > 2 and self.strategy not in KWAY_STRATEGIES:
            raise ValueError(f"questions of {size} options are chosen by one of {sorted(KWAY_STRATEGIES)}, not {self.strategy!r}")

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
    history : tuple of Exchange, every stored question with its live answer
    answers : tuple of Answer, what the posterior is conditioned on, in order
    kinds : tuple of str, the stored kind of each click and feedback ("a", "b", "tie", "skip",
        "pick" for a k-way pick, or a feedback kind)
    unknown : frozenset of int, items of k-way questions answered "none of these" (a skipped
        pair's items are unknown through its comparison)
    pending : Exchange or None, the first question still unanswered
    posterior : Posterior
    checkin : the :class:`~prefchat.elicitation.checkin.CheckIn` a returning user's session tests, or None
        for an onboarding (:mod:`~prefchat.assistant.returning`)
    """

    record: SessionRecord
    options: SessionOptions
    seed: int
    history: tuple[Exchange, ...]
    answers: tuple[Answer, ...]
    kinds: tuple[str, ...]
    unknown: frozenset[int]
    pending: Exchange | None
    posterior: Posterior
    checkin: CheckIn | None = None

    @property
    def objective(self) -> str:
        """What the session asks and how it ranks (resolved when it started, see :class:`SessionOptions`)."""
        assert self.options.objective is not None  # SessionState holds resolved options
        return self.options.objective

    @property
    def question_size(self) -> int:
        """Options a question of this session shows (resolved when it started)."""
        assert self.options.question_size is not None  # SessionState holds resolved options
        return self.options.question_size

    @property
    def n_answered(self) -> int:
        """Onboarding answers, skips included (a skip is a click)."""
        return sum(kind not in FEEDBACK_KINDS for kind in self.kinds)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(self.kinds))
