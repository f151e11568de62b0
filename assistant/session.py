r"""Onboarding sessions: about ten questions, then the result.

A session is a small state machine driven by :class:`Conversation`::

    start -> QuestionTurn -> answer -> QuestionTurn ... -> ResultTurn
                             (undo, finish early; gibberish -> ReaskTurn)

Every call returns a plain frozen turn (:mod:`~prefchat.assistant.turns`) that the UI renders;
every word it says comes from :mod:`~prefchat.assistant.wording`.

One loop
--------
The questions, the posterior and the ranking are those of the onboarding loop
(:mod:`~prefchat.elicitation.onboarding`), the same one that ``prefchat eval`` measures and pack
validation tunes, with its three parts explicit: the session's **prior**
(:meth:`~prefchat.reward.serving.Serving.session_prior` of the session's objective), its **question
policy** (:meth:`policy`: strategy, pool, groups, familiarity, stop rule) and its **catalog
score** (:attr:`~prefchat.reward.serving.ObjectiveServing.catalog_score`, with the items the answers show the
user knows left out, :func:`~prefchat.elicitation.onboarding.known_items`).

Each answer is committed with the next question in one transaction, and every call reads the
session back (:class:`~prefchat.assistant.state.SessionReader`): a killed process resumes at the
question an uninterrupted session would have asked. What is kept of the user (profile, summary,
served rankings) is :class:`~prefchat.assistant.memory.Memory`; the top k is the
:class:`~prefchat.assistant.recommender.Recommender`'s; the chat after onboarding is
:class:`~prefchat.assistant.api.Assistant`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np

from ..elicitation import question_strategy
from ..elicitation.checkin import CHECKIN_QUESTIONS, checkin_policy, personal_familiarity
from ..elicitation.onboarding import Policy, next_question
from ..reward.pack import Pack
from ..storage import Conflict, Exchange, QuestionRecord, SessionRecord, Store, check_user_id
from . import wording
from .corrections import example_correction
from .errors import NoProfile, SessionClosed
from .friends import Friendships
from .history import told_items
from .intents import Embed, strip_parenthetical
from .memory import Memory
from .parsing import parse_choice
from .recommender import Ranked, Recommender, Taste
from .returning import (
    DECLINED,
    checkin_counts,
    checkin_due,
    checkin_known,
    checkin_settings,
    checkin_summary,
    last_checked,
    lately,
    offer,
    offer_since,
    returning_parts,
)
from .showcase import HeldOutPrompts
from .state import SessionReader
from .summary import Summary, summarize, taste_names
from .turns import QuestionTurn, ReaskTurn, ResultTurn, SessionOptions, SessionState, Showcase

__all__ = ["Conversation", "utc_now"]


def utc_now() -> datetime:
    """The time now, UTC: a :class:`Conversation`'s default clock."""
    return datetime.now(UTC)


