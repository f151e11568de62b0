"""Fixtures of the conversation engine's tests: the small pack saved and loaded, a store, a planted user.

The pack is tests/conftest.py's :func:`small_pack` (60 films tagged with one or two of six genres,
K = 4 learned bases from the fake embeddings of their texts, then popularity and quality), named
"tiny"; the embedder is the shared fake one (fixture ``embed``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prefchat.assistant.api import Assistant
from prefchat.reward.pack import Pack, load_pack, save_pack
from prefchat.storage import open_store


def planted_choice(pack: Pack, coef: np.ndarray, turn) -> str:
    """What a user with coefficients ``coef`` answers to a QuestionTurn."""
    a, b = (pack.features[pack.index_of(card.item_id)] for card in (turn.item_a, turn.item_b))
    return "a" if coef @ (a - b) > 0 else "b"


@pytest.fixture(scope="session")
def choose(pack):
    """``choose(coef, turn)``: the answer of a user with coefficients ``coef``."""
    return lambda coef, turn: planted_choice(pack, coef, turn)


@pytest.fixture(scope="session")
def pack_dir(tmp_path_factory, small_pack) -> Path:
    return save_pack(small_pack(manifest={"name": "tiny"}), tmp_path_factory.mktemp("packs") / "tiny")


@pytest.fixture(scope="session")
def pack(pack_dir) -> Pack:
    return load_pack(pack_dir)


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'prefchat.sqlite'}"


@pytest.fixture
def store(db_url):
    with open_store(db_url) as store:
        yield store


@pytest.fixture
def conversation(pack, store, embed) -> Assistant:
    return Assistant(pack, store, embed)


@pytest.fixture
def planted(pack) -> np.ndarray:
    """A user who loves the first learned base and dislikes the second."""
    coef = np.zeros(pack.n_bases)
    coef[:2] = [3.0, -3.0]
    return coef
