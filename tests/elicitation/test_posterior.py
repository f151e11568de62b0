import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize
from scipy.special import expit, logit

from prefchat.elicitation.posterior import (
    Comparison,
    ConvergenceError,
    Evidence,
    KWayChoice,
    Posterior,
    answer_pulls,
    base_rate_offset,
    batch_map,
    kway_log_likelihood,
    kway_log_likelihood_grad,
    kway_log_likelihood_hess,
    laplace_posterior,
    log_likelihood,
    log_likelihood_grad,
    log_likelihood_hess,
    log_sigmoid,
    ml_fit,
    neg_log_posterior,
    neg_log_posterior_grad,
    neg_log_posterior_hess,
    predictive_logits,
)

# --------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("choice", "label"), [("a", 1.0), ("b", 0.0), ("tie", 0.5), ("skip", None)]
)
def test_comparison_label(choice, label):
    assert Comparison(3, 5, choice).label == label


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, 2, "maybe"), "'maybe'"),
        ((1, 1, "a"), "item 1 twice"),
        ((-1, 2, "a"), "-1"),
        ((1.5, 2, "a"), "1.5"),
    ],
)
def test_comparison_rejects_bad_values_by_name(args, message):
    with pytest.raises(ValueError, match=message):
        Comparison(*args)


def test_comparison_accepts_numpy_integers():
    answer = Comparison(np.int64(4), np.int32(7), "b")
    assert answer.items == (4, 7) and type(answer.item_a) is int


def test_kway_choice_position_and_validation():
    assert KWayChoice((4, 9, 2), 2).position == 2
    with pytest.raises(ValueError, match="7 is not one of"):
        KWayChoice((4, 9, 2), 7)
    with pytest.raises(ValueError, match="at least two"):
        KWayChoice((4,), 4)
    with pytest.raises(ValueError, match="different"):
        KWayChoice((4, 4, 2), 2)


# --------------------------------------------------------------------------- likelihoods


def test_log_sigmoid_is_finite_at_extremes():
    np.testing.assert_allclose(log_sigmoid(np.array([-1000.0, 0.0, 1000.0])), [-1000.0, -np.log(2), 0.0])


@pytest.mark.parametrize("labels", [[1.0, 0.0, 0.5, 1.0], [0.5, 0.5, 0.5, 0.5]])
def test_zero_coefficients_give_one_half_and_minus_n_log_2(labels):
    diffs = np.random.default_rng(0).normal(size=(4, 3))
    assert log_likelihood(np.zeros(3), diffs, np.array(labels)) == pytest.approx(-4 * np.log(2))
    options = np.random.default_rng(1).normal(size=(5, 4, 3))
    assert kway_log_likelihood(np.zeros(3), options, np.array([0, 1, 2, 3, 0])) == pytest.approx(-5 * np.log(4))


def _numerical_grad(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)])


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    n_bases = 4
    diffs = rng.normal(size=(6, n_bases))
    labels = np.array([1.0, 0.0, 0.5, 1.0, 1.0, 0.0])
    options = rng.normal(size=(3, 4, n_bases))
    chosen = np.array([0, 3, 1])
    a = rng.normal(size=(n_bases, n_bases))
    prior_precision = a @ a.T + np.eye(n_bases)
    evidence = Evidence(diffs, labels, ((options, chosen),))
    return rng.normal(size=n_bases), rng.normal(size=n_bases), prior_precision, evidence


@pytest.mark.parametrize("terms", ["pairwise", "k-way", "posterior"])
def test_gradient_and_hessian_match_finite_differences(problem, terms):
    coef, prior_mean, prior_precision, evidence = problem
    pairs = (evidence.diffs, evidence.labels)
    ((options, chosen),) = evidence.kway
    posterior = (prior_mean, prior_precision, evidence)
    value, grad, hess = {
        "pairwise": (
            lambda c: log_likelihood(c, *pairs),
            lambda c: log_likelihood_grad(c, *pairs),
            lambda c: log_likelihood_hess(c, evidence.diffs),
        ),
        "k-way": (
            lambda c: kway_log_likelihood(c, options, chosen),
            lambda c: kway_log_likelihood_grad(c, options, chosen),
            lambda c: kway_log_likelihood_hess(c, options),
        ),
        "posterior": (
            lambda c: neg_log_posterior(c, *posterior),
            lambda c: neg_log_posterior_grad(c, *posterior),
            lambda c: neg_log_posterior_hess(c, *posterior),
        ),
    }[terms]
    np.testing.assert_allclose(grad(coef), _numerical_grad(value, coef), rtol=1e-6)
    np.testing.assert_allclose(hess(coef), _numerical_grad(grad, coef), rtol=1e-6, atol=1e-9)


