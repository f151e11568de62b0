r"""The candidate pool: the items worth asking a new user about.

Answerability binds: questions about obscure items mostly get "don't know", so most of the pool is
the most popular items. A share is kept for items that are diverse in :math:`\phi`, so that the
questions can reach directions of taste the popular items do not span; and where the items carry
tastes (a catalog's genres), each taste keeps a few of its best-known items in the pool, so that a
person whose taste the head never shows (documentaries, westerns) can be asked about it at all.
"""

from __future__ import annotations

import numpy as np

from .metrics import top_k

__all__ = ["POOL_PER_TASTE", "candidate_pool", "covering"]

POOL_PER_TASTE = 3
"""How many of each taste's best-known items the pool holds at least (where it has that many among
the items the pool may reach)."""


def _standardiser(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale that centre each base over the catalog and scale it to unit variance
    (constant bases: scale 1, left at zero), applied as ``(x - mean) / scale`` to the rows needed."""
    scale = features.std(axis=0)
    return features.mean(axis=0), np.where(scale > 0, scale, 1.0)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r""":math:`D_{ij} = \lVert a_i - b_j \rVert^2`, shape (len(a), len(b))."""
    return np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def covering(popular: np.ndarray, reach: np.ndarray, tastes: np.ndarray, per_taste: int = POOL_PER_TASTE) -> np.ndarray:
    """``popular`` (item indices, most popular first) with each taste held by at least ``per_taste`` of its
    items, or by all it has in ``popular`` and ``reach`` (the items the pool may reach, most popular first).

    A taste held by fewer gets its most popular items of ``reach`` in, each in the place of the least
    popular item of ``popular`` that no taste needs (one of the first ``per_taste`` of a taste's items),
    so that the length stays. ``tastes``: (n_items, n_tastes) bool, item i carries taste t.
    """
    tastes = np.asarray(tastes, dtype=bool)
    chosen = [int(i) for i in popular]
    extras: list[int] = []
    for t in range(tastes.shape[1]):
        held = int(tastes[chosen + extras, t].sum())
        wanted = [int(i) for i in reach if tastes[i, t] and int(i) not in extras][: max(0, per_taste - held)]
        extras += wanted
    if not extras:
        return np.asarray(chosen, dtype=np.intp)
    needed = set()
    for t in range(tastes.shape[1]):
        needed.update([i for i in chosen + extras if tastes[i, t]][:per_taste])
    placed = 0
    for _ in extras:  # each in the place of the least popular item no taste needs; none left, the rest stay out
        spare = next((p for p in range(len(chosen) - 1, -1, -1) if chosen[p] not in needed), None)
        if spare is None:
            break
        chosen.pop(spare)
        placed += 1
    return np.asarray(chosen + extras[:placed], dtype=np.intp)


def candidate_pool(
    features: np.ndarray,
    popularity: np.ndarray,
    size: int = 300,
    diverse_share: float = 0.2,
    depth: float = 3.0,
    rng: np.random.Generator | int | None = None,
    tastes: np.ndarray | None = None,
) -> np.ndarray:
    r"""Item indices to draw questions from: the most popular items plus some diverse in phi.

    1. The ``size - n_diverse`` most popular items, ``n_diverse = round(diverse_share * size)``;
       with ``tastes``, :func:`covering` them: each taste held by :data:`POOL_PER_TASTE` of its
       best-known items among the ``depth * size`` most popular.
    2. ``n_diverse`` more by k-means++ seeding (Arthur & Vassilvitskii, 2007) over standardised
       features: each next item is drawn with probability

       .. math:: P(i) \propto D(i)^2, \qquad D(i) = \min_{j \in \text{pool}} \lVert z_i - z_j \rVert,

       among the ``depth * size`` most popular items not yet in the pool, so that the diverse
       items stay reasonably answerable too.

    Parameters
    ----------
    features : (n_items, n_bases) array
    popularity : (n_items,) array, e.g. log rating counts; larger is more popular
    size : int, the pool size (all items if there are fewer)
    diverse_share : float in [0, 1]
    depth : float >= 1, how deep in the popularity ranking diverse items may come from
    rng : numpy Generator, seed or None
    tastes : (n_items, n_tastes) bool or None, the items' tastes (e.g. a catalog's genres)

    Returns
    -------
    (size,) int array: the popular items by decreasing popularity (then the tastes' items brought in),
    then the diverse ones in the order they were drawn.
    """
    features = np.asarray(features, dtype=float)
    popularity = np.asarray(popularity, dtype=float)
    if features.ndim != 2:
        raise ValueError(f"features must be (n_items, n_bases), got shape {features.shape}")
    n_items = features.shape[0]
    if popularity.shape != (n_items,) or not np.all(np.isfinite(popularity)):
        raise ValueError(f"popularity must be finite with shape ({n_items},), got shape {popularity.shape}")
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if not 0.0 <= diverse_share <= 1.0:
        raise ValueError(f"diverse_share must lie in [0, 1], got {diverse_share}")
    if not depth >= 1.0:
        raise ValueError(f"depth must be at least 1, got {depth}")
    rng = np.random.default_rng(rng)

    size = min(size, n_items)
    ranking = top_k(popularity, max(size, int(depth * size)))  # argsort(-popularity, stable)[:that], not a full sort
    n_popular = size - round(diverse_share * size)
    popular = ranking[:n_popular]
    if tastes is not None and n_popular:
        popular = covering(popular, ranking[n_popular:], tastes)
    pool = list(popular)
    reach = ranking[~np.isin(ranking, popular)]
    mean, scale = _standardiser(features)
    z_reach = (features[reach] - mean) / scale  # standardised over the catalog, computed for these rows only
    z_pool = (features[popular] - mean) / scale
    available = np.ones(reach.size, dtype=bool)
    if not pool:  # no popular part: start from the most popular item, as k-means++ starts from one
        pool.append(reach[0])
        z_pool = z_reach[:1]
        available[0] = False
    nearest = _squared_distances(z_reach, z_pool).min(axis=1)
    while len(pool) < size:
        weight = np.where(available, nearest, 0.0)
        if weight.sum() == 0:  # every remaining item coincides with one in the pool
            weight = available.astype(float)
        pick = rng.choice(reach.size, p=weight / weight.sum())
        available[pick] = False
        pool.append(reach[pick])
        nearest = np.minimum(nearest, _squared_distances(z_reach, z_reach[[pick]])[:, 0])
    return np.asarray(pool, dtype=np.intp)
