r"""The conversation engine: about ten pairwise questions, then a chat about the results.

A session is a small state machine driven by :class:`Conversation`::

    start -> QuestionTurn -> answer -> QuestionTurn ... -> ResultTurn -> say -> ReplyTurn ...
                             (undo, finish early; gibberish -> ReaskTurn)

Every call returns a plain frozen turn (:class:`QuestionTurn`, :class:`ResultTurn`,
:class:`ReplyTurn`, :class:`ReaskTurn`) that the UI renders.

The state lives in storage, not in memory
-----------------------------------------
Each question is recorded when it is shown and each answer when it is given, every write its own
committed transaction. The engine keeps no per-session state: every call reads the session's
history back and rebuilds

- the **answers**: one :class:`~prefchat.elicitation.Comparison` per answered question, items
  matched by ``item_id`` in the pack (answers about items the pack no longer has are left out);
- the **posterior**: :func:`~prefchat.elicitation.laplace_posterior` of the pack's prior
  :math:`N(\mu_0, \Sigma_0)` given those answers, Newton's method always started at the prior
  mean, so that the posterior is a function of the stored answers alone: a session resumed after
  a crash holds bit for bit the posterior of one never interrupted;
- the **next question**: the first recorded question still unanswered (after a restart, or after
  an undo), else the strategy's pick with a generator seeded by the session id and the position,
  so that a resumed session asks the question an uninterrupted one would have asked.

Feedback after onboarding
-------------------------
"more like X", "less like X" and thumbs up/down on X are evidence in the same posterior, so the
profile keeps learning. Each is stored (``record_feedback``) in the user's latest session and
replayed as a comparison of X against the catalog's **population-average item**, a virtual item
with features

.. math:: \bar\phi = \frac{1}{n_\text{items}} \sum_i \phi(i),

X winning for "more like" and thumbs up, losing for "less like" and thumbs down. The average item
is fixed by the pack, so replaying the stored feedback always gives the same posterior (a
recommendation list's median item would change with every list shown).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..elicitation import (
    STRATEGIES,
    Comparison,
    Posterior,
    Question,
    SelectionState,
    candidate_pool,
    laplace_posterior,
    should_stop,
)
from ..reward.pack import Item, Pack
from ..storage import FEEDBACK_KINDS, Conflict, NotFound, ProfileRecord, SessionRecord, Store, Turn, check_user_id
from .errors import NoProfile, SessionClosed, WrongPack
from .intents import CONFIRM_FORGET, Embed, Intent, IntentRecognizer, match_item, strip_parenthetical
from .parsing import parse_answer
from .ranking import Ranked, rank
from .summary import Summary, apply_correction, parse_correction, summarize

__all__ = [
    "Conversation",
    "ItemCard",
    "QuestionTurn",
    "ReaskTurn",
    "ReplyTurn",
    "ResultTurn",
    "SessionOptions",
    "SessionState",
    "pack_embedder",
    "reference_features",
    "replay",
    "session_seed",
]

_WINS = {"thumbs_up": "a", "more_like": "a", "thumbs_down": "b", "less_like": "b"}
_FEEDBACK_WORDS = {"thumbs_up": "👍", "more_like": "More like", "thumbs_down": "👎", "less_like": "Less like"}


# --------------------------------------------------------------------------- turns


ItemCard = Item
"""One item as the UI shows it: ``item_id``, ``title``, ``text``, ``tags`` (the pack's own record)."""


@dataclass(frozen=True)
class QuestionTurn:
    """"Which do you prefer?" between ``item_a`` and ``item_b``.

    ``position`` counts answers from 1 ("3 of about 10" is position 3, expected_total 10);
    ``prompt`` is the shared prompt of the two items when the pack groups items (e.g. the
    question both assistant responses answer), else None.
    """

    session_id: str
    user_id: str
    position: int
    expected_total: int
    item_a: ItemCard
    item_b: ItemCard
    prompt: str | None = None

    @property
    def progress(self) -> str:
        return f"{self.position} of about {self.expected_total}"


@dataclass(frozen=True)
class ResultTurn:
    """Onboarding is over: the user's summary, first recommendations and answer counts."""

    session_id: str
    user_id: str
    summary_text: str
    recommendations: tuple[Ranked, ...]
    counts: Mapping[str, int]


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

REASK = "Sorry, I didn't catch that. Type A or B, 'both' if both are fine, or 'skip' if you don't know either."
HELP = (
    "I can: show your recommendations ('recommend'); explain one ('why <title>?'); learn from "
    "'more like <title>', 'less like <title>', '👍 <title>' or '👎 <title>'; tell you what I know "
    "about you ('what do you know about me?'); take a correction ('actually I love musicals', "
    "'no horror please'); 'start over'; or 'forget me' (deletes everything about you)."
)
CORRECTION_NOT_UNDERSTOOD = "I could not tell which taste you mean: try 'I love <genre>' or 'no <genre> please'."


# --------------------------------------------------------------------------- options and state


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
        Items questions are drawn from (:func:`~prefchat.elicitation.candidate_pool`).
    n_recommendations : int
        Recommendations shown with the result.
    """

    min_questions: int = 5
    max_questions: int = 10
    strategy: str = "active"
    threshold: float = 0.01
    pool_size: int = 300
    n_recommendations: int = 10

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r} is not one of {sorted(STRATEGIES)}")
        if not 0 <= self.min_questions <= self.max_questions:
            raise ValueError(
                f"need 0 <= min_questions <= max_questions, got {self.min_questions} and {self.max_questions}"
            )
        if not self.threshold >= 0:
            raise ValueError(f"threshold must be non-negative, got {self.threshold!r}")
        for name in ("pool_size", "n_recommendations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")

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
    options : SessionOptions
    history : tuple of Turn, every stored question with its live answer
    answers : tuple of Comparison, what the posterior is conditioned on, in order
    kinds : tuple of str, the stored kind of each answer ("a", "b", "tie", "skip" or a feedback kind)
    pending : Turn or None, the first question still unanswered
    posterior : Posterior
    """

    record: SessionRecord
    options: SessionOptions
    history: tuple[Turn, ...]
    answers: tuple[Comparison, ...]
    kinds: tuple[str, ...]
    pending: Turn | None
    posterior: Posterior

    @property
    def n_answered(self) -> int:
        """Onboarding answers, skips included (a skip is a click)."""
        return sum(kind not in FEEDBACK_KINDS for kind in self.kinds)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(self.kinds))


