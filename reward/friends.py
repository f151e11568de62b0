"""A friends graph: whom each user follows, read from ``friends.csv``.

``friends.csv`` (UTF-8 CSV, header line): ``user_id``, ``friend_id`` and an optional ``weight``
(a positive number, default 1). A row says that ``friend_id`` is a friend of ``user_id``: links
are directed, and a friendship is mutual when both directions are listed. Ids are user ids, held
to the same rules (:data:`~prefchat.reward.data.VISIBLE_ID`); a user's own id, a repeated link or a
weight that is not a positive finite number stops reading on its line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .data import read_table

__all__ = ["Friends", "load_friends"]


@dataclass(frozen=True, eq=False)
class Friends:
    """Directed links: user id -> {friend id: weight}, in the order of the file."""

    links: Mapping[str, Mapping[str, float]]

    def of(self, user_id: str) -> dict[str, float]:
        """The friends of ``user_id`` with their weights; empty for a user with none."""
        return dict(self.links.get(user_id, {}))

    def among(self, members: Iterable[str]) -> Friends:
        """The links whose friend is one of ``members`` (e.g. the training users): the others are unknown there."""
        keep = set(members)
        links = {user: {f: w for f, w in friends.items() if f in keep} for user, friends in self.links.items()}
        return Friends(MappingProxyType({user: friends for user, friends in links.items() if friends}))

    @property
    def n_links(self) -> int:
        return sum(len(friends) for friends in self.links.values())


def load_friends(path: str | Path) -> Friends:
    """Read ``friends.csv`` (module docstring); a bad row raises :class:`~prefchat.reward.data.DataError` with its line."""
    table = read_table(path, ("user_id", "friend_id"), ("weight",))
    users, friends = table.ids("user_id"), table.ids("friend_id")
    weights = table.numbers("weight") if "weight" in table else np.ones(table.n_rows)
    links: dict[str, dict[str, float]] = {}
    for row, (user, friend, weight) in enumerate(zip(users, friends, weights.tolist())):
        if user == friend:
            raise table.error(row, "friend_id", f"user {user!r} is listed as their own friend")
        if not weight > 0:
            raise table.error(row, "weight", f"{weight!r} is not a positive weight")
        mine = links.setdefault(user, {})
        if friend in mine:
            raise table.error(row, "friend_id", f"the link {user!r} -> {friend!r} is listed twice")
        mine[friend] = weight
    return Friends(MappingProxyType(links))
