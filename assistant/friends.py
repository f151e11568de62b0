"""A user's friends, as the host names them, and the social prior they give (:mod:`prefchat.elicitation.social`).

The host passes a new user's friends when a session starts (``Assistant.start(user, friends=...)``,
REST ``POST /sessions`` with ``friends``): user ids, or a mapping of id to a positive weight. An id
is checked as a user id is (a malformed one is an error); a friend the pack does not hold (one of
its training users) and the store does not know (a stored user) is left out and counted, not an
error: the host's graph may name people who never came. The friends kept are stored, so that every
later ranking rebuilds the same prior, and a friend forgotten with "forget me" leaves every list.

A friend who is a stored user is read through their latest session's known items (the
known-items posterior mean, and on a pack with a friends' items term the items themselves, which
raise those items' scores as a training friend's ratings do), never through what they answered
or said; nothing of a friend is ever shown to the user, and no reason names a friend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..elicitation.social import SocialEvidence
from ..reward.pack import Pack
from ..storage import Store, check_user_id
from .history import stored_answers, told_items
from .state import SessionReader

__all__ = ["MAX_FRIENDS", "Friendships", "friend_weights"]

MAX_FRIENDS = 1000
"""The most friends a user may be given; more is an error, not a truncation."""


def friend_weights(friends: Sequence[str] | Mapping[str, float]) -> dict[str, float]:
    """``friends`` as id -> weight (weight 1 for a list), each id checked; ValueError on a bad id, a
    repeated one or more than :data:`MAX_FRIENDS`."""
    if isinstance(friends, str):
        raise ValueError("friends must be a list of user ids or a mapping of id to weight, not one string")
    weights = dict(friends.items()) if isinstance(friends, Mapping) else dict.fromkeys(friends, 1.0)
    count = len(friends)
    if count > MAX_FRIENDS:
        raise ValueError(f"{count} friends; at most {MAX_FRIENDS} may be given")
    if len(weights) != count:
        raise ValueError("a friend is listed twice")
    return {check_user_id(friend): weight for friend, weight in weights.items()}


class Friendships:
    """The friends of the users of one pack and store: stored, and read as a social prior."""

    def __init__(self, pack: Pack, store: Store, sessions: SessionReader):
        self.pack, self.store, self.sessions = pack, store, sessions

    def follow(self, user_id: str, friends: Sequence[str] | Mapping[str, float]) -> int:
        """Store ``friends`` (:func:`friend_weights`) as the user's, in place of any before; the number
        left out as unknown (neither a training user of the pack's social prior nor a stored user)."""
        weights = friend_weights(friends)
        members = self.pack.social.row if self.pack.social is not None else {}
        stored = self.store.stored_users([friend for friend in weights if friend not in members])
        known = {friend: weight for friend, weight in weights.items() if friend in members or friend in stored}
        self.store.set_friends(user_id, known)
        return len(weights) - len(known)

    def evidence(self, user_id: str) -> SocialEvidence | None:
        """The user's social evidence (:meth:`~prefchat.elicitation.social.SocialModel.evidence`) from their
        stored friends; None on a pack without a social prior, or for a user without friends."""
        social, model = self.pack.social, self.pack.known_model
        if social is None or model is None:
            return None
        friends = self.store.friends_of(user_id)
        if not friends:
            return None
        profiles, revealed = {}, {}
        for friend in friends:
            if friend not in social.row:
                known = self._known_items(friend)
                if known is not None:
                    profiles[friend], revealed[friend] = model.posterior_mean(known), known
        return social.evidence(friends, profiles, revealed)[0]

    def _known_items(self, user_id: str) -> frozenset[int] | None:
        """The items a stored user's latest session of this pack shows they know; None without one."""
        session = self.sessions.latest(user_id, ("active", "finished"))
        if session is None:
            return None
        reference = self.sessions.reference
        return told_items(stored_answers(self.store.session_history(session.id), self.pack.item_index, reference)[0],
                          reference)

