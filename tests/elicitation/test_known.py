"""The known-items model: EASE's scores as a PReF model, and its conjugate posterior, by known answers."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.special import logit

from prefchat.elicitation.known import KnownItemsScore, KnownModel, components, ledoit_wolf, population, spectral_bases
from prefchat.elicitation.peers import Ease
from prefchat.elicitation.posterior import Comparison, Posterior


def _matrix(seed=0, n_users=40, n_items=30, density=0.25):
    return (np.random.default_rng(seed).random((n_users, n_items)) < density).astype(float)


def _model(x, l2=4.0, k=None, tau=1.0) -> KnownModel:
    emission, features = spectral_bases(*components(x), l2)
    emission, features = emission[:, :k], features[:, :k]
    return KnownModel(features, emission, *population(x, emission), tau=tau)


@pytest.mark.parametrize("shape", [(15, 25), (40, 12)])  # fewer users than items, and more
def test_the_bases_reproduce_ease_on_every_item_the_user_has_not_met(shape):
    x = _matrix(1, *shape)
    emission, features = spectral_bases(*components(x), 3.0)
    ease = Ease.fit(x, 3.0)
    for known in ([1, 4, 7], [0], list(range(0, shape[1], 2))):
        row = np.zeros(shape[1])
        row[known] = 1
        unseen = row == 0
        np.testing.assert_allclose((features @ (row @ emission))[unseen], ease.scores(known)[unseen], atol=1e-10)


def test_a_sparse_matrix_gives_the_dense_bases():
    x = _matrix(2)
    dense = spectral_bases(*components(x), 2.0)
    again = spectral_bases(*components(sparse.csr_matrix(x)), 2.0)
    for a, b in zip(dense, again):
        np.testing.assert_allclose(np.abs(a), np.abs(b), atol=1e-10)  # singular vectors up to sign


def test_the_posterior_is_the_conjugate_gaussian_update():
    x = _matrix(3)
    model = _model(x, tau=0.7)
    known = [2, 5, 11, 17]
    mean, cov = model.posterior(known)
    prior_precision = np.linalg.inv(model.prior_cov)
    likelihood = np.linalg.inv(model.within) / 0.7
    precision = prior_precision + len(known) * likelihood
    np.testing.assert_allclose(cov, np.linalg.inv(precision), atol=1e-10)
    np.testing.assert_allclose(mean, np.linalg.solve(precision, prior_precision @ model.prior_mean
                                                     + likelihood @ model.emission[known].sum(0)), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(model.posterior([])[0], model.prior_mean, atol=1e-10)  # no evidence: the prior


def test_with_much_evidence_the_ranking_is_eases():
    x = _matrix(4, 60, 25, 0.3)
    model = _model(x, l2=4.0, tau=1e-6)  # a known item says nearly everything: the prior fades
    ease = Ease.fit(x, 4.0)
    known = [0, 3, 4, 8, 9, 13]
    unseen = np.setdiff1d(np.arange(25), known)
    assert list(unseen[np.argsort(-model.scores(known)[unseen])][:5]) == list(unseen[np.argsort(-ease.scores(known)[unseen])][:5])


def test_population_mean_is_the_average_users_and_the_scatter_is_within_users():
    x = _matrix(5)
    emission, _ = spectral_bases(*components(x), 2.0)
    mean, cov, within = population(x, emission)
    theta = np.array([emission[row > 0].mean(0) for row in x if row.any()])
    np.testing.assert_allclose(mean, theta.mean(0), atol=1e-12)
    deviations = np.concatenate([emission[row > 0] - emission[row > 0].mean(0) for row in x if row.any()])
    np.testing.assert_allclose(within, deviations.T @ deviations / len(deviations), atol=1e-9)
    assert np.linalg.eigvalsh(cov).min() > 0


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=5, max_value=40), st.integers(min_value=2, max_value=6), st.integers(0, 2**31))
def test_ledoit_wolf_without_the_n_p_p_array_matches_its_lemma(n, p, seed):
    samples = np.random.default_rng(seed).normal(size=(n, p)) * np.arange(1, p + 1)
    x = samples - samples.mean(0)
    cov = x.T @ x / n
    mu = np.trace(cov) / p
    spread = (((x[:, :, None] * x[:, None, :]) - cov) ** 2).sum() / n**2
    delta = min(1.0, spread / ((cov - mu * np.eye(p)) ** 2).sum())
    np.testing.assert_allclose(ledoit_wolf(samples), (1 - delta) * cov + delta * mu * np.eye(p), atol=1e-10)


def test_the_score_reads_the_known_items_of_the_answers_and_discounts_by_base_rate():
    x = _matrix(6)
    model = _model(x, k=5)
    rates = np.clip((x.sum(0) + 0.5) / (len(x) + 1), 0, 1)
    score = KnownItemsScore(model.features, model=model)
    prior = Posterior.from_prior(np.zeros(3), np.eye(3))  # the session's own posterior: only its answers matter
    answered = Posterior(prior.mean, prior.cov, prior.mean, prior.cov, (Comparison(3, 9, "a"), Comparison(4, 8, "tie")))
    np.testing.assert_allclose(score(answered), model.scores([3, 4, 8]))
    discounted = KnownItemsScore(model.features, discount=0.5, base_rates=rates, model=model)
    np.testing.assert_allclose(discounted(answered), model.scores([3, 4, 8]) - 0.5 * logit(rates))
    with pytest.raises(ValueError, match="needs its model"):
        KnownItemsScore(model.features)


def test_a_model_of_mismatched_shapes_is_refused():
    model = _model(_matrix(7), k=4)
    with pytest.raises(ValueError, match="within has shape"):
        KnownModel(model.features, model.emission, model.prior_mean, model.prior_cov, model.within[:3, :3], 1.0)
    with pytest.raises(ValueError, match="tau"):
        KnownModel(model.features, model.emission, model.prior_mean, model.prior_cov, model.within, 0.0)
    with pytest.raises(ValueError, match="known item index"):
        model.posterior([model.features.shape[0]])


def test_calibrated_scores_rank_by_the_base_rates_without_evidence_and_fade_with_it():
    x = _matrix(6, 50, 20, 0.3)
    plain = _model(x, k=5)
    rates = np.random.default_rng(6).uniform(0.05, 0.9, 20)
    calibrated = replace(plain, base_rates=rates, calibration=0.5)
    np.testing.assert_allclose(calibrated.scores([]), np.log(rates), rtol=1e-5)  # no evidence: the base rates
    bias = np.log(rates) - plain.scores([])
    for known in ([3], [1, 4, 9]):  # weight c / (c + n)
        np.testing.assert_allclose(calibrated.scores(known), plain.scores(known) + 0.5 / (0.5 + len(known)) * bias,
                                   rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(replace(plain, base_rates=rates, calibration=0.0).scores([3]), plain.scores([3]))
    with pytest.raises(ValueError, match="calibration"):
        replace(plain, calibration=-1.0)
    with pytest.raises(ValueError, match="base_rates"):
        replace(plain, base_rates=np.zeros(20))


def test_knowing_is_the_models_chance_and_the_base_rates_before_any_answer():
    x = _matrix(7)
    model = _model(x, k=5)
    rates = np.clip((x.sum(0) + 0.5) / (len(x) + 1), 0.01, 1)
    np.testing.assert_allclose(model.knowing([2, 5]), np.clip(model.features @ model.posterior_mean([2, 5]), 0, 1),
                               atol=1e-6)  # the least-squares chance, floored and capped
    calibrated = replace(model, base_rates=rates, calibration=2.0)
    np.testing.assert_allclose(calibrated.knowing([]), rates, rtol=1e-5)  # no evidence: the population's own
    linear = np.maximum(model.features @ model.posterior_mean([2, 5]), 1e-9)
    bias = np.log(rates) - np.log(model.features @ model.prior_mean)  # the prior mean knows every item a little
    np.testing.assert_allclose(calibrated.knowing([2, 5]), np.minimum(linear * np.exp(0.5 * bias), 1),
                               rtol=1e-4)  # the bias's weight c / (c + n) = 2 / (2 + 2)
    items = np.array([9, 1, 4])
    np.testing.assert_allclose(calibrated.knowing([2, 5], items), calibrated.knowing([2, 5])[items])  # a pool only
    score = KnownItemsScore(model.features, discount=0.5, base_rates=rates, model=calibrated)
    answered = (Comparison(3, 9, "a"), Comparison(4, 8, "tie"))
    np.testing.assert_allclose(score.knowing(answered, items), calibrated.knowing([3, 4, 8], items))  # undiscounted
    fans = x[:, 3] > 0  # users who know item 3 know its companions more often than the rest do
    together = x[fans].mean(0) - x[~fans].mean(0)
    lifted = calibrated.knowing([3]) - calibrated.knowing([])
    assert np.corrcoef(np.delete(lifted, 3), np.delete(together, 3))[0, 1] > 0.3
