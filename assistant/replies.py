"""The chat after onboarding: one reply per intent of :mod:`~prefchat.assistant.intents`.

Each handler takes the assistant (what it needs of one: :class:`Chat`), the user's session state,
their current summary and the recognised intent, and returns a
:class:`~prefchat.assistant.turns.ReplyTurn`; :meth:`~prefchat.assistant.api.Assistant.say` picks
the handler from :data:`HANDLERS`.
The words come from :mod:`~prefchat.assistant.wording`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..reward.pack import Pack
from ..storage import FEEDBACK_KINDS, Store
from . import wording
from .intents import Intent
from .memory import Memory
from .recommender import Ranked, Recommender, Taste, stated_exclusions
from .summary import DescriptorWeight, Summary
from .turns import ReplyTurn, SessionState

__all__ = ["HANDLERS", "LESS_OBVIOUS_HEAD_SHARE", "Chat", "less_obvious_picks"]


class Chat(Protocol):
    """What a reply needs of the assistant (:class:`~prefchat.assistant.api.Assistant` is one)."""

    pack: Pack
    store: Store
    recommender: Recommender
    memory: Memory

    @property
    def titles(self) -> list[str]: ...
    def state(self, session_id: str) -> SessionState: ...
    def taste(self, state: SessionState, summary: Summary | None) -> Taste: ...
    def preview(self, state: SessionState, summary: Summary, discount: float | None = None) -> tuple[Ranked, ...]: ...
    def picks(self, state: SessionState, summary: Summary, discount: float | None = None) -> tuple[Ranked, ...]: ...
    def correct(self, user_id: str, text: str) -> Summary | None: ...
    def regenerate_summary(self, state: SessionState) -> Summary: ...
    def find_item(self, name: str) -> int | None: ...


Handler = Callable[[Chat, SessionState, Summary, Intent], ReplyTurn]


def profile(chat: Chat, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
    """"What do you know about me?": the summary."""
    return ReplyTurn(summary.text, "profile")


def recommend(chat: Chat, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
    """"Recommend": the session's picks."""
    return ReplyTurn(wording.RECOMMENDATIONS, "recommend", chat.picks(state, summary))


LESS_OBVIOUS_HEAD_SHARE = 0.3
"""Most a "less obvious" list may hold of the :data:`~prefchat.elicitation.person.HEAD_ITEMS` most popular
items (issue 21): 3 of 10."""


def less_obvious_picks(pack: Pack, rank: Callable[[float], Sequence[Ranked]]) -> Sequence[Ranked]:
    """The picks of "less obvious picks" for one user: ``rank(discount)`` at the weakest of
    :attr:`~prefchat.reward.pack.Pack.less_obvious_discounts` (each validated under a recall
    constraint) whose picks hold at most :data:`LESS_OBVIOUS_HEAD_SHARE` of the most popular items
    (:attr:`~prefchat.reward.serving.Serving.head`); at the strongest when none does. Each discount
    is ranked once: the picks found are the picks served."""
    head = pack.serving.head
    for discount in pack.less_obvious_discounts:
        picks = rank(discount)
        if sum(head[p.index] for p in picks) <= LESS_OBVIOUS_HEAD_SHARE * len(picks):
            break
    return picks