def session_seed(session_id: str) -> int:
    """A 64-bit seed from a session id: questions are chosen the same way every time it is resumed."""
    return int.from_bytes(hashlib.sha256(session_id.encode("utf-8")).digest()[:8], "little")


def reference_features(features: np.ndarray) -> np.ndarray:
    r"""The catalog's features with the population-average item appended as the last row.

    .. math:: \phi(n_\text{items}) = \bar\phi = \frac{1}{n_\text{items}} \sum_i \phi(i)

    Parameters
    ----------
    features : (n_items, n_bases) array

    Returns
    -------
    (n_items + 1, n_bases) array
    """
    return np.vstack([features, features.mean(axis=0, keepdims=True)])


def replay(
    history: Sequence[Turn], index: Mapping[str, int], reference: int
) -> tuple[tuple[Comparison, ...], tuple[str, ...], Turn | None]:
    r"""The comparisons a session's stored history holds, for a pack whose item ids map by ``index``.

    A pairwise answer is the comparison of its two items; feedback on item X is X against the
    item ``reference`` (the population-average item), X winning for thumbs up and "more like":

    .. math:: P(X \succ \bar\phi \mid \lambda) = \sigma\big(\lambda^\top (\phi(X) - \bar\phi)\big)

    Turns about an item missing from ``index`` are left out.

    Returns
    -------
    answers : tuple of Comparison, in the order given
    kinds : tuple of str, the stored choice or feedback kind of each answer
    pending : the first unanswered pairwise question whose items are all in ``index``, or None
    """
    answers, kinds, pending = [], [], None
    for turn in history:
        items = turn.question.item_ids
        if not all(item in index for item in items):
            continue
        if turn.answer is None:
            if pending is None and len(items) == 2:
                pending = turn
        elif turn.answer.kind in _WINS:
            answers.append(Comparison(index[items[0]], reference, _WINS[turn.answer.kind]))
            kinds.append(turn.answer.kind)
        elif len(items) == 2:
            answers.append(Comparison(index[items[0]], index[items[1]], turn.answer.choice))
            kinds.append(turn.answer.choice)
    return tuple(answers), tuple(kinds), pending


