"""The engine opened from names: :class:`Assistant` and :func:`migrate_profiles`.

Public as :mod:`prefchat.api` (``from prefchat import Assistant``), which documents the example;
defined here, below :mod:`prefchat.ui`, so that the web side opens the same assistant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..elicitation import ConvergenceError
from ..reward.pack import Pack, load_pack
from ..storage import StorageError, Store, open_store
from .errors import NoProfile
from .intents import Embed
from .packs import resolve_pack
from .session import Conversation, SessionOptions, pack_embedder
from .settings import Settings

__all__ = ["Assistant", "MigrationReport", "migrate_profiles", "open_pack"]


def open_pack(pack: str | Path | Pack, settings: Settings) -> Pack:
    """A pack given as a :class:`Pack`, a directory, a name under ``settings.packs_dir`` or ``"default"``."""
    return pack if isinstance(pack, Pack) else load_pack(resolve_pack(str(pack), settings))


class Assistant(Conversation):
    """The conversation engine (:class:`~prefchat.assistant.session.Conversation`), opened from
    names: ``start``, ``answer``, ``undo``, ``finish``, ``resume``, ``say``, ``profile``,
    ``summary``, ``recommend``, ``rank``, ``correct``, ``export``, ``forget``."""

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
            (:func:`~prefchat.assistant.session.pack_embedder`, loaded on first use)
        options : session options (question counts, strategy); default :class:`SessionOptions`
        """
        settings = Settings.from_env() if settings is None else settings
        pack = open_pack(pack, settings)
        store = open_store(settings.db_url if db is None else db)
        embed = pack_embedder(pack, settings.embedding_model, settings.cache_dir) if embed is None else embed
        return cls(pack, store, embed, options)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class MigrationReport:
    """What :func:`migrate_profiles` did: ``carried`` profiles, ``failed`` ones and why (by user id)."""

    carried: int
    failed: int
    reasons: Mapping[str, str] = field(default_factory=dict)


def migrate_profiles(store: Store, old_pack: Pack, new_pack: Pack) -> MigrationReport:
    """Carry every profile of ``old_pack`` (its name and version) to ``new_pack``.

    Each user's stored answers are replayed on the new pack's features (those about items the new
    pack has, matched by ``item_id``) and their current summary carried as a new version; see
    :meth:`~prefchat.assistant.session.Conversation.adopt`. A user whose answers all concern
    items the new pack lacks is still carried, through the summary (the posterior is then the
    new prior); one with neither fails, as does one without a finished session.
    """
    old, new = Conversation(old_pack, store), Conversation(new_pack, store)
    carried, reasons = 0, {}
    for profile in store.list_profiles(pack_name=old_pack.name, pack_version=old_pack.version):
        try:
            new.adopt(profile.user_id, old)
        except (NoProfile, StorageError, ConvergenceError) as error:
            reasons[profile.user_id] = str(error)
        else:
            carried += 1
    return MigrationReport(carried, len(reasons), reasons)
