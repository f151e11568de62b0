"""prefchat's Python API: onboard a user in about ten questions, then rank, explain and keep learning.

Example::

    from prefchat import Assistant
    from prefchat.api import QuestionTurn

    with Assistant.open(pack="default", db="sqlite:///prefchat.sqlite") as assistant:
        turn = assistant.start("alice")
        while isinstance(turn, QuestionTurn):              # "which do you prefer?"
            print(turn.progress, "|", turn.item_a.title, "or", turn.item_b.title)
            turn = assistant.answer(turn.session_id, "a")  # or "b", "both", "skip", "the second one"
        print(turn.summary_text)                           # "Enjoys: ... Confidence: ..."
        for pick in assistant.recommend("alice", k=3):
            print(pick.title, "because", pick.why)
        print(assistant.say("alice", "actually I prefer short answers").text)
        assistant.forget("alice")                          # deletes everything stored about alice

Turns are plain frozen objects (:mod:`prefchat.assistant.turns`): :class:`QuestionTurn`,
:class:`ResultTurn`, :class:`ReplyTurn` and :class:`ReaskTurn` (free text that is no answer).
Every answer is committed when given; a session interrupted at any point resumes where it was
(:meth:`Assistant.resume`). :func:`migrate_profiles` carries stored profiles to a retrained pack.
"""

from __future__ import annotations

from pathlib import Path

from .assistant.intents import Embed
from .assistant.migration import MigrationReport, migrate_profiles
from .assistant.session import Conversation
from .assistant.turns import ItemCard, QuestionTurn, ReaskTurn, ReplyTurn, ResultTurn, SessionOptions
from .packs import resolve_pack
from .reward.featurize import pack_embedder
from .reward.pack import Pack, load_pack
from .settings import Settings
from .storage import open_store

__all__ = [
    "Assistant",
    "ItemCard",
    "MigrationReport",
    "QuestionTurn",
    "ReaskTurn",
    "ReplyTurn",
    "ResultTurn",
    "SessionOptions",
    "migrate_profiles",
    "open_pack",
]


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
        embed = pack_embedder(pack, settings.embedding_model, settings.cache_dir) if embed is None else embed
        return cls(pack, store, embed, options)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
