"""What is kept of a user for a pack: their profile, their summary's versions, the rankings served.

Sessions (:class:`~prefchat.assistant.session.Conversation`) write it when they finish, the chat
(:class:`~prefchat.assistant.api.Assistant`) reads and corrects it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..reward.pack import Pack
from ..storage import ProfileRecord, Store
from .errors import NoProfile
from .recommender import Ranked
from .summary import Summary, apply_correction, rewritten

__all__ = ["Memory"]


class Memory:
    """One pack's users in one store: profiles, summaries (stated weights carried over), served rankings."""

    def __init__(self, pack: Pack, store: Store):
        self.pack, self.store = pack, store

    def profile(self, user_id: str) -> ProfileRecord:
        """The user's stored profile for this pack: posterior mean and cov, answer counts."""
        profile = self.store.get_profile(user_id, self.pack.name, self.pack.version)
        if profile is None:
            raise NoProfile(f"user {user_id!r} has no profile for pack {self.pack.name!r} {self.pack.version!r}")
        return profile

    def summary(self, user_id: str) -> Summary:
        """The user's current semantic summary for this pack."""
        summary = self.current(user_id)
        if summary is None:
            raise NoProfile(f"user {user_id!r} has no summary for pack {self.pack.name!r}")
        return summary

    def keep(self, user_id: str, summary: Summary, source: str = "generated") -> Summary:
        """Store ``summary`` as the user's current one (a new version; the old one is kept, superseded)."""
        self.store.add_summary(user_id, self.pack.name, self.pack.version, summary.text, summary.structured(), source=source)
        return summary

    def with_stated(self, user_id: str, summary: Summary) -> Summary:
        """``summary`` with the weights the user stated in their current summary carried over: a new
        session or new evidence does not silently drop what the user said."""
        current = self.current(user_id)
        if current is None:
            return summary
        stated = {w.descriptor: w.weight for w in current.stated if w.descriptor in self.pack.descriptors}
        return apply_correction(summary, stated, self.pack) if stated else summary

    def forget_stated(self, user_id: str) -> None:
        """Drop what the user stated in words from their summary (a new version, source "edited")."""
        summary = self.current(user_id)
        if summary is not None and summary.stated:
            self.keep(user_id, rewritten(summary, (w for w in summary.weights if not w.stated)), source="edited")

    def recorded(self, user_id: str, ranked: Sequence[Ranked]) -> Sequence[Ranked]:
        """``ranked``, stored as what was served to the user (for analysts)."""
        if ranked:
            self.store.record_ranking(user_id, self.pack.name, self.pack.version, [str(r.item_id) for r in ranked],
                                      [r.score for r in ranked])
        return ranked

    def current(self, user_id: str) -> Summary | None:
        """The user's current summary for this pack, None if they have none."""
        record = self.store.current_summary(user_id, self.pack.name)
        return None if record is None else Summary.from_structured(record.text, record.structured)
