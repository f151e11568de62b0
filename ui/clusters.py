r"""Archetypes: scikit-learn's k-means (k-means++ start), and k chosen by the mean silhouette.

Used only by the analyst view's population tab (:mod:`prefchat.ui.analyst`): no serving path
(the chat, the REST API, the Python API) imports it.

k-means minimises the within-cluster sum of squares :math:`W = \sum_i \lVert x_i - c_{z_i} \rVert^2`
(Lloyd's iterations from a k-means++ start, Arthur and Vassilvitskii 2007); the silhouette of a
point is :math:`s(i) = (b(i) - a(i)) / \max(a(i), b(i))`, with :math:`a(i)` the mean distance to the
other points of its cluster and :math:`b(i)` the smallest mean distance to another cluster's
(Rousseeuw 1987).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score

__all__ = ["choose_k"]


def choose_k(
    points: np.ndarray, seed: int = 0, ks: Sequence[int] = range(2, 7), n_init: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Archetypes: k-means with the ``k`` of ``ks`` of largest mean silhouette.

    Each ``k`` keeps the best of ``n_init`` k-means++ seedings (smallest within-cluster sum of
    squares), drawn from ``seed``, each run until no label changes. Fewer than three points, or no
    ``k`` with a positive silhouette, give one cluster.

    Returns
    -------
    centroids : (k, d) array
    labels : (n,) int array, values in 0..k-1
    """
    points = np.asarray(points, dtype=float)
    best, best_score = (points.mean(axis=0, keepdims=True), np.zeros(len(points), dtype=int)), 0.0
    for k in (k for k in ks if k < len(points)):
        with warnings.catch_warnings():  # fewer distinct points than k: fewer clusters, said by the silhouette below
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = KMeans(n_clusters=k, n_init=n_init, tol=0.0, random_state=seed).fit(points)  # tol 0: to a fixed point
        labels = fitted.labels_
        if 2 <= len(np.unique(labels)) < len(points) and (score := silhouette_score(points, labels)) > best_score:
            best, best_score = (fitted.cluster_centers_, labels), score
    return best
