"""Finding packs: ``--pack NAME|PATH``.

A path to a pack directory is used as it is; a bare name is looked up in
``$PREFCHAT_HOME/packs/NAME``; ``default`` names the embedded default pack, found there too. Finding
a pack never builds one: the default pack is built by an explicit step (``prefchat pack default``,
which ``scripts/install.sh`` runs, or ``prefchat demo``), so that a server never trains.
"""

from __future__ import annotations

from pathlib import Path

from .settings import Settings

DEFAULT = "default"
"""The name of the embedded default pack (:mod:`prefchat.default`)."""
BUILD_DEFAULT = "prefchat pack default"
"""The command that builds the default pack."""


def resolve_pack(spec: str, settings: Settings) -> Path:
    """Directory of the pack named or pointed to by ``spec``."""
    if not spec:
        raise ValueError("no pack given: pass --pack NAME or --pack PATH")
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    named = settings.packs_dir / spec
    if named.is_dir():
        return named
    if spec == DEFAULT:
        raise ValueError(f"the default pack is not built yet in {named}: run `{BUILD_DEFAULT}` once (about a minute)")
    known = sorted(p.name for p in settings.packs_dir.iterdir()) if settings.packs_dir.is_dir() else []
    raise ValueError(f"no pack {spec!r}: not a directory, and not a pack name in {settings.packs_dir} (known: {known or 'none'}; 'default' is the embedded one)")
