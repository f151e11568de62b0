"""The social prior: friends as pseudo-items of the known-items posterior, by known answers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.elicitation.known import KnownModel, components, population, spectral_bases, user_coefficients
from prefchat.elicitation.social import (
    SocialEvidence,
    SocialModel,
    anomalous_items,
    different_friend,
    discovery_item,
    friends_items,
    friends_mean,
    friends_term,
    friends_votes,
    item_lists,
    social_count,
    social_evidence,
    with_discovery,
)


def _model(seed=0, n_users=40, n_items=30, tau=0.8) -> tuple[KnownModel, np.ndarray]:
    x = (np.random.default_rng(seed).random((n_users, n_items)) < 0.25).astype(float)
    emission, features = spectral_bases(*components(x), 4.0)
    return KnownModel(features, emission, *population(x, emission), tau=tau), x


def test_friends_are_pseudo_items_of_the_conjugate_update():
    model, x = _model()
    theta = user_coefficients(x, model.emission)
    evidence = social_evidence(theta[[1, 2, 5]], np.array([1.0, 2.0, 1.0]), trust=3.0, spread=0.5)
    assert evidence is not None
    assert evidence.count == pytest.approx(3.0 * 4.0**0.5)
    np.testing.assert_allclose(evidence.mean, (theta[1] + 2 * theta[2] + theta[5]) / 4, atol=1e-12)
    known = [2, 7, 11]
    mean, cov = model.posterior(known, evidence)
    prior_precision, likelihood = np.linalg.inv(model.prior_cov), np.linalg.inv(model.within) / model.tau
    precision = prior_precision + (len(known) + evidence.count) * likelihood
    np.testing.assert_allclose(cov, np.linalg.inv(precision), rtol=1e-6, atol=1e-10)
    total = model.emission[known].sum(0, dtype=np.float64) + evidence.count * evidence.mean
    np.testing.assert_allclose(mean, np.linalg.solve(precision, prior_precision @ model.prior_mean + likelihood @ total),
                               rtol=1e-5, atol=1e-9)


def test_without_friends_the_prior_is_todays_exactly():
    model, _ = _model(1)
    assert social_evidence(np.zeros((0, model.n_bases)), np.zeros(0), trust=4.0, spread=1.0) is None
    assert social_evidence(np.ones((2, model.n_bases)), np.ones(2), trust=0.0, spread=1.0) is None
    for known in ([], [3], [1, 4, 9]):
        assert np.array_equal(model.scores(known, None), model.scores(known))
        assert np.array_equal(model.posterior_mean(known, None), model.posterior_mean(known))


def test_much_trust_puts_the_prior_mean_on_the_friends_mean():
    model, x = _model(2)
    theta = user_coefficients(x, model.emission)
    target = friends_mean(theta[:4], np.ones(4))
    mean, cov = model.posterior([], SocialEvidence(1e7, target))
    np.testing.assert_allclose(mean, target, rtol=1e-4, atol=1e-6)
    assert np.trace(cov) < 1e-3 * np.trace(model.prior_cov)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 50.0), st.floats(0.0, 1.0), st.lists(st.floats(0.1, 5.0), min_size=1, max_size=8))
def test_the_count_grows_with_trust_and_with_friends_as_the_spread_says(trust, spread, weights):
    total = sum(weights)
    assert social_count(trust, spread, total) == pytest.approx(trust * total**spread)
    assert social_count(trust, spread, total + 1.0) >= social_count(trust, spread, total)
    assert social_count(trust, 0.0, total) == pytest.approx(trust)  # spread 0: the number of friends does not matter


def test_the_model_reads_members_then_profiles_and_counts_the_unknown():
    model, x = _model(3)
    theta = user_coefficients(x, model.emission)
    members = tuple(f"u{i}" for i in range(len(theta)))
    social = SocialModel(members, theta, trust=2.0, spread=1.0)
    profile = np.full(model.n_bases, 0.5)
    evidence, unknown = social.evidence({"u1": 1.0, "stranger": 1.0, "p": 3.0}, profiles={"p": profile})
    assert unknown == 1 and evidence is not None
    assert evidence.count == pytest.approx(2.0 * 4.0)
    np.testing.assert_allclose(evidence.mean, (theta[1].astype(np.float32) + 3 * profile) / 4, rtol=1e-6)
    assert social.evidence({"stranger": 1.0}) == (None, 1)


def test_friends_items_counts_each_friend_once_per_item():
    scores = friends_items([np.array([0, 2, 2]), np.array([2, 3])], [1.0, 0.5], n_items=5)
    np.testing.assert_allclose(scores, [1.0, 0.0, 1.5, 0.5, 0.0])


def test_anomalous_items_are_the_bottom_half_of_the_held_out_by_the_users_own_scores():
    scores = np.array([0.9, 0.1, 0.5, 0.3, 0.8, 0.2])
    np.testing.assert_array_equal(anomalous_items(np.array([0, 1, 2, 3, 4]), scores), [1, 3])
    np.testing.assert_array_equal(anomalous_items(np.array([4]), scores), [])


def test_doubt_is_the_posterior_z_score_of_each_items_score_against_the_population():
    model, x = _model(4)
    theta = user_coefficients(x, model.emission)
    evidence = social_evidence(theta[:3], np.ones(3), trust=2.0, spread=1.0)
    known = [1, 5]
    mean, cov = model.posterior(known, evidence)
    features = model.features.astype(np.float64)
    expected = features @ (mean - model.prior_mean) / np.sqrt(np.einsum("ik,kl,il->i", features, cov, features))
    np.testing.assert_allclose(model.doubt(known, evidence), expected, rtol=1e-3, atol=1e-4)
    lift = model.lift(theta[7])
    friend, average = features @ theta[7], features @ model.prior_mean
    positive = (friend > 0) & (average > 0)  # elsewhere floored, as the scores are
    assert positive.sum() > 10
    np.testing.assert_allclose(lift[positive], np.log(friend[positive] / average[positive]), rtol=1e-4, atol=1e-5)


def test_the_discovery_item_is_the_friends_most_lifted_that_the_user_does_not_doubt():
    lift = np.array([3.0, 2.0, 1.0, -1.0, 5.0])
    doubt = np.array([0.5, -0.5, 2.0, 3.0, -2.0])  # item 4: loved by the friend, but the user is sure to dislike it
    assert discovery_item(lift, doubt, np.array([], dtype=np.intp)) == 0
    assert discovery_item(lift, doubt, np.array([0])) == 1
    assert discovery_item(lift, doubt, np.array([0, 1, 2])) is None  # item 3: the friend does not love it
    assert discovery_item(lift, doubt, np.array([0]), max_doubt=3.0) == 4
    friends = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    assert different_friend(friends, np.zeros(2), np.array([1.0, 1.0])) == 2
    assert different_friend(friends, np.zeros(2), np.array([1.0, 100.0])) == 1  # measured in the prior's spread


def test_the_discovery_slot_takes_its_place_and_keeps_the_lists_length():
    assert with_discovery([10, 11, 12, 13], 99, 2) == [10, 99, 11, 12]
    assert with_discovery([10, 11, 12, 13], 99, 4) == [10, 11, 12, 99]
    assert with_discovery([10, 11], 99, 0) == [10, 11] and with_discovery([10, 11], None, 1) == [10, 11]
    assert with_discovery([10, 11], 99, 3) == [10, 11]


def test_friends_votes_count_each_friend_once_per_item_over_their_weight_to_the_spread():
    lists, weights = [np.array([0, 2, 2]), np.array([2, 3])], [1.0, 3.0]
    items, votes = friends_votes(lists, weights, spread=0.0)
    np.testing.assert_array_equal(items, [0, 2, 3])
    np.testing.assert_allclose(votes, [1.0, 4.0, 3.0])
    np.testing.assert_allclose(friends_votes(lists, weights, spread=1.0)[1], [0.25, 1.0, 0.75])  # the share of friends
    np.testing.assert_allclose(friends_votes(lists, weights, spread=0.5)[1], np.array([1.0, 4.0, 3.0]) / 2.0)
    assert friends_votes([np.array([], dtype=int)], [1.0], 0.0)[0].size == 0
    np.testing.assert_allclose(friends_term(np.array([0.0, 1.0, np.e - 1]), 2.0), [0.0, 2 * np.log(2.0), 2.0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 29), max_size=12), min_size=1, max_size=6), st.floats(0.0, 1.0))
def test_friends_votes_agree_with_the_friends_items_peer_and_stay_a_share_at_spread_one(lists, spread):
    arrays = [np.array(items, dtype=int) for items in lists]
    weights = np.linspace(0.5, 2.0, len(arrays))
    items, votes = friends_votes(arrays, weights, spread)
    peer = friends_items(arrays, weights, n_items=30)
    np.testing.assert_array_equal(items, np.flatnonzero(peer))
    np.testing.assert_allclose(votes, peer[items] / weights.sum() ** spread)
    assert np.all(friends_votes(arrays, weights, 1.0)[1] <= 1.0 + 1e-12)


def test_the_friends_items_term_adds_gamma_log_one_plus_votes_to_their_scores_only():
    model, x = _model(5)
    theta = user_coefficients(x, model.emission)
    indptr, indices = item_lists(x)
    members = tuple(f"u{i}" for i in range(len(theta)))
    np.testing.assert_array_equal(indices[indptr[3] : indptr[4]], np.flatnonzero(x[3]))
    friends = {"u1": 1.0, "u3": 2.0}
    prior = SocialModel(members, theta, trust=2.0, spread=0.5, item_indptr=indptr, item_indices=indices)
    termed = SocialModel(members, theta, 2.0, 0.5, indptr, indices, item_weight=1.5, item_spread=1.0)
    plain, _ = prior.evidence(friends)
    evidence, _ = termed.evidence(friends)
    assert plain is not None and evidence is not None and plain.term() is None
    votes = (x[1] + 2 * x[3]) / 3.0
    for known in ([], [4, 9]):
        expected = model.scores(known, plain).astype(np.float64) + 1.5 * np.log1p(votes)
        np.testing.assert_allclose(model.scores(known, evidence), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(model.posterior_mean([4], evidence), model.posterior_mean([4], plain))


def test_without_trust_the_friends_items_term_alone_leaves_the_posterior_as_it_was():
    model, x = _model(6)
    theta = user_coefficients(x, model.emission)
    indptr, indices = item_lists(x)
    members = tuple(f"u{i}" for i in range(len(theta)))
    social = SocialModel(members, theta, 0.0, 0.0, indptr, indices, item_weight=1.0, item_spread=0.0)
    evidence, _ = social.evidence({"u2": 1.0, "u5": 1.0})
    assert evidence is not None and evidence.count == 0
    np.testing.assert_array_equal(model.posterior_mean([3], evidence), model.posterior_mean([3]))
    moved = np.flatnonzero(model.scores([3], evidence) != model.scores([3]))
    np.testing.assert_array_equal(moved, np.flatnonzero(x[2] + x[5]))
    assert SocialModel(members, theta, 0.0, 0.0, indptr, indices).evidence({"u2": 1.0}) == (None, 0)


def test_a_stored_friend_adds_the_items_their_answers_reveal():
    model, x = _model(7)
    theta = user_coefficients(x, model.emission)
    indptr, indices = item_lists(x)
    social = SocialModel(tuple(f"u{i}" for i in range(len(theta))), theta, 1.0, 0.0, indptr, indices, 1.0, 0.0)
    evidence, unknown = social.evidence({"u0": 1.0, "p": 1.0}, profiles={"p": theta[1]}, revealed={"p": {3, 29}})
    assert unknown == 0 and evidence is not None and evidence.items is not None and evidence.votes is not None
    expected = x[0].copy()
    expected[[3, 29]] += 1
    np.testing.assert_array_equal(evidence.items, np.flatnonzero(expected))
    np.testing.assert_allclose(evidence.votes, expected[expected > 0])


def test_a_social_model_checks_its_item_lists():
    theta = np.zeros((2, 3))
    with pytest.raises(ValueError, match="item lists"):
        SocialModel(("a", "b"), theta, 1.0, 0.0, np.array([0, 2]), np.array([1, 2]))
    with pytest.raises(ValueError, match="needs the members' item lists"):
        SocialModel(("a", "b"), theta, 1.0, 0.0, item_weight=1.0)
    with pytest.raises(ValueError, match="item_weight"):
        SocialModel(("a", "b"), theta, 1.0, 0.0, np.array([0, 1, 2]), np.array([1, 2]), item_weight=-1.0)
