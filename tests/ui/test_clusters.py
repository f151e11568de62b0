"""Archetypes of the analyst view: k-means (scikit-learn) with k chosen by the silhouette."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from prefchat.ui.clusters import choose_k


def blobs(rng, centres, n=20, scale=0.1):
    """``n`` points around each centre; the blob index of each point."""
    points = np.vstack([rng.normal(c, scale, size=(n, len(c))) for c in centres])
    return points, np.repeat(np.arange(len(centres)), n)


def same_partition(a, b) -> bool:
    """Two labelings split the points the same way (labels may be permuted)."""
    return len(set(zip(a, b))) == len(set(a)) == len(set(b))


@settings(max_examples=60, deadline=None)
@given(points=arrays(float, st.tuples(st.integers(3, 25), st.integers(1, 3)), elements=st.floats(-100, 100)),
       seed=st.integers(0, 2**31 - 1))
def test_archetypes_end_at_a_fixed_point_of_kmeans(points, seed):
    """Each label is a nearest centroid, and each centroid is the mean of its members."""
    centroids, labels = choose_k(points, seed)
    assert labels.shape == (len(points),) and set(np.unique(labels)) <= set(range(len(centroids)))
    distances = ((points[:, None] - centroids[None]) ** 2).sum(-1)
    np.testing.assert_allclose(distances[np.arange(len(points)), labels], distances.min(1), rtol=1e-9, atol=1e-6)
    for j in np.unique(labels):
        np.testing.assert_allclose(centroids[j], points[labels == j].mean(0), rtol=1e-9, atol=1e-6)


def test_choose_k_finds_the_number_of_blobs():
    rng = np.random.default_rng(2)
    for n_blobs in (2, 3, 4):
        points, truth = blobs(rng, 6.0 * np.eye(4)[:n_blobs], n=15, scale=0.3)
        centroids, labels = choose_k(points, seed=n_blobs)
        assert len(centroids) == n_blobs and same_partition(labels, truth)


def test_choose_k_keeps_one_cluster_without_structure():
    centroids, labels = choose_k(np.zeros((10, 2)))
    assert len(centroids) == 1 and not labels.any()
    assert len(choose_k(np.ones((2, 3)))[0]) == 1