class Conversation:
    """Onboarding sessions of one pack, kept in one store.

    Parameters
    ----------
    pack : Pack
    store : Store
    embed : callable ``list[str] -> (n, d)`` unit-norm array, optional
        The pack's sentence embedder (see :func:`~prefchat.reward.featurize.pack_embedder`): for
        the held-out prompts a result shows, and the chat after onboarding.
    options : SessionOptions, optional
        For new sessions; a resumed session keeps the options it was started with.

    Attributes
    ----------
    clock : ``clock() -> datetime``, the moment a recommendation is served at (a pack's item trend,
        :class:`~prefchat.elicitation.trend.ItemTrend`, ranks what was popular just before it);
        default the time now, UTC. Set it to replay a moment (tests, the benchmark).
    """

    def __init__(self, pack: Pack, store: Store, embed: Embed | None = None, options: SessionOptions | None = None):
        self.pack, self.store, self.embed = pack, store, embed
        self.clock: Callable[[], datetime] = utc_now
        self.options = SessionOptions() if options is None else options
        self.sessions = SessionReader(pack, store)
        self.features, self.reference, self.index = self.sessions.features, self.sessions.reference, pack.item_index
        groups, familiarity, tastes = pack.groups, pack.familiarity, pack.serving.questions.tastes
        self.groups = None if groups is None else np.append(groups, -1)  # the reference item is never asked about
        self.familiarity = None if familiarity is None else np.append(familiarity, 0.0)
        self.tastes = None if tastes is None else np.vstack([tastes, np.zeros((1, tastes.shape[1]), dtype=bool)])
        self.memory = Memory(pack, store)
        self.friends = Friendships(pack, store, self.sessions)
        self.recommender = Recommender(pack)
        self.showcase = HeldOutPrompts(self.recommender, embed)

    @cached_property
    def example(self) -> str:
        """A correction in words this pack can act on, which the chat suggests (:func:`~prefchat.assistant.corrections.example_correction`)."""
        return example_correction(self.pack)

    # -- onboarding ------------------------------------------------------------------------------

    def start(
        self, user_id: str | None = None, options: SessionOptions | None = None, seed: int | None = None,
        friends: Sequence[str] | Mapping[str, float] | None = None,
    ) -> QuestionTurn | ResultTurn:
        """Start onboarding (a new anonymous user without ``user_id``); the first question.

        The user's unfinished session of this pack is abandoned, unless it has no answer yet and
        the same options: then it is that session's first question (concurrent starts for one
        user, from any thread or process, meet in one session). A user named for the first time
        is created, also when another process creates them at the same moment.

        ``options`` default to the conversation's; their objective, when None, becomes the pack's.
        ``seed`` fixes the questions' random choices (default: from the session id), e.g. to
        meet the questions a benchmark session with that seed asks.

        ``friends`` (user ids, or id -> weight) become the user's friends in place of any stored
        before (:meth:`~prefchat.assistant.friends.Friendships.follow`: unknown ids are left out,
        which counts them): on a pack with a social prior, the user's recommendations start
        from their friends' tastes. The questions are the same either way.
        """
        options = self.sessions.resolved(self.options if options is None else options)
        settings: dict[str, Any] = dataclasses.asdict(options)
        if seed is not None:
            settings["seed"] = _check_seed(seed)
        with self.store.atomic():
            if user_id is None:
                user = self.store.create_user().id
                if friends is not None:
                    self.friends.follow(user, friends)
                record = self.store.start_session(user, self.pack.name, self.pack.version, settings)
                return self._advance(self.sessions.state(record, ()))
            # A user's unanswered session with the same options is taken up again rather than
            # abandoned, so that concurrent starts for one user (two tabs, a retry) meet in one session.
            user = self.store.ensure_user(check_user_id(user_id)).id
            if friends is not None:
                self.friends.follow(user, friends)
            record = self.store.start_session(user, self.pack.name, self.pack.version, settings, reuse_unanswered=True)
            return self._advance(self.sessions.state(record))

    # -- returning users -------------------------------------------------------------------------

    def checkin_offer(self, user_id: str) -> str | None:
        """What a returning user is greeted with ("It's been 8 months: three quick questions to check your
        picks still fit?") when their profile was saved at least the pack's check-in timescale before the
        :attr:`clock`'s moment (:attr:`~prefchat.reward.pack.Pack.checkin_timescale`); None when no check-in is
        due (too soon, no finished onboarding, or a pack without a timescale: data without timestamps)."""
        with self.store.atomic():
            session = self.latest_session(user_id, ("finished",))
            profile = None if session is None else self.store.get_profile(user_id, self.pack.name, self.pack.version)
        if session is None or profile is None:
            return None
        now = self.clock()
        if checkin_due(self.pack, offer_since(profile, session.settings), now) is None:
            return None
        elapsed = checkin_due(self.pack, last_checked(profile, session.settings), now)
        return None if elapsed is None else offer(elapsed)

    def decline_checkin(self, user_id: str) -> None:
        """A returning user's "Not now" to the check-in offered (:meth:`checkin_offer`): remembered on their
        latest finished session (:data:`~prefchat.assistant.returning.DECLINED`), so that the offer comes
        back one check-in timescale after it rather than at every visit. Their profile and answers are
        untouched, and taking a check-in later weighs the time since the profile was last checked, as
        before. :class:`~prefchat.assistant.errors.NoProfile` before a finished onboarding."""
        with self.store.atomic():
            session = self.latest_session(user_id, ("finished",))
            if session is None:
                raise NoProfile(f"user {user_id!r} has no finished onboarding of pack {self.pack.name!r} to check in on")
            self.store.note_on_session(session.id, {DECLINED: self.clock().isoformat()})

    def check_in(self, user_id: str, seed: int | None = None) -> QuestionTurn | ResultTurn:
        """Start a returning user's check-in (:mod:`~prefchat.assistant.returning`): the first of
        :data:`~prefchat.elicitation.checkin.CHECKIN_QUESTIONS` questions that test the stored profile.

        The session is answered, undone and finished as an onboarding is; when it finishes, the profile
        it saves is the hypothesis its answers favour (kept, or widened when they contradict the old one),
        and its summary says what moved. The old profile stays readable (the store's profile history,
        and this session's settings). :class:`~prefchat.assistant.errors.NoProfile` before a finished onboarding.
        """
        with self.store.atomic():
            session = self.latest_session(user_id, ("finished",))
            profile = None if session is None else self.store.get_profile(user_id, self.pack.name, self.pack.version)
            if session is None or profile is None:
                raise NoProfile(f"user {user_id!r} has no finished onboarding of pack {self.pack.name!r} to check in on")
            previous = self.sessions.state(session)
            known = self.taste(previous, None).left_out
            options = dataclasses.replace(previous.options, min_questions=CHECKIN_QUESTIONS,
                                          max_questions=CHECKIN_QUESTIONS, question_size=2)
            now = self.clock()
            elapsed = max(0.0, (now - last_checked(profile, session.settings)).total_seconds())
            settings: dict[str, Any] = {**dataclasses.asdict(options),
                                        **checkin_settings(self.pack, profile, known, now, elapsed)}
            if seed is not None:
                settings["seed"] = _check_seed(seed)
            record = self.store.start_session(user_id, self.pack.name, self.pack.version, settings)
            return self._advance(self.sessions.state(record, ()))

    def resume(self, session_id: str) -> QuestionTurn | ResultTurn:
        """Where a session stands: its current question, or its result once finished."""
        with self.store.atomic():
            state = self.sessions.locked(session_id)
            if state.record.state == "finished":
                return self._result(state)
            _check_active(state.record)
            return self._advance(state)

    def answer(self, session_id: str, text: str, question_id: int | None = None, by_id: bool = False,
               ) -> QuestionTurn | ResultTurn | ReaskTurn:
        """Take the answer to the current question: "a", "b", "both", "skip" or free text; with ``by_id``, the
        item id of the card picked in a k-way question (:func:`~prefchat.assistant.parsing.parse_choice`).

        Text that is no answer (see :func:`~prefchat.assistant.parsing.parse_answer`) stores
        nothing and asks again. The answer is committed together with the next question (or the
        result), in one transaction.

        ``question_id`` (:attr:`QuestionTurn.question_id`) makes the call idempotent: an answer
        to a question already answered the same way stores nothing and returns where the session
        now stands, so a client may retry after a lost reply; naming any other question than the
        current one is a :class:`~prefchat.storage.Conflict`.
        """
        with self.store.atomic():
            return self._answer(self.sessions.locked(session_id), text, question_id, by_id)

    def _answer(self, state: SessionState, text: str, question_id: int | None, by_id: bool = False,
                ) -> QuestionTurn | ResultTurn | ReaskTurn:
        """:meth:`answer` on the session's state as read under its lock (:meth:`_locked`), in the caller's
        :meth:`~prefchat.storage.Store.atomic` block."""
        if question_id is not None and (state.pending is None or state.pending.question.id != question_id):
            return self._repeated(state, question_id, text, by_id)
        _check_active(state.record)
        if state.pending is None:  # interrupted between an answer and the next question
            current = self._advance(state)
            if isinstance(current, ResultTurn):
                return current
            state = self.sessions.state(state.record)
            assert state.pending is not None, "_advance returned a question, so one is recorded and waiting"
        question = state.pending.question
        choice = parse_choice(text, question.item_ids, by_id)
        if choice is None:
            reask = wording.REASK if len(question.item_ids) == 2 else wording.reask_pick(len(question.item_ids))
            return ReaskTurn(reask, self._question_turn(state, question))
        latency = datetime.now(UTC) - question.asked_at
        answer = self.store.record_answer(
            question.id, choice, raw_text=text, latency_ms=max(0, int(latency.total_seconds() * 1000))
        )
        history = tuple(Exchange(e.question, answer) if e is state.pending else e for e in state.history)
        return self._advance(self.sessions.state(state.record, history))

    def undo(self, session_id: str) -> QuestionTurn | ResultTurn:
        """Take back the last answer; its question is asked again. After the last answer too: the
        finished session is active again until it finishes anew."""
        with self.store.atomic():
            record = self.sessions.record(session_id, lock=True)
            if record.state == "finished":
                record = self.store.reopen_session(session_id)
            _check_active(record)
            self.store.undo_last_answer(session_id)
            return self._advance(self.sessions.state(record))

    def finish(self, session_id: str) -> ResultTurn:
        """End onboarding now and store the profile (a finished session just gives its result)."""
        with self.store.atomic():
            state = self.sessions.locked(session_id)
            if state.record.state == "finished":
                return self._result(state)
            _check_active(state.record)
            return self._finish(state)

    def state(self, session_id: str) -> SessionState:
        """The session as rebuilt from storage (see the module docstring), read in one transaction."""
        with self.store.atomic():
            return self.sessions.state(self.sessions.record(session_id))

    def policy(self, options: SessionOptions) -> Policy:
        """The question policy of a session run with ``options``: the loop's, over this pack."""
        size = options.question_size or self.pack.question_size
        return Policy(question_strategy(options.strategy, size), self.pack.serving.pool(options.pool_size), self.groups, self.familiarity,
                      options.min_questions, options.max_questions, options.threshold, self.tastes,
                      self.pack.serving.questions.knowing)

    def policy_of(self, state: SessionState) -> Policy:
        """The question policy of session ``state``: :meth:`policy` of its options, or a returning user's
        check-in's (:func:`~prefchat.elicitation.checkin.checkin_policy`: questions that test the old profile)."""
        if state.checkin is None:
            return self.policy(state.options)
        earlier = checkin_known(state.record.settings)
        model, familiarity = self.pack.known_model, self.familiarity
        if model is not None:
            familiarity = personal_familiarity(model, earlier, self.features.shape[0])
        return checkin_policy(state.checkin, self.pack.serving.pool(state.options.pool_size), self.groups, familiarity, earlier)

    def latest_session(self, user_id: str, states: tuple[str, ...] = ("active", "finished")) -> SessionRecord | None:
        """The user's most recent session of this pack in one of ``states`` (None if none, or no such user)."""
        return self.sessions.latest(user_id, states)

    # -- moving a session on ---------------------------------------------------------------------

    def _repeated(self, state: SessionState, question_id: int, text: str, by_id: bool) -> QuestionTurn | ResultTurn:
        """An answer naming question ``question_id``, which is not the one waiting: a retry, or a conflict
        (in :meth:`_answer`'s caller's atomic block)."""
        asked = next((exchange for exchange in state.history if exchange.question.id == question_id), None)
        if asked is None or asked.answer is None or asked.answer.choice != parse_choice(text, asked.question.item_ids, by_id):
            raise Conflict(f"question {question_id} is not the current question of session {state.record.id!r}")
        if state.record.state == "finished":
            return self._result(state)
        _check_active(state.record)
        return self._advance(state)

    def _advance(self, state: SessionState) -> QuestionTurn | ResultTurn:
        """The current question (recorded first if new), or the result when it is time to stop."""
        if state.pending is not None:
            return self._question_turn(state, state.pending.question)
        question = next_question(self.features, state.posterior, self.policy_of(state), state.n_answered,
                                 state.seed, state.unknown)
        if question is None:
            return self._finish(state)
        item_ids = [self.pack.items[i].item_id for i in question.items]
        try:
            return self._question_turn(state, self.store.record_question(state.record.id, item_ids))
        except Conflict:  # a concurrent call on this session recorded the next question first: show that one
            pending = self.sessions.state(state.record).pending
            if pending is None:
                raise
            return self._question_turn(state, pending.question)

    def _question_turn(self, state: SessionState, question: QuestionRecord) -> QuestionTurn:
        a, b, *more = (self.pack.items[self.index[item_id]] for item_id in question.item_ids)
        return QuestionTurn(
            session_id=state.record.id,
            user_id=state.record.user_id,
            position=state.n_answered + 1,
            expected_total=state.options.max_questions,
            item_a=a,
            item_b=b,
            prompt=self._prompt_of(self.index[a.item_id]),
            question_id=question.id,
            objective=state.objective,
            more_items=tuple(more),
        )

    def _prompt_of(self, item: int) -> str | None:
        """The shared prompt shown above a grouped question: the group's name (e.g. the question
        both responses answer), else None."""
        if self.groups is None:
            return None
        group, names = int(self.groups[item]), self.pack.group_names
        return names[group] if group < len(names) else strip_parenthetical(self.pack.items[item].title)

    def _finish(self, state: SessionState) -> ResultTurn:
        """Store the profile, a generated summary and the first recommendations; close the session."""
        user_id, posterior, counts = state.record.user_id, state.posterior, state.counts
        summary = summarize(self.pack, posterior.mean, posterior.cov, state.n_answered, counts.get("skip", 0),
                            answers=state.answers)
        if state.checkin is not None:  # a check-in: the profile's counts carry on, the summary says what moved
            counts = checkin_counts(state.record.settings, counts)
            sides = self.recommender.sides(self.taste(state, None))  # the tastes of the list served, every item known
            named = () if sides is None else tuple(name for name in taste_names(self.pack, sides[0]) if name is not None)
            summary = checkin_summary(summary, counts, lately(self.pack, state.checkin.mean, posterior.mean, state.answers),
                                      named)
        summary = self.memory.with_stated(user_id, summary)
        with self.store.atomic():
            self.store.save_profile(user_id, self.pack.name, self.pack.version, posterior.mean, posterior.cov, counts)
            self.memory.keep(user_id, summary)
            self.store.finish_session(state.record.id)
            picks = self.picks(state, summary)
        return ResultTurn(state.record.id, user_id, summary.text, picks, counts, self._shown(state, summary),
                          self.example, self._moved(state))

    def _result(self, state: SessionState) -> ResultTurn:
        summary = self.memory.summary(state.record.user_id)
        return ResultTurn(state.record.id, state.record.user_id, summary.text, self.picks(state, summary), state.counts,
                          self._shown(state, summary), self.example, self._moved(state))

    def _moved(self, state: SessionState) -> bool | None:
        """Whether a check-in's answers contradicted the old profile it tested; None for an onboarding."""
        return None if state.checkin is None else state.checkin.contradicted(self.features, state.answers)


    def _shown(self, state: SessionState, summary: Summary) -> tuple[Showcase, ...]:
        """The held-out prompts' picks for the session's user of current ``summary`` (:class:`~prefchat.assistant.showcase.HeldOutPrompts`),
        ranked by "which do you prefer?": a "watch" profile less the pack's exposure offset."""
        if not self.showcase.prompts():
            return ()
        mean = state.posterior.mean - (self.pack.exposure if state.objective == "watch" else 0.0)
        answers = state.posterior.answers if state.objective == "prefer" else ()  # the MAP of "prefer" only: cited as its reason
        return self.showcase.shown(mean, summary, answers=answers)

    # -- recommending ----------------------------------------------------------------------------

    def taste(self, state: SessionState, summary: Summary | None) -> Taste:
        """What the session knows of its user, as the :class:`~prefchat.assistant.recommender.Recommender` ranks it."""
        posterior, social = state.posterior, self.friends.evidence(state.record.user_id)
        known, earlier = told_items(state.answers, self.reference), frozenset[int]()
        if state.checkin is not None:
            known, earlier, social = returning_parts(self.pack, state.record.settings, state.checkin, self.features,
                                                     state.answers, known, social)
        return Taste(posterior.mean, posterior.cov, summary, state.objective, known, posterior.answers, social=social,
                     as_of=self.now(), earlier=earlier)

    def now(self) -> float:
        """The :attr:`clock`'s moment in seconds since 1970, as the pack's timestamps count."""
        return self.clock().timestamp()

    def preview(self, state: SessionState, summary: Summary, discount: float | None = None) -> tuple[Ranked, ...]:
        """The session's recommendations (:meth:`~prefchat.assistant.recommender.Recommender.recommend`), not recorded."""
        return tuple(self.recommender.recommend(self.taste(state, summary), state.options.n_recommendations, discount))

    def picks(self, state: SessionState, summary: Summary, discount: float | None = None) -> tuple[Ranked, ...]:
        """:meth:`preview`, recorded for analysts."""
        return tuple(self.memory.recorded(state.record.user_id, self.preview(state, summary, discount)))


def _check_active(record: SessionRecord) -> None:
    if record.state != "active":
        raise SessionClosed(f"session {record.id!r} is {record.state}; start a new one")


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    return int(seed)