def less_obvious(chat: Chat, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
    """"Show me less obvious picks": the session's :func:`less_obvious_picks`, with
    how many of them left the head. When even the strongest discount leaves more than
    :data:`LESS_OBVIOUS_HEAD_SHARE` in it, the reply says that there are no good less-known picks
    for this user yet, with the strongest's picks; on a pack without base rates, that it cannot
    tell which items are widely known."""
    if chat.pack.familiarity is None:
        return ReplyTurn(wording.NOT_WIDELY_KNOWN, "less_obvious", chat.picks(state, summary))
    head = chat.pack.serving.head
    before = chat.preview(state, summary)
    picks = tuple(chat.memory.recorded(state.record.user_id,
                                       less_obvious_picks(chat.pack, lambda d: chat.preview(state, summary, d))))
    in_head = [sum(head[p.index] for p in ranked) for ranked in (before, picks)]
    if in_head[1] <= LESS_OBVIOUS_HEAD_SHARE * len(picks):
        text = wording.less_obvious(len(picks) - in_head[1], len(picks), len(before) - in_head[0])
    else:
        text = wording.no_less_obvious(in_head[1], len(picks), in_head[0])
    return ReplyTurn(text, "less_obvious", picks)


def correct(chat: Chat, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
    """"Actually I love musicals": a new summary version, and the picks it gives."""
    before = chat.preview(state, summary)
    corrected = chat.correct(state.record.user_id, intent.argument)
    if corrected is None:
        return ReplyTurn(wording.CORRECTION_NOT_UNDERSTOOD, "correct")
    picks = chat.picks(state, corrected)
    said = [w for w in corrected.stated if w not in summary.stated]
    return ReplyTurn(wording.corrected(corrected.text, _change(chat.pack, said or list(corrected.stated), not said,
                                                               before, picks)), "correct", picks)


def _change(pack: Pack, said: list[DescriptorWeight], repeated: bool, before: tuple[Ranked, ...],
            after: tuple[Ranked, ...]) -> str:
    """What a correction did to the picks, counted on the lists before and after it: how many are
    new, and for each descriptor ``said`` that the pack counts in an item
    (:attr:`~prefchat.reward.descriptors.DescriptorIndex.measured`) how many picks carry it
    before and after; when none changed, why (:func:`~prefchat.assistant.wording.picks_kept`)."""
    index, k = pack.serving.descriptors, len(after)
    counts, fit, unfit, guessed = [], [], [], []
    for w in said:
        j = index.columns.get(w.descriptor)
        if j is None or not index.measured[j]:
            guessed.append(w.descriptor)
            continue
        carried = index.carried[:, j]
        n_before, n_after = (int(sum(carried[p.index] for p in picks)) for picks in (before, after))
        counts.append((w.descriptor, n_before, n_after))
        if n_after == (k if w.weight > 0 else 0):
            fit.append((w.descriptor, n_after))
        else:
            unfit.append(w.descriptor)
    n_new = len({p.index for p in after} - {p.index for p in before})
    if n_new:
        return wording.picks_changed(n_new, k, counts)
    if _moved(before, after):
        return wording.picks_reordered(k, counts)
    return wording.picks_kept(k, repeated, fit, [] if repeated else unfit, [] if repeated else guessed)


def _moved(before, after) -> bool:
    """Did the picks change (which items, or their order)?"""
    return [p.index for p in before] != [p.index for p in after]


def why(chat: Chat, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
    """The reasons of one catalog item: ranked alone, as the session ranks the catalog; or why it is
    never among the picks (the user answered about it, or said no to what it carries)."""
    item = chat.find_item(intent.argument)
    if item is None:
        return ReplyTurn(wording.not_found(intent.argument), "why")
    taste = chat.taste(state, summary)
    title = chat.pack.items[item].title
    if item in taste.left_out:
        return ReplyTurn(wording.left_out_known(title), "why")
    index = chat.pack.serving.descriptors
    said_no = [w.descriptor for w in summary.stated if w.weight < 0 and w.descriptor in index.columns
               and index.carried[item, index.columns[w.descriptor]]]
    if item in stated_exclusions(chat.pack, summary):
        return ReplyTurn(wording.left_out_said(title, [wording.spoken(d) for d in said_no]), "why")
    (ranked,) = chat.recommender.rank(taste, 1, only=[item])
    return ReplyTurn(wording.reason(ranked.title, ranked.why), "why", (ranked,))


def feedback(chat: Chat, state: SessionState, summary: Summary, intent: Intent) -> ReplyTurn:
    """Thumbs up/down or more/less like an item: stored as evidence, the profile refitted and saved."""
    item = chat.find_item(intent.argument)
    if item is None:
        return ReplyTurn(wording.not_found(intent.argument), intent.name)
    store, pack, user_id = chat.store, chat.pack, state.record.user_id
    before = chat.preview(state, summary)
    with store.atomic():
        store.record_feedback(state.record.id, pack.items[item].item_id, intent.name, raw_text=intent.argument)
        state = chat.state(state.record.id)
        posterior = state.posterior
        store.save_profile(user_id, pack.name, pack.version, posterior.mean, posterior.cov, state.counts)
        summary = chat.regenerate_summary(state)
        picks = chat.picks(state, summary)
    return ReplyTurn(wording.feedback_noted(intent.name, chat.titles[item], _moved(before, picks)), intent.name, picks)


HANDLERS: dict[str, Handler] = {
    "why": why,
    "profile": profile,
    "recommend": recommend,
    "less_obvious": less_obvious,
    "correct": correct,
    **{kind: feedback for kind in FEEDBACK_KINDS},
}
