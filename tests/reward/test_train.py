"""Base reward training: the loss, its pieces, and recovery of planted bases."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import subspace_angles

from prefchat.reward.train import (
    Hyperparameters,
    Interactions,
    PairSampler,
    fit,
    ledoit_wolf,
    make_validation_users,
    pairwise_logistic_loss,
    population_coordinates,
    svd_start,
    variance_rotation,
)


def test_loss_at_zero_margin_is_log_two_whatever_the_labels():
    labels = torch.tensor([1.0, 0.0, 0.5, 1.0], dtype=torch.float64)
    loss = pairwise_logistic_loss(torch.zeros(4, dtype=torch.float64), labels, torch.ones(4, dtype=torch.float64))
    assert loss.item() == pytest.approx(np.log(2))


def test_loss_known_values():
    margins = torch.tensor([2.0, -1.0, 0.3], dtype=torch.float64)
    labels = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    weights = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
    expected = (np.log1p(np.exp(-2.0)) + 2 * np.log1p(np.exp(1.0)) + np.log1p(np.exp(0.3))) / 4
    assert pairwise_logistic_loss(margins, labels, weights).item() == pytest.approx(expected, rel=1e-12)


def test_tie_label_is_minimised_at_zero_margin():
    grid = torch.linspace(-3, 3, 601, dtype=torch.float64)
    losses = [pairwise_logistic_loss(m[None], torch.tensor([0.5], dtype=torch.float64), torch.ones(1, dtype=torch.float64)).item() for m in grid]
    assert abs(grid[int(np.argmin(losses))].item()) < 1e-9


def test_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    margins = torch.tensor(rng.normal(size=7) * 2, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor(rng.choice([0.0, 0.5, 1.0], size=7), dtype=torch.float64)
    weights = torch.tensor(rng.uniform(0.5, 2, size=7), dtype=torch.float64)
    pairwise_logistic_loss(margins, labels, weights).backward()
    step = 1e-6
    numeric = []
    for i in range(7):
        up, down = margins.detach().clone(), margins.detach().clone()
        up[i] += step
        down[i] -= step
        numeric.append((pairwise_logistic_loss(up, labels, weights) - pairwise_logistic_loss(down, labels, weights)).item() / (2 * step))
    np.testing.assert_allclose(margins.grad.numpy(), numeric, rtol=1e-6, atol=1e-9)
    # Analytic form: dL/dz = w (sigmoid(z) - y) / sum w.
    analytic = weights * (torch.sigmoid(margins.detach()) - labels) / weights.sum()
    np.testing.assert_allclose(margins.grad.numpy(), analytic.numpy(), rtol=1e-10)


def test_population_coordinates_without_within_item_spread_are_finite():
    coordinates, _, quality = population_coordinates(np.array([0, 0, 1]), np.array([4.0, 4.0, 2.0]), n_items=3)
    assert np.all(np.isfinite(coordinates)) and quality[2] == pytest.approx(10 / 3)


def test_population_coordinates_shrink_sparse_items_towards_the_mean():
    item = np.array([0] * 50 + [1] + [2] * 50)
    value = np.array([3.0, 5.0] * 25 + [5.0] + [1.0, 3.0] * 25)
    coordinates, count, quality = population_coordinates(item, value, n_items=4)
    assert count.tolist() == [50, 1, 50, 0]
    assert value.mean() < quality[1] < 5.0  # one 5-star rating is not a 5-star item
    assert quality[0] == pytest.approx(4.0, abs=0.05) and quality[2] == pytest.approx(2.0, abs=0.05)
    assert np.all(np.isfinite(coordinates))
    assert quality[3] == pytest.approx(value.mean())
    np.testing.assert_allclose(coordinates.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(coordinates.std(0), 1)
    assert coordinates[0, 0] > coordinates[1, 0] > coordinates[3, 0]


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=5, max_value=60), st.integers(min_value=2, max_value=6), st.integers(0, 2**31))
def test_ledoit_wolf_is_symmetric_positive_definite_and_keeps_the_trace(n, p, seed):
    samples = np.random.default_rng(seed).normal(size=(n, p)) * np.arange(1, p + 1)
    shrunk = ledoit_wolf(samples)
    np.testing.assert_allclose(shrunk, shrunk.T)
    assert np.linalg.eigvalsh(shrunk).min() > 0
    centred = samples - samples.mean(0)
    assert np.trace(shrunk) == pytest.approx(np.trace(centred.T @ centred / n))


def test_variance_rotation_diagonalises_and_keeps_rewards():
    rng = np.random.default_rng(3)
    coef = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4)) + rng.normal(size=4)
    features = rng.normal(size=(30, 4))
    q = variance_rotation(coef)
    rotated = coef @ q
    cov = np.cov(rotated, rowvar=False)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0, atol=1e-9)
    assert np.all(np.diff(np.diag(cov)) <= 0)
    assert np.all(rotated.mean(0) >= 0)
    np.testing.assert_allclose(rotated @ (features @ q).T, coef @ features.T, atol=1e-9)


def test_pair_sampler_labels_follow_ratings_and_negatives_are_unrated():
    rng = np.random.default_rng(0)
    user = np.repeat(np.arange(20), 10)
    item = np.concatenate([rng.choice(50, 10, replace=False) for _ in range(20)])
    value = rng.integers(1, 6, size=200).astype(float)
    data = Interactions(20, 50, user, item, value)
    rating = {(u, i): v for u, i, v in zip(user, item, value)}
    u, a, b, label, weight, implicit = PairSampler(data, implicit_weight=0.5).sample(rng)
    explicit = implicit == 0
    assert explicit.any() and (~explicit).any()
    for uu, aa, bb, y in zip(u[explicit], a[explicit], b[explicit], label[explicit]):
        assert (rating[uu, aa] > rating[uu, bb]) == (y == 1.0) and rating[uu, aa] != rating[uu, bb]
    for uu, aa, bb in zip(u[~explicit], a[~explicit], b[~explicit]):
        assert (uu, aa) in rating and (uu, bb) not in rating
    assert np.all(weight[~explicit] == 0.5) and np.all(label[~explicit] == 1.0)


def planted(n_items=150, dim=24, k=3, n_users=400, per_user=40, seed=0):
    """Ratings generated from planted bases ``E W`` and user coefficients."""
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n_items, dim))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    true_features = embeddings @ rng.normal(size=(dim, k)) * 2
    coef = rng.normal(size=(n_users, k)) * 1.5
    user = np.repeat(np.arange(n_users), per_user)
    item = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    utility = np.einsum("nk,nk->n", coef[user], true_features[item]) + rng.normal(scale=0.3, size=len(user))
    return Interactions(n_users, n_items, user, item, utility), embeddings, true_features


def test_svd_start_spans_the_planted_item_space():
    data, _, true_features = planted()
    _, items = svd_start(data.rating_user, data.rating_item, data.rating_value, data.n_users, data.n_items, 3, seed=0)
    assert np.degrees(subspace_angles(items, true_features - true_features.mean(0)).max()) < 25


def test_fit_recovers_planted_bases():
    data, embeddings, true_features = planted()
    users = np.arange(data.n_users)
    validation = make_validation_users(data, users[-40:], n_answers=10, seed=0)
    result = fit(data, embeddings, np.zeros((data.n_items, 0)), users[:-40], validation, Hyperparameters(n_bases=3, l2=1e-4, implicit_weight=0.0), seed=0)
    learned = result.features - result.features.mean(0)
    angle = np.degrees(subspace_angles(learned, true_features - true_features.mean(0)).max())
    assert angle < 20, f"largest principal angle between learned and planted bases: {angle:.1f} degrees"
    # The planted utilities of training users are recovered up to the (unknown) logistic scale.
    train = data.rating_user < data.n_users - 40
    predicted = np.einsum("nk,nk->n", result.coef[data.rating_user[train]], result.features[data.rating_item[train]])
    assert np.corrcoef(predicted, data.rating_value[train])[0, 1] > 0.9
