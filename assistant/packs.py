"""Finding packs: ``--pack NAME|PATH``.

A path to a pack directory is used as it is; a bare name is looked up in
``$PREFCHAT_HOME/packs/NAME``; ``default`` names the embedded default pack, built on first
use from the files shipped inside prefchat.
"""

from __future__ import annotations

from pathlib import Path

from .settings import Settings

DEFAULT = "default"
"""The name of the embedded default pack (:mod:`prefchat.default`)."""


def resolve_pack(spec: str, settings: Settings) -> Path:
    """Directory of the pack named or pointed to by ``spec``."""
    if not spec:
        raise ValueError("no pack given: pass --pack NAME or --pack PATH")
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if spec == DEFAULT:
        from ..default.build import ensure_default_pack
        from .ranking import calibrate

        return ensure_default_pack(settings.packs_dir / DEFAULT, settings.embedding_model, settings.cache_dir, calibrate)
    named = settings.packs_dir / spec
    if named.is_dir():
        return named
    known = sorted(p.name for p in settings.packs_dir.iterdir()) if settings.packs_dir.is_dir() else []
    raise ValueError(f"no pack {spec!r}: not a directory, and not a pack name in {settings.packs_dir} (known: {known or 'none'}; 'default' is the embedded one)")