def pack_embedder(pack: Pack, fallback_model: str, cache_dir: str | Path | None = None) -> Embed:
    """``embed(texts) -> (n, d)`` unit-norm float32 with the sentence model the pack was built with.

    The model is the one at the pack manifest's path, else ``fallback_model``; on first use its
    checksum is compared with the manifest's, so that a different model is never silently used
    (its embeddings would not match the pack's). Nothing is loaded until the first call.
    """
    from ..reward.featurize import EmbeddingError, embed_texts, model_checksum

    declared = pack.manifest.get("embedding_model", {})
    path = declared.get("path")
    model = path if path and Path(path).is_dir() else fallback_model
    checked = False

    def embed(texts: Sequence[str]) -> np.ndarray:
        nonlocal checked
        if not checked:
            if declared.get("checksum") and model_checksum(model) != declared["checksum"]:
                raise EmbeddingError(
                    f"embedding model {model!r} is not the one pack {pack.name!r} was built with "
                    f"(checksum {declared['checksum'][:12]}...)"
                )
            checked = True
        return embed_texts(list(texts), model, cache_dir)

    return embed


# --------------------------------------------------------------------------- the engine


class Conversation:
    """Onboarding sessions and the chat after them, for one pack and one store.

    Parameters
    ----------
    pack : Pack
    store : Store
    embed : callable ``list[str] -> (n, d)`` unit-norm array, optional
        The pack's sentence embedder (see :func:`pack_embedder`): for intents phrased freely,
        corrections of the summary and ranking texts outside the catalog. Without it intents
        are recognised by their patterns alone, and :meth:`correct` and :meth:`rank` raise.
    options : SessionOptions, optional
        For new sessions; a resumed session keeps the options it was started with.

    Recommendations rank the catalog with the ``"watch"`` objective of
    :func:`~prefchat.assistant.ranking.rank` and leave out the items the user was asked about or
    gave feedback on; texts outside the catalog are ranked with ``"prefer"``.
    """

    def __init__(self, pack: Pack, store: Store, embed: Embed | None = None, options: SessionOptions | None = None):
        self.pack = pack
        self.store = store
        self.embed = embed
        self.options = SessionOptions() if options is None else options
        self.recognise = IntentRecognizer(embed)
        self.features = reference_features(pack.features)
        self.reference = pack.n_items
        groups = pack.manifest.get("groups")
        self.groups = None if groups is None else np.append(np.asarray(groups), -1)
        self.group_names = pack.manifest.get("group_names") or ()
        familiarity = pack.familiarity  # the reference item is never asked about: familiarity 0
        self.familiarity = None if familiarity is None else np.append(familiarity, 0.0)
        self.index = {item.item_id: i for i, item in enumerate(pack.items)}
        self.titles = [item.title for item in pack.items]
        self._pools: dict[int, np.ndarray] = {}
        self._forget_asked: set[str] = set()
        self._handlers: dict[str, Callable[[SessionState, Summary, Intent], ReplyTurn]] = {
            "why": self._why,
            "profile": self._profile_reply,
            "recommend": self._recommend_reply,
            "correct": self._correct_reply,
            **{kind: self._feedback for kind in FEEDBACK_KINDS},
        }

    # -- onboarding ------------------------------------------------------------------------------

    def start(self, user_id: str | None = None) -> QuestionTurn | ResultTurn:
        """Start onboarding (a new anonymous user without ``user_id``); the first question."""
        user_id = self.store.create_user().id if user_id is None else self._user(user_id)
        record = self.store.start_session(user_id, self.pack.name, self.pack.version, dataclasses.asdict(self.options))
        return self._advance(self._state(record))

    def resume(self, session_id: str) -> QuestionTurn | ResultTurn:
        """Where a session stands: its current question, or its result once finished."""
        state = self.state(session_id)
        if state.record.state == "finished":
            return self._result(state)
        _check_active(state.record)
        return self._advance(state)

    def answer(self, session_id: str, text: str) -> QuestionTurn | ResultTurn | ReaskTurn:
        """Take the answer to the current question: "a", "b", "both", "skip" or free text.

        Text that is no answer (see :func:`~prefchat.assistant.parsing.parse_answer`) stores
        nothing and asks again. The answer is committed before the next question is chosen.
        """
        state = self.state(session_id)
        _check_active(state.record)
        if state.pending is None:  # interrupted between an answer and the next question
            current = self._advance(state)
            if isinstance(current, ResultTurn):
                return current
            state = self._state(state.record)
        choice = parse_answer(text)
        if choice is None:
            return ReaskTurn(REASK, self._question_turn(state, state.pending.question.item_ids))
        latency = datetime.now(UTC) - state.pending.question.asked_at
        self.store.record_answer(
            state.pending.question.id, choice, raw_text=text, latency_ms=max(0, int(latency.total_seconds() * 1000))
        )
        return self._advance(self._state(state.record))

    def undo(self, session_id: str) -> QuestionTurn | ResultTurn:
        """Take back the last answer; its question is asked again."""
        record = self._session(session_id)
        _check_active(record)
        self.store.undo_last_answer(session_id)
        return self._advance(self._state(record))

    def finish(self, session_id: str) -> ResultTurn:
        """End onboarding now and store the profile (a finished session just gives its result)."""
        state = self.state(session_id)
        if state.record.state == "finished":
            return self._result(state)
        _check_active(state.record)
        return self._finish(state)

    def state(self, session_id: str) -> SessionState:
        """The session as rebuilt from storage (see the module docstring)."""
        return self._state(self._session(session_id))

    # -- after onboarding ------------------------------------------------------------------------

    def say(self, who: str, text: str) -> AnyTurn:
        """A chat message from the user of session ``who``, or from user ``who``.

        While onboarding, an answer is taken as one and "undo", "done", "start over" and
        "forget me" work (anything else is re-asked); afterwards every intent of
        :mod:`~prefchat.assistant.intents` does. "forget me" only deletes after the next
        message confirms it (the pending confirmation is kept in this process's memory).
        """
        session, user_id = self._who(who)
        intent = self.recognise(text)
        confirmed = intent.name == "confirm_forget" and user_id in self._forget_asked
        self._forget_asked.discard(user_id)
        if intent.name == "forget":
            self._forget_asked.add(user_id)
            return ReplyTurn(f"This deletes everything I know about you. Type '{CONFIRM_FORGET}' to confirm.", "forget")
        if intent.name == "confirm_forget":
            if not confirmed:
                return ReplyTurn("Say 'forget me' first, then confirm.", "help")
            self.forget(user_id)
            return ReplyTurn("Done: everything about you is deleted.", "confirm_forget")
        if intent.name == "start_over":
            return self.start(user_id)
        if session is not None and session.state == "active":
            if parse_answer(text) is None and intent.name == "undo":
                return self.undo(session.id)
            if parse_answer(text) is None and intent.name == "finish":
                return self.finish(session.id)
            return self.answer(session.id, text)
        summary = None if session is None else self.store.current_summary(user_id, self.pack.name)
        if summary is None:
            return ReplyTurn("We have not met yet: say 'start over' to answer a few questions first.", "help")
        handler = self._handlers.get(intent.name)
        if handler is None:
            return ReplyTurn(HELP, "help")
        return handler(self._state(session), Summary.from_structured(summary.text, summary.structured), intent)

    def profile(self, user_id: str) -> ProfileRecord:
        """The user's stored profile for this pack: posterior mean and cov, answer counts."""
        profile = self.store.get_profile(user_id, self.pack.name, self.pack.version)
        if profile is None:
            raise NoProfile(f"user {user_id!r} has no profile for pack {self.pack.name!r} {self.pack.version!r}")
        return profile

    def summary(self, user_id: str) -> Summary:
        """The user's current semantic summary for this pack."""
        record = self.store.current_summary(user_id, self.pack.name)
        if record is None:
            raise NoProfile(f"user {user_id!r} has no summary for pack {self.pack.name!r}")
        return Summary.from_structured(record.text, record.structured)

    def recommend(self, user_id: str, k: int = 10) -> list[Ranked]:
        """The ``k`` best catalog items for the user (recorded for analysts)."""
        profile, summary = self.profile(user_id), self.summary(user_id)
        session = self._latest_session(user_id)
        told = frozenset() if session is None else self._told(self._state(session))
        return self._recommend(user_id, profile.mean, profile.cov, summary, told, k)

    def rank(self, user_id: str, candidates: Sequence[str], k: int | None = None) -> list[Ranked]:
        """Best-of-N: rank texts outside the catalog (e.g. N drafts of a reply) for the user."""
        candidates = list(candidates)
        if not candidates:
            raise ValueError("rank needs at least one candidate text, got none")
        return rank(
            self.pack,
            self.profile(user_id).mean,
            self.summary(user_id),
            candidates=candidates,
            candidate_embeddings=self._embedder("ranking texts")(candidates),
            k=len(candidates) if k is None else k,
        )

    def correct(self, user_id: str, text: str) -> Summary | None:
        """Correct the summary in words ("actually I love musicals"); None when no known taste is named.

        The corrected summary is stored as a new version (source "edited"; the old one is kept,
        superseded) and rankings follow it at once.
        """
        weights = parse_correction(self.pack, text, self._embedder("corrections"))
        if weights is None:
            return None
        corrected = apply_correction(self.summary(user_id), weights)
        self.store.add_summary(
            user_id, self.pack.name, self.pack.version, corrected.text, corrected.structured(), source="edited"
        )
        return corrected

    def adopt(self, user_id: str, source: Conversation) -> SessionState:
        """Carry a user's profile over from the pack of ``source`` (e.g. before retraining) to this one.

        The answers and feedback of the user's latest finished session with the source pack are
        copied, in order, into a new finished session with this pack, leaving out those about
        items this pack does not have (items match by ``item_id``); the posterior is refitted on
        this pack's features and saved as the profile, and the current summary, which is
        model-independent, is carried as a new summary version (same text, weights and source).
        Starting the session abandons the user's active sessions with this pack's name.

        Returns the new session's state. Raises ``NoProfile``, writing nothing, if the user
        finished no session with the source pack, or if none of its answers concern an item of
        this pack and there is no summary to carry.
        """
        old = source._latest_session(user_id, ("finished",))
        if old is None:
            raise NoProfile(f"user {user_id!r} finished no session with pack {source.pack.name!r}")
        turns = [
            turn
            for turn in self.store.session_history(old.id)
            if turn.answer is not None and all(item in self.index for item in turn.question.item_ids)
        ]
        summary = self.store.current_summary(user_id, source.pack.name)
        if not turns and summary is None:
            raise NoProfile(
                f"nothing to carry for user {user_id!r}: "
                f"no answer about an item of pack {self.pack.name!r} and no summary"
            )
        settings = {**old.settings, "migrated_from": old.id}
        new = self.store.start_session(user_id, self.pack.name, self.pack.version, settings)
        for turn in turns:
            answer, items = turn.answer, turn.question.item_ids
            if answer.kind in FEEDBACK_KINDS:
                self.store.record_feedback(new.id, items[0], answer.kind, raw_text=answer.raw_text)
            else:
                question = self.store.record_question(new.id, items)
                self.store.record_answer(question.id, answer.choice, answer.raw_text, answer.latency_ms)
        state = self._state(self.store.finish_session(new.id))
        posterior = state.posterior
        self.store.save_profile(user_id, self.pack.name, self.pack.version, posterior.mean, posterior.cov, state.counts)
        if summary is not None:
            self.store.add_summary(
                user_id, self.pack.name, self.pack.version, summary.text, summary.structured, summary.source
            )
        return state

    def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, JSON-serialisable."""
        return self.store.export_user(user_id)

    def forget(self, user_id: str) -> None:
        """Delete the user and everything stored about them."""
        self.store.delete_user(user_id)

    # -- reading state ---------------------------------------------------------------------------

    def _state(self, record: SessionRecord) -> SessionState:
        history = tuple(self.store.session_history(record.id))
        answers, kinds, pending = replay(history, self.index, self.reference)
        prior_mean, prior_cov = self.pack.prior
        posterior = laplace_posterior(prior_mean, prior_cov, self.features, answers)
        options = SessionOptions.from_settings(record.settings)
        return SessionState(record, options, history, answers, kinds, pending, posterior)

    def _session(self, session_id: str) -> SessionRecord:
        record = self.store.get_session(session_id)
        if record.pack_name != self.pack.name:
            raise WrongPack(f"session {session_id!r} is of pack {record.pack_name!r}, not {self.pack.name!r}")
        return record

    def _user(self, user_id: str) -> str:
        """The id of user ``user_id``, created on first sight."""
        try:
            return self.store.get_user(check_user_id(user_id)).id
        except NotFound:
            return self.store.create_user(user_id).id

    def _who(self, who: str) -> tuple[SessionRecord | None, str]:
        """The session ``who`` names, or user ``who``'s latest session of this pack (None if none)."""
        try:
            session = self._session(who)
        except NotFound:
            return self._latest_session(who), who
        return session, session.user_id

    def _latest_session(self, user_id: str, states: tuple[str, ...] = ("active", "finished")) -> SessionRecord | None:
        """The user's most recent session of this pack in one of ``states`` (None if none, or no such user)."""
        try:
            return self.store.latest_session(user_id, self.pack.name, states)
        except NotFound:
            return None

    def _told(self, state: SessionState) -> frozenset[int]:
        """Catalog items the user was asked about or gave feedback on."""
        return frozenset(item for answer in state.answers for item in answer.items if item != self.reference)

    def _embedder(self, purpose: str) -> Embed:
        if self.embed is None:
            raise ValueError(f"{purpose} need an embedder: pass embed= (see pack_embedder)")
        return self.embed

    # -- moving a session on ---------------------------------------------------------------------

    def _advance(self, state: SessionState) -> QuestionTurn | ResultTurn:
        """The current question (recorded first if new), or the result when it is time to stop."""
        options = state.options
        if state.n_answered >= options.max_questions:
            return self._finish(state)
        if state.pending is not None:
            return self._question_turn(state, state.pending.question.item_ids)
        question = self._select(state)
        if question is None or should_stop(
            state.n_answered, question.information, options.min_questions, options.max_questions, options.threshold
        ):
            return self._finish(state)
        item_ids = [self.pack.items[i].item_id for i in question.items]
        try:
            self.store.record_question(state.record.id, item_ids)
        except Conflict:  # a concurrent call on this session recorded the next question first
            state = self.state(state.record.id)
            if state.pending is None:
                raise
            item_ids = state.pending.question.item_ids
        return self._question_turn(state, item_ids)

    def _select(self, state: SessionState) -> Question | None:
        """The strategy's next question, with a generator seeded by the session id and position."""
        size = state.options.pool_size
        if size not in self._pools:
            self._pools[size] = candidate_pool(self.pack.features, self.pack.popularity, size=size, rng=0)
        selection = SelectionState(self.features, state.posterior, self._pools[size], self.groups, familiarity=self.familiarity)
        rng = np.random.default_rng([session_seed(state.record.id), len(state.history) + 1])
        return STRATEGIES[state.options.strategy](selection, rng)

    def _question_turn(self, state: SessionState, item_ids: Sequence[str]) -> QuestionTurn:
        a, b = (self.pack.items[self.index[item_id]] for item_id in item_ids)
        return QuestionTurn(
            session_id=state.record.id,
            user_id=state.record.user_id,
            position=state.n_answered + 1,
            expected_total=state.options.max_questions,
            item_a=a,
            item_b=b,
            prompt=self._prompt_of(self.index[a.item_id]),
        )

    def _prompt_of(self, item: int) -> str | None:
        """The shared prompt shown above a grouped question: the group's name (e.g. the question
        both responses answer), else None."""
        if self.groups is None:
            return None
        group = int(self.groups[item])
        return self.group_names[group] if group < len(self.group_names) else strip_parenthetical(self.pack.items[item].title)

    def _finish(self, state: SessionState) -> ResultTurn:
        """Store the profile and a generated summary, then close the session."""
        user_id, posterior, counts = state.record.user_id, state.posterior, state.counts
        summary = summarize(self.pack, posterior.mean, posterior.cov, state.n_answered, counts.get("skip", 0))
        self.store.save_profile(user_id, self.pack.name, self.pack.version, posterior.mean, posterior.cov, counts)
        self.store.add_summary(user_id, self.pack.name, self.pack.version, summary.text, summary.structured())
        self.store.finish_session(state.record.id)
        return self._result(state, summary)

    def _result(self, state: SessionState, summary: Summary | None = None) -> ResultTurn:
        summary = self.summary(state.record.user_id) if summary is None else summary
        ranked = self._picks(state, summary)
        return ResultTurn(state.record.id, state.record.user_id, summary.text, ranked, state.counts)

    def _picks(self, state: SessionState, summary: Summary) -> tuple[Ranked, ...]:
        """The session's recommendations: its posterior mean and the summary, told items left out."""
        user_id, told, k = state.record.user_id, self._told(state), state.options.n_recommendations
        return tuple(self._recommend(user_id, state.posterior.mean, state.posterior.cov, summary, told, k))

    def _recommend(
        self, user_id: str, mean: np.ndarray, cov: np.ndarray, summary: Summary, told: frozenset[int], k: int
    ) -> list[Ranked]:
        """Rank the catalog, record what is served (for analysts) and return it."""
        ranked = rank(self.pack, mean, summary, k=k, exclude=sorted(told), objective="watch", cov=cov)
        if ranked:
            self.store.record_ranking(
                user_id, self.pack.name, self.pack.version, [r.item_id for r in ranked], [r.score for r in ranked]
            )
        return ranked

    # -- chat replies after onboarding -----------------------------------------------------------

    def _profile_reply(self, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
        return ReplyTurn(summary.text, "profile")

    def _recommend_reply(self, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
        return ReplyTurn("Here is what I would pick for you.", "recommend", self._picks(state, summary))

    def _correct_reply(self, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
        corrected = self.correct(state.record.user_id, intent.argument)
        if corrected is None:
            return ReplyTurn(CORRECTION_NOT_UNDERSTOOD, "correct")
        return ReplyTurn(f"Thanks, noted. {corrected.text}", "correct", self._picks(state, corrected))

    def _why(self, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
        """The reasons of one catalog item: ranked alone, all others excluded."""
        item = match_item(intent.argument, self.titles)
        if item is None:
            return ReplyTurn(f"I could not find {intent.argument!r} in the catalog.", "why")
        others = np.delete(np.arange(self.pack.n_items), item)
        (ranked,) = rank(self.pack, state.posterior.mean, summary, k=1, exclude=others, objective="watch",
                         cov=state.posterior.cov)
        return ReplyTurn(f"{ranked.title}: {ranked.why}.", "why", (ranked,))

    def _feedback(self, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
        """Store thumbs up/down or more/less like an item as evidence, refit, save the profile."""
        item = match_item(intent.argument, self.titles)
        if item is None:
            return ReplyTurn(f"I could not find {intent.argument!r} in the catalog.", intent.name)
        user_id, item_id = state.record.user_id, self.pack.items[item].item_id
        self.store.record_feedback(state.record.id, item_id, intent.name, raw_text=intent.argument)
        state = self._state(state.record)
        mean, cov = state.posterior.mean, state.posterior.cov
        self.store.save_profile(user_id, self.pack.name, self.pack.version, mean, cov, state.counts)
        text = f"{_FEEDBACK_WORDS[intent.name]} {self.titles[item]}: noted, your picks are updated."
        return ReplyTurn(text, intent.name, self._picks(state, summary))


def _check_active(record: SessionRecord) -> None:
    if record.state != "active":
        raise SessionClosed(f"session {record.id!r} is {record.state}; start a new one")
