"""The engine opened from names: :class:`Assistant`.

Public as :mod:`prefchat.api` (``from prefchat import Assistant``), which documents the example;
defined here, below :mod:`prefchat.ui`, so that the web side opens the same assistant.
"""

from __future__ import annotations

from pathlib import Path

from ..reward.featurize import pack_embedder
from ..reward.pack import Pack, load_pack
from ..storage import open_store
from .intents import Embed
from .packs import resolve_pack
from .session import Conversation
from .settings import Settings
from .turns import SessionOptions

__all__ = ["Assistant", "open_pack"]


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
