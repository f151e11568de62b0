"""Which browser tab owns which onboarding session: the resume token the chat keeps in the browser.

A session id names a session; it proves nothing (a REST host holds its users' ids, a log may
show them). So the chat keeps in the browser's localStorage a *resume token* instead:

.. math:: \\text{token} = s \\,\\|\\, \\text{"."} \\,\\|\\, \\operatorname{hex}(\\operatorname{HMAC-SHA256}(k, \\text{"prefchat resume "} \\| s))

for session id :math:`s` and the chat's key :math:`k`. Only the server holding :math:`k` issues
tokens, and it issues them only to the tab that started or resumed the session, so ``/resume``
takes up only a session the chat gave that browser; a REST session's id, which the chat never
signed, resumes nothing. The key lives in ``$PREFCHAT_HOME`` (:func:`load_key`), so a browser's
session survives a restart of ``prefchat serve``; a chat built without one gets a key of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["KEY_BYTES", "load_key", "owned_session", "resume_token"]

KEY_BYTES = 32
_PURPOSE = b"prefchat resume "


def resume_token(key: bytes, session_id: str) -> str:
    """The token of session ``session_id`` (see the module docstring)."""
    return f"{session_id}.{hmac.new(key, _PURPOSE + session_id.encode(), hashlib.sha256).hexdigest()}"


def owned_session(key: bytes, token: object) -> str | None:
    """The session id ``token`` was issued for with ``key``, or None for anything else (compared in constant time)."""
    if not isinstance(token, str) or len(token) > 256:
        return None
    session_id, _, _ = token.rpartition(".")
    return session_id if session_id and hmac.compare_digest(resume_token(key, session_id), token) else None


def load_key(path: Path) -> bytes:
    """The key in file ``path``, created (:data:`KEY_BYTES` random bytes, readable by its owner only) when missing."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return load_key(path)
        with os.fdopen(descriptor, "wb") as file:
            file.write(key)
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} must hold {KEY_BYTES} bytes (a key prefchat wrote), not {len(key)}: delete it to make a new one")
    return key
