"""Resume tokens (issue 24, finding 3): only a token the chat signed resumes its session."""

from __future__ import annotations

import hashlib
import hmac
import stat

import pytest

from prefchat.ui.ownership import KEY_BYTES, load_key, owned_session, resume_token

KEY = bytes(range(KEY_BYTES))


def test_a_token_is_the_session_id_and_its_hmac():
    expected = hmac.new(KEY, b"prefchat resume abc123", hashlib.sha256).hexdigest()
    assert resume_token(KEY, "abc123") == f"abc123.{expected}"
    assert owned_session(KEY, resume_token(KEY, "abc123")) == "abc123"


@pytest.mark.parametrize("token", ["abc123", "abc123.", ".abc", "abc123.00", None, 7, "x" * 300,
                                   resume_token(b"\1" * KEY_BYTES, "abc123"), resume_token(KEY, "abc124")[:-1] + "0"])
def test_anything_else_names_no_session(token):
    assert owned_session(KEY, token) is None


def test_the_key_file_is_made_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "home" / "chat-resume.key"
    key = load_key(path)
    assert len(key) == KEY_BYTES and load_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="must hold 32 bytes"):
        load_key(path)
