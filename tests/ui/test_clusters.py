"""Archetype maths of the analyst view: k-means, the silhouette, choosing k."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from prefchat.ui.clusters import choose_k, kmeans, silhouette


def blobs(rng, centres, n=20, scale=0.1):
    """``n`` points around each centre; the blob index of each point."""
    points = np.vstack([rng.normal(c, scale, size=(n, len(c))) for c in centres])
    return points, np.repeat(np.arange(len(centres)), n)


def same_partition(a, b) -> bool:
    """Two labelings split the points the same way (labels may be permuted)."""
    return len(set(zip(a, b))) == len(set(a)) == len(set(b))


def test_kmeans_recovers_well_separated_blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    points, truth = blobs(rng, centres)
    centroids, labels = kmeans(points, 3, rng)
    assert same_partition(labels, truth)
    for j in range(3):
        np.testing.assert_allclose(centroids[j], points[labels == j].mean(0))
        assert np.min(np.linalg.norm(centres - centroids[j], axis=1)) < 0.1


def test_kmeans_with_one_cluster_per_point_has_no_error():
    points = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    centroids, labels = kmeans(points, 4, np.random.default_rng(1))
    np.testing.assert_array_equal(centroids[labels], points)


@settings(max_examples=40, deadline=None)
@given(points=arrays(float, st.tuples(st.integers(3, 25), st.integers(1, 3)), elements=st.floats(-100, 100)),
       k=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_kmeans_ends_at_a_fixed_point(points, k, seed):
    """Each label is a nearest centroid, and each centroid with members is their mean."""
    centroids, labels = kmeans(points, k, np.random.default_rng(seed))
    distances = ((points[:, None] - centroids[None]) ** 2).sum(-1)
    np.testing.assert_allclose(distances[np.arange(len(points)), labels], distances.min(1))
    for j in np.unique(labels):
        np.testing.assert_allclose(centroids[j], points[labels == j].mean(0), atol=1e-9)


def test_kmeans_refuses_more_clusters_than_points():
    with pytest.raises(ValueError, match="k=4"):
        kmeans(np.zeros((3, 2)), 4, np.random.default_rng(0))


def test_silhouette_known_answer():
    points, labels = np.array([[0.0], [1.0], [10.0], [11.0]]), np.array([0, 0, 1, 1])
    # a = 1 for every point; b = 10.5 for the outer points, 9.5 for the inner ones
    expected = ((10.5 - 1) / 10.5 + (9.5 - 1) / 9.5) / 2
    assert silhouette(points, labels) == pytest.approx(expected)
    assert silhouette(points, np.array([0, 1, 0, 1])) < 0  # a bad split scores below zero


def test_silhouette_of_a_lone_point_is_zero():
    points = np.array([[0.0], [1.0], [9.0]])
    # points 0 and 1: a = 1, b = 9 and 8; point 2 alone: 0
    assert silhouette(points, np.array([0, 0, 1])) == pytest.approx(((9 - 1) / 9 + (8 - 1) / 8) / 3)


@settings(max_examples=40, deadline=None)
@given(points=arrays(float, st.tuples(st.integers(2, 20), st.integers(1, 3)), elements=st.floats(-10, 10)),
       seed=st.integers(0, 1000))
def test_silhouette_is_between_minus_one_and_one(points, seed):
    labels = np.random.default_rng(seed).integers(0, 3, len(points))
    labels[:2] = [0, 1]
    assert -1.0 <= silhouette(points, labels) <= 1.0


def test_choose_k_finds_the_number_of_blobs():
    rng = np.random.default_rng(2)
    for n_blobs in (2, 3, 4):
        points, truth = blobs(rng, 6.0 * np.eye(4)[:n_blobs], n=15, scale=0.3)
        centroids, labels = choose_k(points, rng)
        assert len(centroids) == n_blobs and same_partition(labels, truth)


def test_choose_k_keeps_one_cluster_without_structure():
    rng = np.random.default_rng(3)
    centroids, labels = choose_k(np.zeros((10, 2)), rng)
    assert len(centroids) == 1 and not labels.any()
    assert len(choose_k(np.ones((2, 3)), rng)[0]) == 1
