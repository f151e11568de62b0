r"""The conversation engine: about ten pairwise questions, then a chat about the results.

A session is a small state machine driven by :class:`Conversation`::

    start -> QuestionTurn -> answer -> QuestionTurn ... -> ResultTurn -> say -> ReplyTurn ...
                             (undo, finish early; gibberish -> ReaskTurn)

Every call returns a plain frozen turn (:mod:`~prefchat.assistant.turns`) that the UI renders;
every word it says comes from :mod:`~prefchat.assistant.wording`, and the replies after
onboarding from :mod:`~prefchat.assistant.replies`.

One loop
--------
The questions, the posterior and the ranking are those of the onboarding loop
(:mod:`~prefchat.elicitation.onboarding`), the same one that ``prefchat eval`` measures and pack
validation tunes, with its three parts explicit: the session's **prior**
(:meth:`~prefchat.reward.pack.Pack.session_prior` of the session's objective), its **question
policy** (:meth:`policy`: strategy, pool, groups, familiarity, stop rule) and its **catalog
score** (:meth:`~prefchat.reward.pack.Pack.catalog_score`, with the items the answers show the
user knows left out, :func:`~prefchat.elicitation.onboarding.known_items`).

The state lives in storage, not in memory
-----------------------------------------
Each answer is committed with the next question in one transaction
(:meth:`~prefchat.storage.Store.atomic`), or with the profile, the summary and the served
recommendations when it is the last. Every call reads the session back in one transaction and
rebuilds

- the **answers**: one :class:`~prefchat.elicitation.Comparison` per answered question (and per
  feedback, see :mod:`~prefchat.assistant.history`);
- the **posterior**: :func:`~prefchat.elicitation.onboarding.replay` of those answers from the
  prior, one update per answer. The posterior last computed for a session is kept in memory and
  continued, so an answer costs one fit; it is continued only when its answers begin those just
  read back (:func:`~prefchat.elicitation.onboarding.replay` compares them), so an answer or an
  undo committed by another process is never served stale; replaying from scratch (after a
  restart, or in another process) gives the same posterior bit for bit;
- the **next question**: the first recorded question still unanswered (after a restart, or after
  an undo), else :func:`~prefchat.elicitation.onboarding.next_question` with the session's seed,
  so that a resumed session asks the question an uninterrupted one would have asked.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from typing import Any

import numpy as np

from ..elicitation import STRATEGIES, Posterior, active_kway
from ..elicitation.onboarding import Policy, known_items, next_question, replay
from ..reward.pack import Pack
from ..storage import (
    Conflict,
    NotFound,
    ProfileRecord,
    QuestionRecord,
    SessionRecord,
    Store,
    Turn,
    check_user_id,
)
from . import wording
from .errors import NoProfile, SessionClosed, WrongPack
from .history import reference_features, session_seed, stored_answers
from .intents import Embed, IntentRecognizer, match_item, strip_parenthetical
from .parsing import parse_answer, parse_pick
from .ranking import Ranked, item_scores, like_factor, liked_carriers, rank, stated_exclusions
from .replies import HANDLERS
from .summary import (
    Summary,
    apply_correction,
    describe,
    parse_correction,
    scale_stated_likes,
    summarize,
    text_associations,
)
from .turns import AnyTurn, QuestionTurn, ReaskTurn, ReplyTurn, ResultTurn, SessionOptions, SessionState, Showcase

__all__ = ["Conversation"]

FORGET_STATED = re.compile(r"\b(?:forget|drop|clear|without)\b.{0,30}\b(?:said|told|stated|corrections?|preferences?)\b",
                           re.IGNORECASE)
""""start over" with this in it also drops what the user stated ("start over and forget what I said")."""
SHOWCASE = 3
"""Held-out prompts a result shows the user's pick for (on packs that hold prompts out)."""
POSTERIOR_CACHE = 4096
"""Sessions whose latest posterior is kept in memory (least recently used first out)."""
FORGET_CONFIRM = timedelta(minutes=10)
"""How long after "forget me" a "yes, delete everything" still confirms it."""


@dataclasses.dataclass(frozen=True, eq=False)
class ShowcasePrompt:
    """A prompt the pack held out, as :meth:`Conversation.showcase` ranks its responses for every user."""

    text: str
    responses: list[str]
    embeddings: np.ndarray    # (n_responses, d) of the pack's embedding model
    associations: np.ndarray  # (n_responses, n_descriptors) their text_associations: pack data, computed once


