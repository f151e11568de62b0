r"""The candidate pool: the items worth asking a new user about.

Answerability binds: questions about obscure items mostly get "don't know", so most of the pool is
the most popular items. A share is kept for items that are diverse in :math:`\phi`, so that the
questions can reach directions of taste the popular items do not span.
"""

from __future__ import annotations

import numpy as np

from .metrics import top_k

__all__ = ["candidate_pool"]


def _standardiser(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale that centre each base over the catalog and scale it to unit variance
    (constant bases: scale 1, left at zero), applied as ``(x - mean) / scale`` to the rows needed."""
    scale = features.std(axis=0)
    return features.mean(axis=0), np.where(scale > 0, scale, 1.0)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r""":math:`D_{ij} = \lVert a_i - b_j \rVert^2`, shape (len(a), len(b))."""
    return np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def candidate_pool(
    features: np.ndarray,
    popularity: np.ndarray,
    size: int = 300,
    diverse_share: float = 0.2,
    depth: float = 3.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    r"""Item indices to draw questions from: the most popular items plus some diverse in phi.

    1. The ``size - n_diverse`` most popular items, ``n_diverse = round(diverse_share * size)``.
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

    Returns
    -------
    (size,) int array: the popular items by decreasing popularity, then the diverse ones in the
    order they were drawn.
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
    pool = list(ranking[:n_popular])
    reach = ranking[n_popular:]
    mean, scale = _standardiser(features)
    z_reach = (features[reach] - mean) / scale  # standardised over the catalog, computed for these rows only
    z_pool = (features[ranking[:n_popular]] - mean) / scale
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
