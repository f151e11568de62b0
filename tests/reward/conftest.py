from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path):
    """``write(name, text)`` writes ``tmp_path/name`` (``str`` as UTF-8, or ``bytes`` as they are)."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return write
