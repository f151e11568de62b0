from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from prefchat.reward.pack import Axis, Item, Pack


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


@pytest.fixture(scope="session")
def random_pack(small_pack):
    """``random_pack(n_items=12, n_learned=3, n_population=2, seed=0)``: tests/conftest.py's
    :func:`small_pack` with random values in every array, and items whose text needs escaping."""

    def random_pack(n_items=12, n_learned=3, n_population=2, seed=0) -> Pack:
        rng = np.random.default_rng(seed)
        n_bases = n_learned + n_population
        cov = rng.normal(size=(n_bases, n_bases))
        items = [Item(f"i{i}", f"Title {i} ✓", f"text, with \"quotes\"\nand lines {i}", ("drama", f"t{i % 3}"))
                 for i in range(n_items)]
        pack = small_pack(items, n_learned=n_learned, seed=seed, manifest={
            "name": "tiny", "hyperparameters": {"prior_scale": 0.5},
            "population_coordinates": ["popularity", "quality"][:n_population]})
        return replace(
            pack,
            features=rng.normal(size=(n_items, n_bases)),
            head_weight=rng.normal(size=pack.head_weight.shape),
            head_bias=rng.normal(size=n_learned),
            new_item_population=rng.normal(size=n_population),
            prior_mean=rng.normal(size=n_bases),
            prior_cov=cov @ cov.T + np.eye(n_bases),
            exposure=rng.normal(size=n_bases),
            popularity=rng.integers(0, 50, n_items).astype(float),
            quality=rng.uniform(1, 5, n_items),
            axes=[Axis(k, f"a{k} vs b{k}", (f"a{k}",), (f"b{k}",)) for k in range(n_learned)],
        )

    return random_pack
