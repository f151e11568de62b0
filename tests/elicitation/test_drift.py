"""Tastes move: the walk's known answers (timeless = the conjugate posterior, long ago = the prior) and its properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.elicitation.drift import Drift, SetClock, choose_rate, predict, retention
from prefchat.elicitation.known import KnownModel

K = 3


def spd(rng, k=K, scale=1.0):
    a = rng.normal(size=(k, k))
    return scale * (a @ a.T / k + 0.5 * np.eye(k))


@pytest.fixture
def model():
    rng = np.random.default_rng(0)
    return KnownModel(rng.normal(size=(12, K)), rng.normal(size=(12, K)), rng.normal(size=K), spd(rng), spd(rng), tau=2.0)


def drift_of(model, rate):
    return Drift(model.prior_mean, model.prior_cov, model.tau * model.within, rate)


def test_timeless_drift_is_the_conjugate_posterior_of_the_known_items_model(model):
    known = [1, 4, 7, 9]
    times = np.array([30.0, 10.0, 20.0, 10.0])
    mean, cov = drift_of(model, 0.0).posterior(model.emission[known], times, now=100.0)
    expected_mean, expected_cov = model.posterior(known)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cov, expected_cov, rtol=1e-5, atol=1e-6)


def test_evidence_from_long_ago_is_forgotten_and_fresh_evidence_is_not(model):
    known = [2, 3]
    drift = drift_of(model, 1.0)
    mean, cov = drift.posterior(model.emission[known], np.array([0.0, 0.0]), now=1e4)
    np.testing.assert_allclose(mean, model.prior_mean, atol=1e-9)
    np.testing.assert_allclose(cov, model.prior_cov, atol=1e-9)
    fresh_mean, fresh_cov = drift.posterior(model.emission[known], np.array([5.0, 5.0]), now=5.0)
    np.testing.assert_allclose(fresh_mean, model.posterior(known)[0], rtol=1e-5, atol=1e-6)  # same instant: no walk
    no_evidence = drift.posterior(np.zeros((0, K)), np.zeros(0), now=3.0)
    np.testing.assert_allclose(no_evidence[0], model.prior_mean)
    np.testing.assert_allclose(no_evidence[1], model.prior_cov, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 5.0), st.floats(0.0, 5.0), st.floats(0.0, 3.0))
def test_the_filter_ends_as_its_last_posterior_aged_by_predict(first, wait, rate):
    """Filtering to ``now`` equals filtering to the last observation, then :func:`predict` over the wait;
    and the covariance only grows while no evidence comes (towards the prior's)."""
    rng = np.random.default_rng(1)
    prior_mean, prior_cov, noise = rng.normal(size=K), spd(rng), spd(rng, scale=0.5)
    drift = Drift(prior_mean, prior_cov, noise, rate)
    y, times = rng.normal(size=(2, K)), np.array([0.0, first])
    at_last = drift.posterior(y, times, now=first)
    later = drift.posterior(y, times, now=first + wait)
    aged = predict(*at_last, prior_mean, prior_cov, wait, rate)
    np.testing.assert_allclose(later[0], aged[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(later[1], aged[1], rtol=1e-6, atol=1e-8)
    assert np.linalg.eigvalsh(later[1] - at_last[1]).min() >= -1e-9  # S grew (in the Loewner order)
    assert np.linalg.eigvalsh(prior_cov - later[1]).min() >= -1e-9   # and stays below the prior


def test_order_of_simultaneous_observations_does_not_matter(model):
    drift = drift_of(model, 0.3)
    times = np.array([1.0, 1.0, 2.0])
    a = drift.posterior(model.emission[[0, 5, 6]], times, now=4.0)
    b = drift.posterior(model.emission[[5, 0, 6]], times, now=4.0)
    np.testing.assert_allclose(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])


def test_retention_and_the_clock():
    assert retention(0.0, 2.0) == 1.0 and retention(1.0, 0.0) == 1.0
    assert retention(2.0, 0.5) == pytest.approx(np.exp(-1.0))
    clock = SetClock(10.0)
    assert clock() == 10.0
    clock.now += 5
    assert clock() == 15.0


def test_bad_input_is_refused(model):
    with pytest.raises(ValueError, match="non-negative"):
        retention(-1.0, 1.0)
    with pytest.raises(ValueError, match="rate"):
        drift_of(model, -0.1)
    with pytest.raises(ValueError, match="after now"):
        drift_of(model, 0.1).posterior(model.emission[[1]], np.array([5.0]), now=4.0)
    with pytest.raises(ValueError, match="observations for"):
        drift_of(model, 0.1).posterior(model.emission[[1, 2]], np.array([5.0]), now=6.0)


def test_choose_rate_forgets_an_old_taste_when_the_later_items_follow_the_new_one():
    """Two tastes: items 0-9 load on coefficient 0, items 10-19 on coefficient 1. Users knew six
    items of the first taste long ago and two of the second lately; what they meet next is of the
    second taste. Timeless, the old taste outweighs the new; a positive rate lets the new one win."""
    emission = np.zeros((20, 2))
    emission[:10, 0], emission[10:, 1] = 1.0, 1.0
    features = emission.copy()
    users = [(np.array([0, 1, 2, 3, 4, 5, 10, 11]), np.array([0.0] * 6 + [99.0, 99.0]), 100.0, np.arange(12, 20))] * 2
    rate, table = choose_rate(emission, features, np.zeros(2), np.eye(2), 0.5 * np.eye(2), span=100.0, users=users, k=4)
    assert table[0]["rate"] == 0.0 and table[0]["recall@4"] == 0.0
    assert rate > 0 and max(row["recall@4"] for row in table) == 1.0