def test_two_way_choice_is_a_comparison():
    features = np.random.default_rng(3).normal(size=(5, 3))
    prior = (np.zeros(3), np.eye(3))
    as_pair = laplace_posterior(*prior, features, [Comparison(1, 4, "b")])
    as_choice = laplace_posterior(*prior, features, [KWayChoice((1, 4), 4)])
    np.testing.assert_allclose(as_choice.mean, as_pair.mean, atol=1e-12)
    np.testing.assert_allclose(as_choice.cov, as_pair.cov, atol=1e-12)


# --------------------------------------------------------------------------- known posteriors

ONE_BASE = np.array([[0.0], [1.0], [3.0]])  # x = phi(1) - phi(0) = 1, phi(2) - phi(0) = 3


def test_one_answer_known_posterior():
    # K = 1, prior N(0, 1), x = 1, "a": the MAP solves m = 1 - sigmoid(m), S = 1 / (1 + s(1 - s)).
    posterior = laplace_posterior([0.0], [[1.0]], ONE_BASE, [Comparison(1, 0, "a")])
    m = brentq(lambda m: m - (1 - expit(m)), 0, 1, xtol=1e-15)
    s = expit(m)
    assert posterior.mean[0] == pytest.approx(m, abs=1e-12)
    assert posterior.cov[0, 0] == pytest.approx(1 / (1 + s * (1 - s)), abs=1e-12)


def test_tie_and_opposite_answers_keep_a_symmetric_prior_mean():
    # At m = 0 every w is 1/4, so S = 1 / (1 + sum x^2 / 4): ties (x = 3) and a + b on one pair (x = 1).
    tie = laplace_posterior([0.0], [[1.0]], ONE_BASE, [Comparison(2, 0, "tie")])
    assert tie.mean[0] == pytest.approx(0.0, abs=1e-14)
    assert tie.cov[0, 0] == pytest.approx(1 / (1 + 9 / 4))
    both = laplace_posterior([0.0], [[1.0]], ONE_BASE, [Comparison(1, 0, "a"), Comparison(1, 0, "b")])
    assert both.mean[0] == pytest.approx(0.0, abs=1e-14)
    assert both.cov[0, 0] == pytest.approx(1 / (1 + 2 / 4))


def test_skip_adds_no_likelihood_term():
    posterior = laplace_posterior([0.5], [[2.0]], ONE_BASE, [Comparison(1, 0, "skip")])
    assert posterior.mean[0] == 0.5 and posterior.cov[0, 0] == pytest.approx(2.0)


def test_three_answers_match_scipy_minimize():
    rng = np.random.default_rng(11)
    features = rng.normal(size=(6, 2))
    prior_mean, prior_cov = np.array([0.3, -0.2]), np.array([[1.0, 0.4], [0.4, 0.5]])
    answers = [Comparison(0, 1, "a"), Comparison(2, 3, "tie"), KWayChoice((1, 4, 5), 5)]

    def objective(c):  # written out independently of the module
        u = features @ c
        centred = c - prior_mean
        value = 0.5 * centred @ np.linalg.solve(prior_cov, centred)
        value -= np.log(expit(u[0] - u[1])) + 0.5 * np.log(expit(u[2] - u[3])) + 0.5 * np.log(expit(u[3] - u[2]))
        return value - (u[5] - np.log(np.exp(u[[1, 4, 5]]).sum()))

    reference = minimize(objective, np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-15})
    posterior = laplace_posterior(prior_mean, prior_cov, features, answers)
    np.testing.assert_allclose(posterior.mean, reference.x, atol=1e-8)
    hess = _numerical_grad(lambda c: _numerical_grad(objective, c, 1e-4), posterior.mean, 1e-4)
    np.testing.assert_allclose(posterior.cov, np.linalg.inv(hess), rtol=1e-5)


