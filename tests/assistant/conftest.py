"""Fixtures of the conversation engine's tests: a tiny synthetic pack, a fake embedder, a store.

The pack has 60 items ("Silent Harbor", ...), each tagged with one or two of six genres, and
K = 4 learned bases computed from the fake embeddings of the item texts, plus the popularity
and quality coordinates. The fake embedder is a hashed bag of words (crudely stemmed, so that
"musicals" embeds exactly as "musical"): deterministic, instant, and similar texts share words.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from prefchat.assistant.api import Assistant
from prefchat.reward.pack import Axis, Item, Pack, load_pack, save_pack
from prefchat.storage import open_store

DIM = 32
N_LEARNED = 4
GENRES = ["comedy", "drama", "horror", "musical", "action", "romance"]
ADJECTIVES = ["Silent", "Crimson", "Golden", "Hidden", "Broken", "Electric", "Frozen", "Wild", "Last", "Secret"]
NOUNS = ["Harbor", "Garden", "Signal", "Kingdom", "Voyage", "Mirror"]


def _word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIM)


def fake_embed(texts) -> np.ndarray:
    """Unit-norm (n, DIM) float32: the normalised sum of one random vector per (stemmed) word."""
    rows = []
    for text in texts:
        words = [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in re.findall(r"[a-z0-9]+", text.lower())]
        vector = sum((_word_vector(w) for w in words), np.zeros(DIM)) if words else np.eye(DIM)[0]
        rows.append(vector / np.linalg.norm(vector))
    return np.asarray(rows, dtype=np.float32)


def tiny_pack(name: str = "tiny", version: str = "1", seed: int = 0, n_items: int = 60) -> Pack:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n_items):
        title = f"{ADJECTIVES[i // len(NOUNS) % len(ADJECTIVES)]} {NOUNS[i % len(NOUNS)]}"
        tags = tuple(dict.fromkeys([GENRES[i % len(GENRES)], GENRES[(i // len(NOUNS)) % len(GENRES)]]))
        items.append(Item(f"m{i:03d}", title, f"{title}: a {' and '.join(tags)} story.", tags))
    embeddings = fake_embed([item.text for item in items])
    head_weight = rng.standard_normal((DIM, N_LEARNED))
    head_bias = np.zeros(N_LEARNED)
    popularity = rng.integers(5, 500, n_items).astype(float)
    quality = rng.uniform(2.5, 4.5, n_items)
    population = np.column_stack([np.log(popularity), quality])
    population = (population - population.mean(0)) / population.std(0)
    features = np.hstack([embeddings @ head_weight + head_bias, population])
    n_bases = features.shape[1]
    return Pack(
        items=items,
        embeddings=embeddings,
        features=features,
        head_weight=head_weight,
        head_bias=head_bias,
        new_item_population=population.mean(0),
        prior_mean=np.r_[np.zeros(N_LEARNED), 0.3, 0.3],
        prior_cov=np.eye(n_bases),
        exposure=np.zeros(n_bases),
        popularity=popularity,
        quality=quality,
        descriptors=list(GENRES),
        descriptor_embeddings=fake_embed(GENRES),
        axes=[Axis(k, f"{GENRES[k]} vs {GENRES[k + 1]}", (GENRES[k],), (GENRES[k + 1],)) for k in range(N_LEARNED)],
        manifest={
            "name": name,
            "version": version,
            "descriptor_source": "tags",
            "groups": None,
            "population_coordinates": ["popularity", "quality"],
            "hyperparameters": {"beta": 1.0, "prior_scale": 1.0},
            "embedding_model": {"name": "fake", "path": "", "checksum": ""},
        },
    )


def planted_choice(pack: Pack, coef: np.ndarray, turn) -> str:
    """What a user with coefficients ``coef`` answers to a QuestionTurn."""
    a, b = (pack.features[pack.index_of(card.item_id)] for card in (turn.item_a, turn.item_b))
    return "a" if coef @ (a - b) > 0 else "b"


@pytest.fixture(scope="session")
def make_pack():
    """``make_pack(name=, version=, seed=, n_items=)``: a tiny synthetic Pack in memory."""
    return tiny_pack


@pytest.fixture(scope="session")
def embed():
    return fake_embed


@pytest.fixture(scope="session")
def choose(pack):
    """``choose(coef, turn)``: the answer of a user with coefficients ``coef``."""
    return lambda coef, turn: planted_choice(pack, coef, turn)


@pytest.fixture(scope="session")
def pack_dir(tmp_path_factory) -> Path:
    return save_pack(tiny_pack(), tmp_path_factory.mktemp("packs") / "tiny")


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
def conversation(pack, store) -> Assistant:
    return Assistant(pack, store, fake_embed)


@pytest.fixture
def planted(pack) -> np.ndarray:
    """A user who loves the first learned base and dislikes the second."""
    coef = np.zeros(pack.n_bases)
    coef[:2] = [3.0, -3.0]
    return coef
