r"""Archetypes: k-means with a k-means++ start, and k chosen by the mean silhouette.

Pure numpy, used only by the analyst view's population tab (:mod:`prefchat.ui.analyst`): no
serving path (the chat, the REST API, the Python API) imports it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ClusteringError", "choose_k", "kmeans", "silhouette"]


class ClusteringError(RuntimeError):
    """k-means did not settle within its iteration budget."""


def _sq_distances(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """(n, k) squared Euclidean distances of every point to every centroid."""
    return ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)


def _kmeans_plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    r"""k-means++ seeds: each next centroid is drawn with probability :math:`\propto D(x)^2`,
    the squared distance to the nearest centroid drawn so far (Arthur and Vassilvitskii, 2007)."""
    centroids = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        nearest = _sq_distances(points, np.asarray(centroids)).min(axis=1)
        total = nearest.sum()
        p = nearest / total if total > 0 else None  # all points on the centroids: draw uniformly
        centroids.append(points[rng.choice(len(points), p=p)])
    return np.array(centroids, dtype=float)


def kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, max_iter: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    r"""Lloyd's k-means from a k-means++ start.

    Minimises the within-cluster sum of squares

    .. math:: W = \sum_i \lVert x_i - c_{z_i} \rVert^2

    by alternating :math:`z_i = \arg\min_j \lVert x_i - c_j \rVert^2` and
    :math:`c_j = \mathrm{mean}\{x_i : z_i = j\}` until no label changes; neither step increases
    :math:`W`. A centroid left without points keeps its place.

    Parameters
    ----------
    points : (n, d) array
    k : int, 1 <= k <= n
    rng : numpy Generator, for the seeding
    max_iter : int

    Returns
    -------
    centroids : (k, d) array
    labels : (n,) int array, values in 0..k-1

    Raises
    ------
    ClusteringError
        If labels still change after ``max_iter`` iterations.
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or not 1 <= k <= len(points):
        raise ValueError(f"k={k!r} must be between 1 and the number of points of a 2-d array, shape {points.shape}")
    centroids = _kmeans_plus_plus(points, k, rng)
    labels = np.full(len(points), -1)
    for _ in range(max_iter):
        nearest = _sq_distances(points, centroids).argmin(axis=1)
        if np.array_equal(nearest, labels):
            return centroids, labels
        labels = nearest
        for j in range(k):
            members = points[labels == j]
            if len(members):
                centroids[j] = members.mean(axis=0)
    raise ClusteringError(f"k-means with k={k} on {len(points)} points still moved after {max_iter} iterations")


def silhouette(points: np.ndarray, labels: np.ndarray) -> float:
    r"""Mean silhouette of a clustering (Rousseeuw, 1987).

    .. math::

        s(i) = \frac{b(i) - a(i)}{\max(a(i), b(i))}

    with :math:`a(i)` the mean distance from :math:`x_i` to the other points of its cluster and
    :math:`b(i)` the smallest mean distance to the points of another cluster; :math:`s(i) = 0`
    for a point alone in its cluster or when :math:`a(i) = b(i) = 0`.

    Parameters
    ----------
    points : (n, d) array
    labels : (n,) int array with at least two distinct values

    Returns
    -------
    float in [-1, 1]
    """
    points = np.asarray(points, dtype=float)
    _, labels = np.unique(labels, return_inverse=True)
    if labels.max() < 1:
        raise ValueError("the silhouette needs at least two clusters")
    distances = np.sqrt(np.maximum(_sq_distances(points, points), 0.0))
    members = np.eye(labels.max() + 1)[labels]  # (n, k) one-hot
    sums, sizes = distances @ members, members.sum(axis=0)
    rows = np.arange(len(points))
    own = sizes[labels]
    a = np.divide(sums[rows, labels], own - 1, out=np.zeros(len(points)), where=own > 1)
    others = sums / sizes
    others[rows, labels] = np.inf
    b = others.min(axis=1)
    scale = np.maximum(a, b)
    s = np.divide(b - a, scale, out=np.zeros(len(points)), where=(own > 1) & (scale > 0))
    return float(s.mean())


def choose_k(
    points: np.ndarray, rng: np.random.Generator, ks: Sequence[int] = range(2, 7), n_init: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Archetypes: k-means with the ``k`` of ``ks`` of largest mean silhouette.

    Each ``k`` keeps the best of ``n_init`` seedings (smallest within-cluster sum of squares).
    Fewer than three points, or no ``k`` with a positive silhouette, give one cluster.

    Returns
    -------
    centroids : (k, d) array
    labels : (n,) int array
    """
    points = np.asarray(points, dtype=float)
    best, best_score = (points.mean(axis=0, keepdims=True), np.zeros(len(points), dtype=int)), 0.0
    for k in (k for k in ks if k < len(points)):
        runs = [kmeans(points, k, rng) for _ in range(n_init)]
        centroids, labels = min(runs, key=lambda run: _sq_distances(points, run[0]).min(axis=1).sum())
        if len(np.unique(labels)) > 1 and (score := silhouette(points, labels)) > best_score:
            best, best_score = (centroids, labels), score
    return best