def test_convergence_error_when_max_iter_cannot_reach_tol(synthetic_pack):
    answers = [Comparison(0, 1, "a"), Comparison(2, 3, "b"), Comparison(4, 5, "a")]
    args = (synthetic_pack["prior_mean"], synthetic_pack["prior_cov"], synthetic_pack["features"], answers)
    with pytest.raises(ConvergenceError, match="max_iter=1"):
        laplace_posterior(*args, max_iter=1)
    assert np.all(np.isfinite(laplace_posterior(*args).mean))


def test_update_warm_starts_to_the_same_posterior(synthetic_pack):
    features = synthetic_pack["features"]
    answers = [Comparison(0, 1, "a"), Comparison(2, 3, "tie"), KWayChoice((4, 5, 6, 7), 6), Comparison(8, 9, "skip")]
    posterior = Posterior.from_prior(synthetic_pack["prior_mean"], synthetic_pack["prior_cov"])
    for answer in answers:
        posterior = posterior.update(features, answer)
    direct = laplace_posterior(synthetic_pack["prior_mean"], synthetic_pack["prior_cov"], features, answers)
    assert posterior.answers == tuple(answers)
    np.testing.assert_allclose(posterior.mean, direct.mean, atol=1e-10)
    np.testing.assert_allclose(posterior.cov, direct.cov, atol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prior_cov": [[1.0, 2.0], [2.0, 1.0]]}, "not positive definite"),
        ({"prior_cov": [[1.0, 0.0], [1.0, 1.0]]}, "symmetric"),
        ({"prior_mean": [0.0, 0.0, 0.0]}, "do not match"),
        ({"answers": [Comparison(0, 9, "a")]}, "item 9 is out of range"),
        ({"init": [0.0]}, "init has shape"),
        ({"features": np.zeros((5, 3))}, "3 bases"),
    ],
)
def test_bad_input_raises_value_error_naming_it(kwargs, message):
    args = {
        "prior_mean": [0.0, 0.0],
        "prior_cov": np.eye(2),
        "features": np.zeros((5, 2)),
        "answers": [Comparison(0, 1, "a")],
    } | kwargs
    with pytest.raises(ValueError, match=message):
        laplace_posterior(**args)


# --------------------------------------------------------------------------- properties

answer_lists = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 7), st.sampled_from(["a", "b", "tie", "skip"])).filter(
        lambda t: t[0] != t[1]
    ),
    min_size=1,
    max_size=8,
)
FLIP = {"a": "b", "b": "a", "tie": "tie", "skip": "skip"}


def _setup(seed, n_bases):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n_bases, n_bases))
    return rng.normal(scale=2.0, size=(8, n_bases)), rng.normal(size=n_bases), a @ a.T + 0.1 * np.eye(n_bases)


