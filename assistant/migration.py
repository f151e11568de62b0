"""Carrying stored profiles to another pack (e.g. a retrained one), through answers and summary.

Coefficients live in one pack's bases and mean nothing in another's; what carries over is what
the user said. Answers about items both packs have (matched by ``item_id``) are replayed on the
new pack's features, and the summary, which is model-independent, is carried as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..elicitation import ConvergenceError
from ..storage import StorageError, Store
from .errors import NoProfile
from .session import Conversation
from .turns import SessionState

__all__ = ["MigrationReport", "adopt", "migrate_profiles"]


def adopt(target: Conversation, source: Conversation, user_id: str) -> SessionState:
    """Carry a user's profile from the pack of ``source`` to the pack of ``target``.

    The answers and feedback of the user's latest finished session with the source pack are
    copied, in order, into a new finished session with the target pack, leaving out those about
    items it does not have; the posterior is refitted on the target's features and saved as the
    profile, and the current summary is carried as a new summary version (same text, weights and
    source). Starting the session abandons the user's active sessions with the target pack's name.
    All of it is one transaction.

    Returns the new session's state. Raises ``NoProfile``, writing nothing, if the user finished
    no session with the source pack, or if none of its answers concern an item of the target
    pack and there is no summary to carry.
    """
    store, pack = target.store, target.pack
    old = source.latest_session(user_id, ("finished",))
    if old is None:
        raise NoProfile(f"user {user_id!r} finished no session with pack {source.pack.name!r}")
    answered = [
        (exchange.question.item_ids, exchange.answer)
        for exchange in store.session_history(old.id)
        if exchange.answer is not None and all(item in target.index for item in exchange.question.item_ids)
    ]
    summary = store.current_summary(user_id, source.pack.name)
    if not answered and summary is None:
        raise NoProfile(
            f"nothing to carry for user {user_id!r}: no answer about an item of pack {pack.name!r} and no summary"
        )
    with store.atomic():
        new = store.start_session(user_id, pack.name, pack.version, {**old.settings, "migrated_from": old.id})
        for items, answer in answered:
            if answer.choice is None:  # feedback on one item
                store.record_feedback(new.id, items[0], answer.kind, raw_text=answer.raw_text)
            else:
                question = store.record_question(new.id, items)
                store.record_answer(question.id, answer.choice, answer.raw_text, answer.latency_ms)
        state = target.state(store.finish_session(new.id).id)
        posterior = state.posterior
        store.save_profile(user_id, pack.name, pack.version, posterior.mean, posterior.cov, state.counts)
        if summary is not None:
            store.add_summary(user_id, pack.name, pack.version, summary.text, summary.structured, summary.source)
    return state


@dataclass(frozen=True)
class MigrationReport:
    """What :func:`migrate_profiles` did: ``carried`` profiles, ``failed`` ones and why (by user id)."""

    carried: int
    failed: int
    reasons: Mapping[str, str] = field(default_factory=dict)


def migrate_profiles(store: Store, old_pack, new_pack) -> MigrationReport:
    """Carry every profile of ``old_pack`` (its name and version) to ``new_pack`` (see :func:`adopt`).

    A user whose answers all concern items the new pack lacks is still carried, through the
    summary (the posterior is then the new prior); one with neither fails, as does one without a
    finished session.
    """
    old, new = Conversation(old_pack, store), Conversation(new_pack, store)
    carried, reasons = 0, {}
    for profile in store.list_profiles(pack_name=old_pack.name, pack_version=old_pack.version):
        try:
            adopt(new, old, profile.user_id)
        except (NoProfile, StorageError, ConvergenceError) as error:
            reasons[profile.user_id] = str(error)
        else:
            carried += 1
    return MigrationReport(carried, len(reasons), reasons)
