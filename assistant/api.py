"""The assistant: onboarding sessions and the chat after them, opened from names.

:class:`Assistant` is the session lifecycle of :class:`~prefchat.assistant.session.Conversation`
with what comes after onboarding: chat messages (:meth:`Assistant.say`, the replies in
:mod:`~prefchat.assistant.replies`), the stored profile and summary, recommendations, ranking
texts, corrections and forgetting. Public as :mod:`prefchat.api` (``from prefchat import
Assistant``), which documents the example; defined here, below :mod:`prefchat.ui`, so that the web
side opens the same assistant.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from contextlib import suppress
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from ..elicitation.posterior import Answer
from ..reward.featurize import pack_embedder
from ..reward.pack import Pack, load_pack
from ..storage import NotFound, ProfileRecord, SessionRecord, Store, open_store
from . import wording
from .corrections import parse_correction
from .history import stored_answers, told_items
from .intents import Embed, IntentRecognizer, match_item
from .packs import resolve_pack
from .parsing import parse_choice
from .recommender import Candidates, Ranked, Taste
from .replies import HANDLERS, less_obvious_picks
from .returning import checkin_of, returning_parts
from .session import Conversation
from .settings import Settings
from .summary import Summary, apply_correction, summarize
from .turns import AnyTurn, QuestionTurn, ReplyTurn, SessionOptions, SessionState

__all__ = ["Assistant", "open_pack"]

FORGET_STATED = re.compile(r"\b(?:forget|drop|clear|without)\b.{0,30}\b(?:said|told|stated|corrections?|preferences?)\b",
                           re.IGNORECASE)
""""start over" with this in it also drops what the user stated ("start over and forget what I said")."""
FORGET_CONFIRM = timedelta(minutes=10)
"""How long after "forget me" a "yes, delete everything" still confirms it."""


def open_pack(pack: str | Path | Pack, settings: Settings) -> Pack:
    """A pack given as a :class:`Pack`, a directory, a name under ``settings.packs_dir`` or ``"default"``."""
    return pack if isinstance(pack, Pack) else load_pack(resolve_pack(str(pack), settings))


class Assistant(Conversation):
    """Onboarding sessions (:class:`~prefchat.assistant.session.Conversation`: ``start``, ``answer``,
    ``undo``, ``finish``, ``resume``) and the chat after them: ``say``, ``profile``, ``summary``,
    ``recommend``, ``rank``, ``correct``, ``export``, ``forget``. Parameters as :class:`Conversation`'s;
    :meth:`open` opens one from names."""

    def __init__(self, pack: Pack, store: Store, embed: Embed | None = None, options: SessionOptions | None = None):
        super().__init__(pack, store, embed, options)
        self.recognise = IntentRecognizer(embed)

    @classmethod
    def open(
        cls,
        pack: str | Path | Pack = "default",
        db: str | Path | None = None,
        settings: Settings | None = None,
        embed: Embed | None = None,
        options: SessionOptions | None = None,
    ) -> Assistant:
        """Open an assistant.

        Parameters
        ----------
        pack : "default" (the embedded assistant-styles pack), a pack directory, a pack name
            under ``settings.packs_dir``, or a loaded :class:`~prefchat.reward.pack.Pack`
        db : SQLAlchemy URL or SQLite path; default ``settings.db_url``
        settings : default :meth:`Settings.from_env`
        embed : ``embed(texts) -> (n, d)`` unit-norm embeddings; default the pack's own model
            (:func:`~prefchat.reward.featurize.pack_embedder`, loaded on first use)
        options : session options (question counts, strategy, objective); default :class:`SessionOptions`
        """
        settings = Settings.from_env() if settings is None else settings
        pack = open_pack(pack, settings)
        store = open_store(settings.db_url if db is None else db)
        embed = pack_embedder(pack, settings.embedding_model) if embed is None else embed
        return cls(pack, store, embed, options)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def say(self, who: str, text: str, question_id: int | None = None) -> AnyTurn:
        """A chat message from the user of session ``who``, or from user ``who``.

        While onboarding, an answer is taken as one (before any intent is looked for) and
        "undo", "done", "start over" and "forget me" work (anything else is re-asked); afterwards
        every intent of :mod:`~prefchat.assistant.intents` does. "forget me" only deletes when the
        next message confirms it ("yes"), within :data:`FORGET_CONFIRM`; any other next message
        deletes nothing and says so (:data:`~prefchat.assistant.wording.FORGET_KEPT`). The pending request is stored
        (:meth:`~prefchat.storage.Store.ask_forget`), so the confirmation may reach any server process.
        ``question_id`` names the question a typed answer answers, as for :meth:`answer`.
        """
        with self.store.atomic():
            session, user_id = self._who(who)
            state = self.sessions.locked(session.id) if session is not None and session.state == "active" else None
            asked = self.store.take_forget(user_id)  # any message ends a pending "forget me"; a confirmation uses it
            if not asked and state is not None and _is_answer(text, state):
                return self._answer(state, text, question_id)
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
                self.memory.forget_stated(user_id)
            return self.start(user_id)
        if intent.name == "undo" and session is not None and session.state in ("active", "finished"):
            return self.undo(session.id)
        if state is not None:
            if intent.name == "finish":
                return self.finish(state.record.id)
            return self.answer(state.record.id, text)  # not an answer: asked again
        summary = None if session is None else self.memory.current(user_id)
        if session is None or summary is None:
            return ReplyTurn(wording.NOT_MET, "help")
        handler = HANDLERS.get(intent.name)
        if handler is None:
            return ReplyTurn(wording.HELP, "help")
        return handler(self, self.sessions.state(session), summary, intent)

    def answered(self, session_id: str) -> tuple[tuple[QuestionTurn, str], ...]:
        """The session's answered questions in order, each with the stored choice ("a", "b", "tie",
        "skip", or a k-way pick's item id): what a reloaded chat shows above the current question."""
        state = self.state(session_id)
        chosen = [(exchange.question, exchange.answer.choice) for exchange in state.history
                  if exchange.answer is not None and exchange.answer.kind == "choice"]
        return tuple((dataclasses.replace(self._question_turn(state, question), position=n), str(choice))
                     for n, (question, choice) in enumerate(chosen, 1))

    def profile(self, user_id: str) -> ProfileRecord:
        """The user's stored profile for this pack: posterior mean and cov, answer counts."""
        return self.memory.profile(user_id)

    def summary(self, user_id: str) -> Summary:
        """The user's current semantic summary for this pack."""
        return self.memory.summary(user_id)

    def recommend(self, user_id: str, k: int = 10, discount: float | None = None) -> list[Ranked]:
        """The ``k`` best catalog items for the user (recorded for analysts).

        Ranked as the user's latest session scores the catalog
        (:meth:`~prefchat.assistant.recommender.Recommender.recommend`), without the items its
        answers show the user knows and those they gave feedback on (read from the stored answers);
        exactly what the benchmark measures. ``discount``: the exposure control, default the pack's
        validated one (:meth:`less_obvious` for "less obvious picks").
        """
        with self.store.atomic():
            taste = self._taste(user_id)
            return list(self.memory.recorded(user_id, self.recommender.recommend(taste, k, discount)))

    def less_obvious(self, user_id: str, k: int = 10) -> list[Ranked]:
        """:meth:`recommend` with the discount of "less obvious picks" for this user
        (:func:`~prefchat.assistant.replies.less_obvious_picks`), as the chat serves them."""
        with self.store.atomic():
            taste = self._taste(user_id)
            return list(self.memory.recorded(user_id, less_obvious_picks(self.pack, lambda d: self.recommender.recommend(taste, k, d))))

    def _taste(self, user_id: str) -> Taste:
        """What the user's profile, summary and latest session tell the recommender (in the caller's transaction)."""
        profile, summary = self.profile(user_id), self.summary(user_id)
        session = self.latest_session(user_id)
        objective, told, earlier = self.pack.objective, frozenset[int](), frozenset[int]()
        answers: tuple[Answer, ...] = ()
        social = self.friends.evidence(user_id)
        if session is not None:
            objective = self.sessions.options(session).objective or objective
            answers = stored_answers(self.store.session_history(session.id), self.index, self.reference)[0]
            told = told_items(answers, self.reference)
            check = checkin_of(self.pack, session.settings, self.pack.serving.session_prior(objective))
            if check is not None:  # after a check-in, the earlier answers' items at the weight it left them
                told, earlier, social = returning_parts(self.pack, session.settings, check, self.features, answers, told,
                                                        social)
        return Taste(profile.mean, profile.cov, summary, objective, told, answers, social=social, as_of=self.now(),
                     earlier=earlier)

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
            answers: tuple[Answer, ...] = ()
            if session is not None and SessionOptions.from_settings(session.settings).objective == "watch":
                mean = mean - self.pack.exposure
            elif session is not None:  # the MAP of "prefer" answers: they are what a reason cites
                answers = stored_answers(self.store.session_history(session.id), self.index, self.reference)[0]
        texts = Candidates(candidates, self._embedder("ranking texts")(candidates))
        return self.recommender.rank(Taste(mean, summary=summary, answers=answers), len(candidates) if k is None else k,
                                     candidates=texts)

    def correct(self, user_id: str, text: str) -> Summary | None:
        """Correct the summary in words ("actually I love musicals"); None when no known taste is named.

        The corrected summary is stored as a new version (source "edited"; the old one is kept,
        superseded) and rankings follow it at once.
        """
        weights = parse_correction(self.pack, text, self._embedder("corrections"))
        if weights is None:
            return None
        return self.memory.keep(user_id, apply_correction(self.summary(user_id), weights, self.pack), source="edited")

    def regenerate_summary(self, state: SessionState) -> Summary:
        """The summary of the session's posterior now (after feedback, say), what the user stated kept;
        stored as a new version."""
        posterior, counts, user_id = state.posterior, state.counts, state.record.user_id
        return self.memory.keep(user_id, self.memory.with_stated(user_id, summarize(
            self.pack, posterior.mean, posterior.cov, state.n_answered, counts.get("skip", 0), answers=state.answers)))

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
        """The catalog item a message names: by item id, then by its whole title (so the opening in a
        grouped pack's titles tells the answers to one prompt apart), then as :func:`~prefchat.assistant.intents.match_item`
        finds titles."""
        query = name.strip(" \t\"'“”?!.")
        if query in self.index:
            return self.index[query]
        folded = query.casefold()
        exact = [i for i, title in enumerate(self.titles) if title.casefold() == folded]
        return exact[0] if exact else match_item(query, self.titles)

    @cached_property
    def titles(self) -> list[str]:
        """Every item's title, by catalog position (read on the first search by title)."""
        return [item.title for item in self.pack.items]

    def _who(self, who: str) -> tuple[SessionRecord | None, str]:
        """The session ``who`` names, or user ``who``'s latest session of this pack (None if none)."""
        try:
            session = self.sessions.record(who)
        except NotFound:
            return self.latest_session(who), who
        return session, session.user_id

    def _embedder(self, purpose: str) -> Embed:
        if self.embed is None:
            raise ValueError(f"{purpose} need an embedder: pass embed= (see pack_embedder)")
        return self.embed


def _is_answer(text: str, state: SessionState) -> bool:
    """Whether ``text`` answers the session's open question (a pair's, when it has none open yet)."""
    item_ids = ("a", "b") if state.pending is None else state.pending.question.item_ids
    return parse_choice(text, item_ids) is not None