class Conversation:
    """Onboarding sessions and the chat after them, for one pack and one store.

    Parameters
    ----------
    pack : Pack
    store : Store
    embed : callable ``list[str] -> (n, d)`` unit-norm array, optional
        The pack's sentence embedder (see :func:`~prefchat.reward.featurize.pack_embedder`): for
        intents phrased freely, corrections of the summary and ranking texts outside the catalog.
        Without it intents are recognised by their patterns alone, and :meth:`correct` and
        :meth:`rank` raise.
    options : SessionOptions, optional
        For new sessions; a resumed session keeps the options it was started with.
    """

    def __init__(self, pack: Pack, store: Store, embed: Embed | None = None, options: SessionOptions | None = None):
        self.pack = pack
        self.store = store
        self.embed = embed
        self.options = SessionOptions() if options is None else options
        self.recognise = IntentRecognizer(embed)
        self.features = reference_features(pack.features)
        self.reference = pack.n_items
        groups = pack.groups
        self.groups = None if groups is None else np.append(groups, -1)
        familiarity = pack.familiarity  # the reference item is never asked about: familiarity 0
        self.familiarity = None if familiarity is None else np.append(familiarity, 0.0)
        self.index = pack.item_index
        self._posteriors: OrderedDict[str, Posterior] = OrderedDict()
        self._posteriors_lock = threading.Lock()
        self._showcase: tuple[ShowcasePrompt, ...] | None = None
        self._showcase_lock = threading.Lock()

    # -- onboarding ------------------------------------------------------------------------------

    def start(
        self, user_id: str | None = None, options: SessionOptions | None = None, seed: int | None = None
    ) -> QuestionTurn | ResultTurn:
        """Start onboarding (a new anonymous user without ``user_id``); the first question.

        The user's unfinished session of this pack is abandoned, unless it has no answer yet and
        the same options: then it is that session's first question (concurrent starts for one
        user, from any thread or process, meet in one session). A user named for the first time
        is created, also when another process creates them at the same moment.

        ``options`` default to the engine's; their objective, when None, becomes the pack's.
        ``seed`` fixes the questions' random choices (default: from the session id), e.g. to
        meet the questions a benchmark session with that seed asks.
        """
        options = self._resolved(self.options if options is None else options)
        settings: dict[str, Any] = dataclasses.asdict(options)
        if seed is not None:
            settings["seed"] = _check_seed(seed)
        with self.store.atomic():
            if user_id is None:
                record = self.store.start_session(self.store.create_user().id, self.pack.name, self.pack.version, settings)
                return self._advance(self._state(record, ()))
            # A user's unanswered session with the same options is taken up again rather than
            # abandoned, so that concurrent starts for one user (two tabs, a retry) meet in one session.
            record = self.store.start_session(self._user(user_id), self.pack.name, self.pack.version, settings,
                                              reuse_unanswered=True)
            return self._advance(self._state(record))

    def resume(self, session_id: str) -> QuestionTurn | ResultTurn:
        """Where a session stands: its current question, or its result once finished."""
        with self.store.atomic():
            state = self._locked(session_id)
            if state.record.state == "finished":
                return self._result(state)
            _check_active(state.record)
            return self._advance(state)

    def answered(self, session_id: str) -> tuple[tuple[QuestionTurn, str], ...]:
        """The session's answered questions in order, each with the stored choice ("a", "b", "tie",
        "skip", or a k-way pick's item id): what a reloaded chat shows above the current question."""
        state = self.state(session_id)
        turns = [turn for turn in state.history if turn.answer is not None and turn.answer.kind == "choice"]
        return tuple((dataclasses.replace(self._question_turn(state, turn.question), position=n), str(turn.answer.choice))
                     for n, turn in enumerate(turns, 1))

    def answer(self, session_id: str, text: str, question_id: int | None = None) -> QuestionTurn | ResultTurn | ReaskTurn:
        """Take the answer to the current question: "a", "b", "both", "skip" or free text.

        Text that is no answer (see :func:`~prefchat.assistant.parsing.parse_answer`) stores
        nothing and asks again. The answer is committed together with the next question (or the
        result), in one transaction.

        ``question_id`` (:attr:`QuestionTurn.question_id`) makes the call idempotent: an answer
        to a question already answered the same way stores nothing and returns where the session
        now stands, so a client may retry after a lost reply; naming any other question than the
        current one is a :class:`~prefchat.storage.Conflict`.
        """
        with self.store.atomic():
            return self._answer(self._locked(session_id), text, question_id)

    def _answer(self, state: SessionState, text: str, question_id: int | None) -> QuestionTurn | ResultTurn | ReaskTurn:
        """:meth:`answer` on the session's state as read under its lock (:meth:`_locked`), in the caller's
        :meth:`~prefchat.storage.Store.atomic` block."""
        if question_id is not None and (state.pending is None or state.pending.question.id != question_id):
            return self._repeated(state, question_id, text)
        _check_active(state.record)
        if state.pending is None:  # interrupted between an answer and the next question
            current = self._advance(state)
            if isinstance(current, ResultTurn):
                return current
            state = self._state(state.record)
        question = state.pending.question
        choice = _choice(text, question.item_ids)
        if choice is None:
            reask = wording.REASK if len(question.item_ids) == 2 else wording.reask_pick(len(question.item_ids))
            return ReaskTurn(reask, self._question_turn(state, question))
        latency = datetime.now(UTC) - question.asked_at
        answer = self.store.record_answer(
            question.id, choice, raw_text=text, latency_ms=max(0, int(latency.total_seconds() * 1000))
        )
        history = tuple(Turn(turn.question, answer) if turn is state.pending else turn for turn in state.history)
        return self._advance(self._state(state.record, history))

    def undo(self, session_id: str) -> QuestionTurn | ResultTurn:
        """Take back the last answer; its question is asked again. After the last answer too: the
        finished session is active again until it finishes anew."""
        with self.store.atomic():
            record = self._session(session_id, lock=True)
            if record.state == "finished":
                record = self.store.reopen_session(session_id)
            _check_active(record)
            self.store.undo_last_answer(session_id)
            return self._advance(self._state(record))

    def finish(self, session_id: str) -> ResultTurn:
        """End onboarding now and store the profile (a finished session just gives its result)."""
        with self.store.atomic():
            state = self._locked(session_id)
            if state.record.state == "finished":
                return self._result(state)
            _check_active(state.record)
            return self._finish(state)

    def state(self, session_id: str) -> SessionState:
        """The session as rebuilt from storage (see the module docstring), read in one transaction."""
        with self.store.atomic():
            return self._state(self._session(session_id))

    def policy(self, options: SessionOptions) -> Policy:
        """The question policy of a session run with ``options``: the loop's, over this pack."""
        size = options.question_size or self.pack.question_size
        strategy = STRATEGIES[options.strategy] if size == 2 else partial(active_kway, k=size)
        return Policy(strategy, self.pack.pool(options.pool_size), self.groups, self.familiarity,
                      options.min_questions, options.max_questions, options.threshold)

    # -- after onboarding ------------------------------------------------------------------------

    def say(self, who: str, text: str) -> AnyTurn:
        """A chat message from the user of session ``who``, or from user ``who``.

        While onboarding, an answer is taken as one (before any intent is looked for) and
        "undo", "done", "start over" and "forget me" work (anything else is re-asked); afterwards
        every intent of :mod:`~prefchat.assistant.intents` does. "forget me" only deletes when the
        next message confirms it ("yes"), within :data:`FORGET_CONFIRM`; any other next message
        deletes nothing and says so (:data:`~prefchat.assistant.wording.FORGET_KEPT`). The pending request is stored
        (:meth:`~prefchat.storage.Store.ask_forget`), so the confirmation may reach any server process.
        """
        with self.store.atomic():
            session, user_id = self._who(who)
            state = self._locked(session.id) if session is not None and session.state == "active" else None
            asked = self.store.take_forget(user_id)  # any message ends a pending "forget me"; a confirmation uses it
            if not asked and state is not None and _is_answer(text, state):
                return self._answer(state, text, None)
        intent = self.recognise(text)
        if intent.name == "forget":
            with suppress(NotFound):  # a user never stored has nothing to forget
                self.store.ask_forget(user_id, FORGET_CONFIRM)
            return ReplyTurn(wording.FORGET_ASK, "forget")
        if intent.name == "confirm_forget" and asked:
            self.forget(user_id)
            return ReplyTurn(wording.FORGOTTEN, "confirm_forget")
        if asked:  # anything but "yes" keeps everything, and says so
            return ReplyTurn(wording.FORGET_KEPT, "keep")
        if intent.name == "confirm_forget" and "forget" in text.casefold():
            return ReplyTurn(wording.FORGET_UNASKED, "help")
        if intent.name == "start_over":
            if FORGET_STATED.search(text):
                self.forget_stated(user_id)
            return self.start(user_id)
        if intent.name == "undo" and session is not None and session.state in ("active", "finished"):
            return self.undo(session.id)
        if state is not None:
            if intent.name == "finish":
                return self.finish(state.record.id)
            return self.answer(state.record.id, text)  # not an answer: asked again
        summary = None if session is None else self.store.current_summary(user_id, self.pack.name)
        if summary is None:
            return ReplyTurn(wording.NOT_MET, "help")
        handler = HANDLERS.get(intent.name)
        if handler is None:
            return ReplyTurn(wording.HELP, "help")
        return handler(self, self.state(session.id), Summary.from_structured(summary.text, summary.structured), intent)

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

    def recommend(self, user_id: str, k: int = 10, discount: float | None = None) -> list[Ranked]:
        """The ``k`` best catalog items for the user (recorded for analysts).

        Ranked as the user's latest session scores the catalog, without the items its answers
        show the user knows and those they gave feedback on; exactly what the benchmark measures.
        ``discount``: the exposure control (:func:`~prefchat.assistant.ranking.rank`), default the
        pack's validated one; ``pack.less_obvious_discount`` gives "less obvious picks".
        """
        with self.store.atomic():
            profile, summary = self.profile(user_id), self.summary(user_id)
            session = self.latest_session(user_id)
            if session is None:
                return self._recommend(user_id, profile.mean, profile.cov, summary, frozenset(), k, self.pack.objective,
                                       discount)
            state = self._state(session)
            return self._recommend(user_id, profile.mean, profile.cov, summary, self.told(state), k, state.objective,
                                   discount)

    def rank(self, user_id: str, candidates: Sequence[str], k: int | None = None) -> list[Ranked]:
        """Best-of-N: rank texts outside the catalog (e.g. N drafts of a reply) for the user.

        Texts are ranked by "which would you prefer?": a profile learned in a "watch" session
        is read as a preference by taking off the pack's exposure offset,
        :math:`\\lambda = \\lambda_\\text{watch} - \\delta` (see :attr:`~prefchat.reward.pack.Pack.watch_prior`).
        """
        candidates = list(candidates)
        if not candidates:
            raise ValueError("rank needs at least one candidate text, got none")
        with self.store.atomic():
            mean, summary = self.profile(user_id).mean, self.summary(user_id)
            session = self.latest_session(user_id)
        if session is not None and SessionOptions.from_settings(session.settings).objective == "watch":
            mean = mean - self.pack.exposure
        return rank(
            self.pack, mean, summary,
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
        corrected = apply_correction(self.summary(user_id), weights, self.pack)
        self.store.add_summary(
            user_id, self.pack.name, self.pack.version, corrected.text, corrected.structured(), source="edited"
        )
        return corrected

    def regenerate_summary(self, state: SessionState) -> Summary:
        """The summary of the session's posterior now (after feedback, say), what the user stated kept;
        stored as a new version."""
        posterior, counts = state.posterior, state.counts
        summary = self._with_stated(state.record.user_id, summarize(
            self.pack, posterior.mean, posterior.cov, state.n_answered, counts.get("skip", 0), answers=state.answers))
        self.store.add_summary(state.record.user_id, self.pack.name, self.pack.version, summary.text, summary.structured())
        return summary

    def forget_stated(self, user_id: str) -> None:
        """Drop what the user stated in words from their summary (a new version, source "edited")."""
        record = self.store.current_summary(user_id, self.pack.name)
        if record is None:
            return
        summary = Summary.from_structured(record.text, record.structured)
        if summary.stated:
            kept = tuple(w for w in summary.weights if not w.stated)
            plain = Summary(describe(kept, summary.n_answers, summary.n_skipped), kept, summary.n_answers, summary.n_skipped)
            self.store.add_summary(user_id, self.pack.name, self.pack.version, plain.text, plain.structured(), source="edited")

    def _with_stated(self, user_id: str, summary: Summary) -> Summary:
        """``summary`` with the weights the user stated in their current summary carried over: a new
        session or new evidence does not silently drop what the user said."""
        record = self.store.current_summary(user_id, self.pack.name)
        if record is None:
            return summary
        stated = {w.descriptor: w.weight for w in Summary.from_structured(record.text, record.structured).stated
                  if w.descriptor in self.pack.descriptors}
        return apply_correction(summary, stated, self.pack) if stated else summary

    def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, JSON-serialisable."""
        return self.store.export_user(user_id)

    def forget(self, user_id: str) -> None:
        """Delete the user and everything stored about them, and the vectors of recent texts the
        embedder holds in memory when it holds any (a ``clear()`` method, as
        :class:`~prefchat.reward.featurize.RecentEmbeddings` has: they are not kept per user)."""
        self.store.delete_user(user_id)
        clear = getattr(self.embed, "clear", None)
        if callable(clear):
            clear()

    def find_item(self, name: str) -> int | None:
        """The catalog item a message names: by item id, then by its whole title (so "(answer 5)" of a
        grouped pack tells its six answers apart), then as :func:`~prefchat.assistant.intents.match_item`
        finds titles."""
        query = name.strip(" \t\"'“”?!.")
        if query in self.index:
            return self.index[query]
        folded = query.casefold()
        exact = [i for i, title in enumerate(self.titles) if title.casefold() == folded]
        return exact[0] if exact else match_item(query, self.titles)

    def showcase(self, state: SessionState, n: int = SHOWCASE) -> tuple[Showcase, ...]:
        """For ``n`` prompts the pack never trained on (the default pack's held-out prompts), the
        response ranked first for this user, and the crowd's first when it differs: what the
        profile does on questions the user never saw. Empty for other packs, or without an embedder."""
        prompts = self.showcase_prompts()[:n]
        if not prompts:
            return ()
        mean = state.posterior.mean - (self.pack.exposure if state.objective == "watch" else 0.0)
        summary = self.summary(state.record.user_id)
        shown = []
        for prompt in prompts:
            responses = {"candidates": prompt.responses, "candidate_embeddings": prompt.embeddings,
                         "candidate_associations": prompt.associations, "k": 1}
            mine = rank(self.pack, mean, summary, **responses)[0]
            crowd = rank(self.pack, self.pack.prior_mean, None, **responses)[0]
            shown.append(Showcase(prompt.text, mine.text, mine.why, None if crowd.index == mine.index else crowd.text))
        return tuple(shown)

    def showcase_prompts(self) -> tuple[ShowcasePrompt, ...]:
        """The held-out prompts :meth:`showcase` may show (empty without an embedder, or on packs
        that hold no prompt out).

        Computed on first use and kept: they depend on the pack alone. A server calls it before it
        serves (:mod:`prefchat.ui.commands`), so that no request, holding its session's lock, waits
        for the embedding model to load.
        """
        if self.embed is None or not self.pack.provenance.get("showcase"):
            return ()
        with self._showcase_lock:
            if self._showcase is None:
                showcase = []
                for held_out in self.pack.provenance["showcase"]:  # written by prefchat.default.build
                    responses = list(held_out["responses"])
                    embeddings = self.embed(responses)
                    associations = text_associations(self.pack, embeddings, responses)
                    showcase.append(ShowcasePrompt(held_out["prompt"], responses, embeddings, associations))
                self._showcase = tuple(showcase)
            return self._showcase

    def _unwanted(self, summary: Summary) -> np.ndarray:
        """Catalog items carrying a tag the user stated a dislike of (:func:`~prefchat.assistant.ranking.stated_exclusions`), sorted."""
        return stated_exclusions(self.pack, summary)

    def _excluded(self, told: frozenset[int], summary: Summary) -> np.ndarray:
        """What a recommendation leaves out: ``told`` and :meth:`_unwanted`, sorted."""
        return np.union1d(np.fromiter(told, dtype=np.intp, count=len(told)), self._unwanted(summary))

    @cached_property
    def titles(self) -> list[str]:
        """Every item's title, by catalog position (read on the first search by title)."""
        return [item.title for item in self.pack.items]

    def told(self, state: SessionState) -> frozenset[int]:
        """Catalog items a recommendation leaves out: those the answers show the user knows
        (:func:`~prefchat.elicitation.onboarding.known_items`) and those they gave feedback on."""
        feedback = (answer.item_a for answer in state.answers if self.reference in answer.items)
        return (known_items(state.answers) | frozenset(feedback)) - {self.reference}

    def picks(self, state: SessionState, summary: Summary, discount: float | None = None) -> tuple[Ranked, ...]:
        """The session's recommendations: its posterior and the summary, told items left out (recorded)."""
        posterior = state.posterior
        return tuple(self._recommend(state.record.user_id, posterior.mean, posterior.cov, summary, self.told(state),
                                     state.options.n_recommendations, state.objective, discount))

    def preview(self, state: SessionState, summary: Summary) -> tuple[Ranked, ...]:
        """What :meth:`picks` would return, without recording it (to tell whether a change moved them)."""
        posterior = state.posterior
        told = self.told(state)
        exclude = self._excluded(told, summary)
        k = state.options.n_recommendations
        served = self._served(posterior.mean, posterior.cov, summary, exclude, k, state.objective, None, told)
        return tuple(rank(self.pack, posterior.mean, served, k=k, exclude=exclude, objective=state.objective,
                          cov=posterior.cov, known=told))

    def _served(self, mean: np.ndarray, cov: np.ndarray, summary: Summary, exclude: Sequence[int], k: int, objective: str,
                discount: float | None, known: Collection[int]) -> Summary:
        """``summary`` as its stated likes are served: their weights times :func:`~prefchat.assistant.ranking.like_factor`,
        so that "I love documentaries" brings documentaries into the top ``k`` even where the validated weight would not."""
        carried = liked_carriers(self.pack, summary)
        if not carried.shape[1]:
            return summary

        def scores(factor: float) -> np.ndarray:
            return item_scores(self.pack, mean, scale_stated_likes(summary, factor), objective=objective, cov=cov,
                               discount=discount, known=known)

        return scale_stated_likes(summary, like_factor(scores, carried, k, exclude))

    # -- reading state ---------------------------------------------------------------------------

    def _state(self, record: SessionRecord, history: Sequence[Turn] | None = None) -> SessionState:
        """The state of session ``record``, from ``history`` if the caller holds it, else read back."""
        history = tuple(self.store.session_history(record.id) if history is None else history)
        answers, kinds, unknown, pending = stored_answers(history, self.index, self.reference)
        options = self._resolved(SessionOptions.from_settings(record.settings))
        prior = self.pack.session_prior(options.objective)
        with self._posteriors_lock:
            held = self._posteriors.get(record.id)
        posterior = replay(prior, self.features, answers, start=held if held is not None and _same_prior(held, prior) else None)
        with self._posteriors_lock:
            self._posteriors[record.id] = posterior
            self._posteriors.move_to_end(record.id)
            while len(self._posteriors) > POSTERIOR_CACHE:
                self._posteriors.popitem(last=False)
        seed = int(record.settings.get("seed", session_seed(record.id)))
        return SessionState(record, options, seed, history, answers, kinds, unknown, pending, posterior)

    def _resolved(self, options: SessionOptions) -> SessionOptions:
        """``options`` with the pack's objective and question size where they say None.

        A session stored before questions had a size is a session of pairs.
        """
        return dataclasses.replace(options, objective=options.objective or self.pack.objective,
                                   question_size=options.question_size or self.pack.question_size)

    def _locked(self, session_id: str) -> SessionState:
        """The session's state read after taking its lock, inside the caller's :meth:`~prefchat.storage.Store.atomic`
        block: calls about one session (from any thread or process) then run one after the other,
        each on the state the previous one committed."""
        return self._state(self._session(session_id, lock=True))

    def _session(self, session_id: str, lock: bool = False) -> SessionRecord:
        record = self.store.get_session(session_id, lock=lock)
        if record.pack_name != self.pack.name:
            raise WrongPack(f"session {session_id!r} is of pack {record.pack_name!r}, not {self.pack.name!r}")
        return record

    def _user(self, user_id: str) -> str:
        """The id of user ``user_id``, created on first sight."""
        return self.store.ensure_user(check_user_id(user_id)).id

    def _who(self, who: str) -> tuple[SessionRecord | None, str]:
        """The session ``who`` names, or user ``who``'s latest session of this pack (None if none)."""
        try:
            session = self._session(who)
        except NotFound:
            return self.latest_session(who), who
        return session, session.user_id

    def latest_session(self, user_id: str, states: tuple[str, ...] = ("active", "finished")) -> SessionRecord | None:
        """The user's most recent session of this pack in one of ``states`` (None if none, or no such user)."""
        try:
            return self.store.latest_session(user_id, self.pack.name, states)
        except NotFound:
            return None

    def _embedder(self, purpose: str) -> Embed:
        if self.embed is None:
            raise ValueError(f"{purpose} need an embedder: pass embed= (see pack_embedder)")
        return self.embed

    # -- moving a session on ---------------------------------------------------------------------

    def _repeated(self, state: SessionState, question_id: int, text: str) -> QuestionTurn | ResultTurn:
        """An answer naming question ``question_id``, which is not the one waiting: a retry, or a conflict
        (in :meth:`_answer`'s caller's atomic block)."""
        turn = next((turn for turn in state.history if turn.question.id == question_id), None)
        if turn is None or turn.answer is None or turn.answer.choice != _choice(text, turn.question.item_ids):
            raise Conflict(f"question {question_id} is not the current question of session {state.record.id!r}")
        if state.record.state == "finished":
            return self._result(state)
        _check_active(state.record)
        return self._advance(state)

    def _advance(self, state: SessionState) -> QuestionTurn | ResultTurn:
        """The current question (recorded first if new), or the result when it is time to stop."""
        if state.pending is not None:
            return self._question_turn(state, state.pending.question)
        question = next_question(self.features, state.posterior, self.policy(state.options), state.n_answered,
                                 state.seed, state.unknown)
        if question is None:
            return self._finish(state)
        item_ids = [self.pack.items[i].item_id for i in question.items]
        try:
            return self._question_turn(state, self.store.record_question(state.record.id, item_ids))
        except Conflict:  # a concurrent call on this session recorded the next question first: show that one
            pending = self._state(state.record).pending
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
        summary = self._with_stated(user_id, summarize(self.pack, posterior.mean, posterior.cov, state.n_answered,
                                                       counts.get("skip", 0), answers=state.answers))
        with self.store.atomic():
            self.store.save_profile(user_id, self.pack.name, self.pack.version, posterior.mean, posterior.cov, counts)
            self.store.add_summary(user_id, self.pack.name, self.pack.version, summary.text, summary.structured())
            self.store.finish_session(state.record.id)
            picks = self.picks(state, summary)
        return ResultTurn(state.record.id, user_id, summary.text, picks, counts, self.showcase(state))

    def _result(self, state: SessionState) -> ResultTurn:
        summary = self.summary(state.record.user_id)
        return ResultTurn(state.record.id, state.record.user_id, summary.text, self.picks(state, summary), state.counts,
                          self.showcase(state))

    def _recommend(self, user_id: str, mean: np.ndarray, cov: np.ndarray, summary: Summary, told: frozenset[int],
                   k: int, objective: str, discount: float | None = None) -> list[Ranked]:
        """Rank the catalog as a session of ``objective`` scores it, record what is served (for analysts), return it.

        Besides ``told``, the items carrying a tag the user said they do not want ("no horror
        please") are left out: a stated dislike is an instruction, not only a weight; and a stated
        like is served strong enough to move the picks its way (:meth:`_served`).
        """
        exclude = self._excluded(told, summary)
        served = self._served(mean, cov, summary, exclude, k, objective, discount, told)
        ranked = rank(self.pack, mean, served, k=k, exclude=exclude, objective=objective, cov=cov, discount=discount,
                      known=told)
        if ranked:
            self.store.record_ranking(
                user_id, self.pack.name, self.pack.version, [r.item_id for r in ranked], [r.score for r in ranked]
            )
        return ranked


def _choice(text: str, item_ids: Sequence[str]) -> str | None:
    """What ``text`` answers to a question of ``item_ids``, as stored: a pair's "a", "b", "tie" or
    "skip"; a k-way question's chosen item id (typed as such, or by position) or "skip"; None
    when it is no answer."""
    if len(item_ids) == 2:
        return parse_answer(text)
    if text.strip() in item_ids:
        return text.strip()
    pick = parse_pick(text, len(item_ids))
    return item_ids[pick] if isinstance(pick, int) else pick


def _is_answer(text: str, state: SessionState) -> bool:
    """Whether ``text`` answers the session's open question (a pair's, when it has none open yet)."""
    item_ids = ("a", "b") if state.pending is None else state.pending.question.item_ids
    return _choice(text, item_ids) is not None


def _check_active(record: SessionRecord) -> None:
    if record.state != "active":
        raise SessionClosed(f"session {record.id!r} is {record.state}; start a new one")


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    return int(seed)


def _same_prior(posterior: Posterior, prior: Posterior) -> bool:
    return np.array_equal(posterior.prior_mean, prior.prior_mean) and np.array_equal(posterior.prior_cov, prior.prior_cov)
