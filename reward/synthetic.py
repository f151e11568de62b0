"""A synthetic pack of any size, for measuring how prefchat scales with the catalog.

No data and no embedding model: features, embeddings and popularity are drawn at random, with
the shapes of a MovieLens pack (K learned bases plus the "popularity" and "quality"
coordinates, 384-wide embeddings, tag descriptors, a "watch" objective with base rates). The
pack is written by the real :func:`~prefchat.reward.pack.save_pack`, so it loads and serves like
any other; its numbers mean nothing about taste. Used by ``bench/bench_catalog_scale.py``.
"""

from __future__ import annotations

import numpy as np

from .pack import Axis, Item, Pack

__all__ = ["synthetic_pack"]

TAGS = ("drama", "comedy", "thriller", "action", "romance", "adventure", "crime", "horror", "sci-fi", "fantasy",
        "children", "animation", "mystery", "documentary", "war", "musical", "western", "film-noir",
        "atmospheric", "funny", "superhero", "politics")
"""The descriptors of a synthetic pack: each item carries a few of them as tags."""
TRAIN_USERS = 500
"""Training users the synthetic popularity counts are drawn for."""


def _unit_rows(rng: np.random.Generator, n: int, d: int, chunk: int = 1 << 16) -> np.ndarray:
    """(n, d) float32 rows drawn uniformly on the unit sphere, drawn in chunks to bound memory."""
    rows = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, chunk):
        block = rng.standard_normal((min(chunk, n - start), d), dtype=np.float32)
        rows[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return rows


def synthetic_pack(n_items: int, n_learned: int = 32, dim: int = 384, seed: int = 0) -> Pack:
    """A random pack of ``n_items`` items (see the module docstring), ready for :func:`~prefchat.reward.pack.save_pack`.

    Popularity counts follow a power law, :math:`c_i = \\lfloor n_\\text{train}\\, u_i^4 \\rfloor`
    with :math:`u_i` uniform, so that a few items are known to most users and most to few; the
    features are standard normal learned bases followed by the standardised log counts and a
    random quality.
    """
    if n_items < 2:
        raise ValueError(f"a synthetic pack needs at least 2 items, got {n_items}")
    rng = np.random.default_rng(seed)
    popularity = np.floor(TRAIN_USERS * rng.random(n_items) ** 4)
    quality = np.round(rng.uniform(1.0, 5.0, n_items), 2)
    log_count = np.log1p(popularity)
    population = np.column_stack([(log_count - log_count.mean()) / log_count.std(), (quality - 3.0) / 1.2])
    features = np.hstack([rng.standard_normal((n_items, n_learned)), population])
    n_bases = features.shape[1]
    tag_counts = rng.integers(1, 4, n_items)
    tag_picks = rng.integers(0, len(TAGS), (n_items, 3))
    items = [Item(str(i), f"Synthetic item {i}", f"Synthetic item {i}. Tags: {', '.join(tags)}", tags)
             for i, tags in enumerate(tuple(dict.fromkeys(TAGS[j] for j in row[:count]))
                                      for row, count in zip(tag_picks, tag_counts, strict=True))]
    manifest = {
        "name": f"synthetic-{n_items}",
        "version": "1",
        "population_coordinates": ["popularity", "quality"],
        "descriptor_source": "tags",
        "answerable": "known",
        "hyperparameters": {"n_bases": n_learned, "prior_scale": 1.0, "watch_prior_scale": 4.0, "question_size": 2,
                            "beta": 0.0, "watch_beta": 0.2, "watch_stated_beta": 0.5, "exposure_discount": 0.0},
        "split": {"seed": seed, "train": [f"u{u}" for u in range(TRAIN_USERS)], "validation": [], "test": []},
        "data": {"n_users": TRAIN_USERS, "n_ratings": int(popularity.sum()), "n_pairs": 0, "synthetic": True},
    }
    return Pack(
        items=items,
        embeddings=_unit_rows(rng, n_items, dim),
        features=features,
        head_weight=rng.standard_normal((dim, n_learned)) / np.sqrt(dim),
        head_bias=np.zeros(n_learned),
        new_item_population=population.mean(0),
        prior_mean=np.zeros(n_bases),
        prior_cov=np.eye(n_bases),
        exposure=np.zeros(n_bases),
        popularity=popularity,
        quality=quality,
        descriptors=list(TAGS),
        descriptor_embeddings=_unit_rows(rng, len(TAGS), dim),
        axes=[Axis(k, f"synthetic axis {k}", (TAGS[k % len(TAGS)],), (TAGS[(k + 1) % len(TAGS)],)) for k in range(n_learned)],
        manifest=manifest,
    )