@settings(max_examples=40, deadline=None)
@given(answer_lists, st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_swapping_a_pair_and_flipping_the_answer_changes_nothing(triples, n_bases, seed):
    features, prior_mean, prior_cov = _setup(seed, n_bases)
    answers = [Comparison(a, b, c) for a, b, c in triples]
    swapped = [Comparison(b, a, FLIP[c]) for a, b, c in triples]
    one = laplace_posterior(prior_mean, prior_cov, features, answers)
    other = laplace_posterior(prior_mean, prior_cov, features, swapped)
    np.testing.assert_allclose(one.mean, other.mean, atol=1e-9)
    np.testing.assert_allclose(one.cov, other.cov, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(answer_lists, st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_cov_is_spd_and_never_wider_than_the_prior_along_asked_directions(triples, n_bases, seed):
    features, prior_mean, prior_cov = _setup(seed, n_bases)
    posterior = laplace_posterior(prior_mean, prior_cov, features, [Comparison(*t) for t in triples])
    np.testing.assert_array_equal(posterior.cov, posterior.cov.T)
    assert np.linalg.eigvalsh(posterior.cov).min() > 0
    for a, b, _ in triples:
        x = features[a] - features[b]
        assert x @ posterior.cov @ x <= x @ prior_cov @ x * (1 + 1e-12)


def test_variance_along_an_asked_direction_shrinks_by_the_predicted_factor():
    # One answer from the prior: x^T S x = v / (1 + w v), v the prior variance along x, w at the new mean.
    features, prior_mean, prior_cov = _setup(5, 3)
    posterior = laplace_posterior(prior_mean, prior_cov, features, [Comparison(2, 6, "a")])
    x = features[2] - features[6]
    v = x @ prior_cov @ x
    s = expit(posterior.mean @ x)
    assert x @ posterior.cov @ x == pytest.approx(v / (1 + s * (1 - s) * v), rel=1e-10)


def test_a_later_answer_can_widen_the_laplace_variance_along_an_earlier_direction():
    # Documented limitation (see Posterior): the second answer moves the mean so that the first is
    # far more certain, its weight w = s(1 - s) collapses, and x1^T S x1 grows almost fourfold.
    features = np.array([[13.0, -4.0], [-9.0, 14.0], [-7.0, 13.5]])
    first = laplace_posterior(np.zeros(2), np.eye(2), features, [Comparison(0, 1, "a")])
    both = first.update(features, Comparison(1, 2, "b"))
    x = features[0] - features[1]
    assert x @ both.cov @ x > 3 * x @ first.cov @ x


# --------------------------------------------------------------------------- plain fit and batch


def test_ml_fit_is_the_ridge_stationary_point_and_consistent():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(200, 3))
    truth = np.array([1.5, -1.0, 0.5])
    a, b = rng.integers(0, 200, size=(2, 3000))
    keep = a != b
    a, b = a[keep], b[keep]
    choices = np.where(rng.random(a.size) < expit((features[a] - features[b]) @ truth), "a", "b")
    answers = [Comparison(*answer) for answer in zip(a, b, choices)]
    fit = ml_fit(features, answers, ridge=1e-3)
    evidence = Evidence.from_answers(features, answers)
    np.testing.assert_allclose(log_likelihood_grad(fit.mean, evidence.diffs, evidence.labels), 1e-3 * fit.mean, atol=1e-8)
    np.testing.assert_allclose(fit.mean, truth, atol=0.15)


def test_ml_fit_of_separable_answers_is_finite():
    features = np.random.default_rng(4).normal(size=(10, 5))
    fit = ml_fit(features, [Comparison(0, 1, "a")])
    assert np.all(np.isfinite(fit.mean)) and np.linalg.norm(fit.mean) > 1


def test_batch_map_matches_one_user_at_a_time():
    rng = np.random.default_rng(9)
    features = rng.normal(size=(30, 3))
    prior_mean, prior_cov = np.array([0.2, 0.0, -0.1]), np.diag([1.0, 0.5, 2.0])
    users = rng.integers(0, 4, size=40)  # user 4 has no pairs
    items_a, items_b = rng.integers(0, 15, size=40), rng.integers(15, 30, size=40)
    labels = rng.choice([0.0, 0.5, 1.0], size=40)
    means = batch_map(features, users, items_a, items_b, labels, prior_mean, prior_cov, n_users=5)
    choice = {1.0: "a", 0.0: "b", 0.5: "tie"}
    for user in range(5):
        mine = users == user
        answers = [Comparison(a, b, choice[y]) for a, b, y in zip(items_a[mine], items_b[mine], labels[mine])]
        expected = laplace_posterior(prior_mean, prior_cov, features, answers).mean
        np.testing.assert_allclose(means[user], expected, atol=1e-9)


def test_batch_map_covariances_are_the_one_user_laplace_covariances():
    rng = np.random.default_rng(10)
    features = rng.normal(size=(20, 3))
    prior_mean, prior_cov = np.zeros(3), np.diag([1.0, 2.0, 0.5])
    users, items_a, items_b = rng.integers(0, 3, size=24), rng.integers(0, 10, size=24), rng.integers(10, 20, size=24)
    labels = rng.choice([0.0, 1.0], size=24)
    means, covs = batch_map(features, users, items_a, items_b, labels, prior_mean, prior_cov, n_users=3, return_cov=True)
    for user in range(3):
        mine = users == user
        answers = [Comparison(a, b, "a" if y else "b") for a, b, y in zip(items_a[mine], items_b[mine], labels[mine])]
        expected = laplace_posterior(prior_mean, prior_cov, features, answers)
        np.testing.assert_allclose(means[user], expected.mean, atol=1e-9)
        np.testing.assert_allclose(covs[user], expected.cov, atol=1e-9)


# --------------------------------------------------------------------------- predictive


def test_predictive_logits_known_answer():
    features, offset = np.array([[1.0], [2.0]]), np.array([0.1, -0.2])
    z = predictive_logits(features, np.array([0.5]), np.array([[0.4]]), offset)
    np.testing.assert_allclose(z, [0.6 / np.sqrt(1 + np.pi * 0.4 / 8), 0.8 / np.sqrt(1 + np.pi * 1.6 / 8)])
    # No uncertainty left: the plain utility plus offset.
    np.testing.assert_allclose(predictive_logits(features, np.array([0.5]), np.zeros((1, 1)), offset), [0.6, 0.8])


@pytest.mark.parametrize(("mu", "variance"), [(0.0, 1.0), (1.5, 0.5), (-2.0, 4.0), (3.0, 9.0)])
def test_predictive_logits_approximate_the_logistic_normal_mean(mu, variance):
    draws = np.random.default_rng(0).normal(mu, np.sqrt(variance), size=400_000)
    z = predictive_logits(np.ones((1, 1)), np.array([mu]), np.array([[variance]]), np.zeros(1))
    assert abs(expit(z[0]) - expit(draws).mean()) < 0.02


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_the_prior_predictive_is_the_base_rate(seed, n_bases):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(12, n_bases))
    root = rng.normal(size=(n_bases, n_bases))
    prior_mean, prior_cov = rng.normal(size=n_bases), root @ root.T + 0.1 * np.eye(n_bases)
    base_rate = rng.uniform(0.01, 0.99, size=12)
    offset = base_rate_offset(features, prior_mean, prior_cov, base_rate)
    np.testing.assert_allclose(predictive_logits(features, prior_mean, prior_cov, offset), logit(base_rate), atol=1e-9)


def test_an_answer_moves_the_predictive_towards_the_chosen_item():
    features = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    prior_mean, prior_cov, base_rate = np.zeros(2), np.eye(2), np.array([0.3, 0.3, 0.3])
    offset = base_rate_offset(features, prior_mean, prior_cov, base_rate)
    posterior = laplace_posterior(prior_mean, prior_cov, features, [Comparison(0, 1, "a")])
    z = predictive_logits(features, posterior.mean, posterior.cov, offset)
    assert z[0] > logit(0.3) > z[1] and z[2] > logit(0.3)


@pytest.mark.parametrize("bad", [np.array([0.0, 0.5]), np.array([0.5, 1.0]), np.array([0.5]), np.array([np.nan, 0.5])])
def test_base_rate_offset_rejects_rates_outside_the_open_interval(bad):
    with pytest.raises(ValueError, match="base_rate"):
        base_rate_offset(np.eye(2), np.zeros(2), np.eye(2), bad)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_answer_pulls_sum_to_the_posterior_shift(seed):
    """At the MAP the answers' pulls add up to m - mu_0 (pairs, ties, skips and k-way choices alike),
    a skip pulls nothing, and a lone answer pulls the mean towards its winner."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((12, 3))
    prior_mean, prior_cov = rng.standard_normal(3), np.diag(rng.uniform(0.5, 2.0, 3))
    answers = [Comparison(0, 1, "a"), Comparison(2, 3, "b"), Comparison(4, 5, "tie"), Comparison(6, 7, "skip"),
               KWayChoice((8, 9, 10, 11), 10)]
    posterior = laplace_posterior(prior_mean, prior_cov, features, answers)
    pulls = answer_pulls(features, posterior.mean, prior_cov, answers)
    np.testing.assert_allclose(pulls.sum(0), posterior.mean - prior_mean, atol=1e-7)
    assert not pulls[3].any()
    lone = laplace_posterior(prior_mean, prior_cov, features, answers[:1])
    (pull,) = answer_pulls(features, lone.mean, prior_cov, answers[:1])
    assert (features[0] - features[1]) @ pull > 0
