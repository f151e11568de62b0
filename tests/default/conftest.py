"""The default pack, built once for the tests of tests/default that serve it."""

from pathlib import Path

import pytest

from prefchat.default.build import ensure_default_pack
from prefchat.settings import Settings


@pytest.fixture(scope="session")
def default_pack_dir(tmp_path_factory) -> Path:
    settings = Settings.from_env({"PREFCHAT_HOME": str(tmp_path_factory.mktemp("home"))})
    return ensure_default_pack(settings.packs_dir / "default", settings.embedding_model, settings.cache_dir,
                               progress=False)
