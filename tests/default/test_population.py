"""The simulated population: calibration, archetypes, answer noise, determinism, pairs."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from prefchat.default.domain import DIMENSIONS, PROMPTS_DIR, load_domain
from prefchat.default.population import (
    ARCHETYPE_MEANS,
    ARCHETYPE_NAMES,
    WEIGHT_SD,
    CalibrationError,
    ChoiceModel,
    calibrate_temperature,
    expected_auc,
    simulate_population,
    true_model_ceiling,
    weighted_auc,
)
from prefchat.elicitation.posterior import CHOICES

pytestmark = pytest.mark.skipif(not any(PROMPTS_DIR.glob("*.json")), reason="no prompt files written yet")


@pytest.fixture(scope="module")
def domain():
    return load_domain()


@pytest.fixture(scope="module")
def population(domain):
    return simulate_population(domain, seed=0)


# --- AUC -------------------------------------------------------------------------------------


def test_weighted_auc_known_answers():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1])
    assert weighted_auc(scores, labels, 1 - labels) == pytest.approx(0.75)  # sklearn's doc example
    assert weighted_auc(scores, [0, 0, 0, 1], [1, 1, 1, 0]) == 1.0
    assert weighted_auc(np.zeros(4), labels, 1 - labels) == 0.5
    with pytest.raises(ValueError, match="positive and one negative"):
        weighted_auc(scores, np.ones(4), np.zeros(4))


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, 12, elements=st.floats(-3, 3)), arrays(np.float64, 12, elements=st.floats(0, 1)))
def test_weighted_auc_brute_force_and_complement(scores, p):
    scores = np.round(scores, 1)  # force ties
    n = 1.0 - p
    if p.sum() * n.sum() < 1e-9:
        return
    greater = (scores[:, None] > scores[None, :]) + 0.5 * (scores[:, None] == scores[None, :])
    brute = (p[:, None] * n[None, :] * greater).sum() / (p.sum() * n.sum())
    assert weighted_auc(scores, p, n) == pytest.approx(brute)
    assert weighted_auc(scores, p, n) + weighted_auc(scores, n, p) == pytest.approx(1.0)
    assert weighted_auc(np.exp(scores), p, n) == pytest.approx(brute), "only the order of scores matters"


def test_expected_auc_matches_simulated_answers():
    rng = np.random.default_rng(7)
    diff = rng.normal(0, 1.5, 200_000)
    model = ChoiceModel(temperature=0.6, tie_margin=0.25, tie_prob=0.5, skip_rate=0.05)
    choice = model.answer(diff, rng)
    decided = np.isin(choice, ("a", "b"))
    empirical = weighted_auc(diff[decided], choice[decided] == "a", choice[decided] == "b")
    assert expected_auc(diff, 0.6, 0.25, 0.5) == pytest.approx(empirical, abs=0.003)


# --- calibration -----------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.floats(0.75, 0.97), st.integers(0, 2**16))
def test_calibration_hits_target_and_auc_falls_with_temperature(target, seed):
    diff = np.random.default_rng(seed).normal(0, 2, 2000)
    temperature = calibrate_temperature(diff, target, tol=1e-4)
    assert expected_auc(diff, temperature, 0.25, 0.5) == pytest.approx(target, abs=1e-4)
    assert expected_auc(diff, 2 * temperature, 0.25, 0.5) < target < expected_auc(diff, temperature / 2, 0.25, 0.5)


def test_calibration_errors():
    with pytest.raises(ValueError, match="1.2"):
        calibrate_temperature(np.ones(10), 1.2)
    with pytest.raises(ValueError, match="all zero"):
        calibrate_temperature(np.zeros(10))
    mostly_indifferent = np.r_[np.zeros(900), np.linspace(0.5, 2, 100)]
    with pytest.raises(CalibrationError, match="not reachable"):
        calibrate_temperature(mostly_indifferent, 0.925)
    with pytest.raises(CalibrationError, match="after 2 bisections"):
        calibrate_temperature(np.linspace(-2, 2, 100), 0.925, max_iter=2)


def test_true_model_ceiling_is_calibrated(population):
    ceiling = true_model_ceiling(population, seed=11)
    assert 0.90 <= ceiling <= 0.95
    assert ceiling == pytest.approx(0.925, abs=0.01)


# --- archetypes and answers ------------------------------------------------------------------


def test_archetype_weights_center_on_their_means(population):
    assert population.n_users == 1200 and population.weights.shape == (1200, 9)
    for k, name in enumerate(ARCHETYPE_NAMES):
        members = population.weights[population.archetype == k]
        assert len(members) > 50, name
        se = WEIGHT_SD / np.sqrt(len(members))
        assert np.abs(members.mean(axis=0) - ARCHETYPE_MEANS[k]).max() < 5 * se, name
    gaps = np.linalg.norm(ARCHETYPE_MEANS[:, None] - ARCHETYPE_MEANS[None], axis=-1)
    assert gaps[~np.eye(len(ARCHETYPE_NAMES), dtype=bool)].min() > 2.0


def _share_choosing_higher(population, dimension, archetype):
    """Among decided answers of one archetype, how often the response higher on ``dimension`` won."""
    x = population.domain.attributes[:, DIMENSIONS.index(dimension)]
    rows = population.archetype[population.pair_user] == ARCHETYPE_NAMES.index(archetype)
    decided = rows & np.isin(population.choice, ("a", "b")) & (x[population.item_a] != x[population.item_b])
    a_higher = x[population.item_a[decided]] > x[population.item_b[decided]]
    return np.mean(a_higher == (population.choice[decided] == "a"))


def test_archetypes_choose_differently(population):
    assert _share_choosing_higher(population, "length", "busy professional") < 0.4
    assert _share_choosing_higher(population, "length", "curious learner") > 0.6
    assert _share_choosing_higher(population, "emoji", "playful") > 0.6
    assert _share_choosing_higher(population, "emoji", "precise expert") < 0.4


def test_tie_and_dont_know_rates_follow_settings(population):
    model = population.choice_model
    diff = np.einsum(
        "ij,ij->i",
        population.weights[population.pair_user],
        population.domain.attributes[population.item_a] - population.domain.attributes[population.item_b],
    )
    n = len(population.choice)
    skip = population.choice == "skip"
    assert abs(skip.mean() - model.skip_rate) < 4 * np.sqrt(model.skip_rate * (1 - model.skip_rate) / n)
    near = (np.abs(diff) < model.tie_margin) & ~skip
    tie = population.choice == "tie"
    assert not tie[~near & ~skip].any(), "ties only when the utilities are within the margin"
    assert abs(tie[near].mean() - model.tie_prob) < 4 * np.sqrt(0.25 / near.sum())


def test_pairs_stay_within_one_training_prompt_and_never_repeat(population):
    group = population.domain.group
    assert (group[population.item_a] == group[population.item_b]).all()
    assert (population.item_a != population.item_b).all()
    assert np.isin(group[population.item_a], population.domain.training_prompts).all()
    unordered = np.sort(np.c_[population.item_a, population.item_b], axis=1)
    keyed = np.c_[population.pair_user, unordered]
    assert len(np.unique(keyed, axis=0)) == len(keyed)
    assert np.bincount(population.pair_user).tolist() == [40] * population.n_users
    assert 0.45 < np.mean(population.item_a < population.item_b) < 0.55, "order is random"


def test_simulation_is_deterministic_under_seed(domain, population):
    again = simulate_population(domain, seed=0)
    other = simulate_population(domain, seed=1)
    for field in ("weights", "archetype", "pair_user", "item_a", "item_b", "choice"):
        np.testing.assert_array_equal(getattr(again, field), getattr(population, field))
    assert again.choice_model == population.choice_model
    assert not np.array_equal(other.weights, population.weights)


def test_too_many_pairs_per_user_is_refused(domain):
    n_pairs = sum(len(domain.responses_of(p)) * (len(domain.responses_of(p)) - 1) // 2 for p in domain.training_prompts)
    with pytest.raises(ValueError, match=str(n_pairs + 1)):
        simulate_population(domain, n_users=2, pairs_per_user=n_pairs + 1)


# --- simulated users -------------------------------------------------------------------------


def test_simulated_user_utility_and_answer_frequencies(population):
    domain = population.domain
    user = population.user(7)
    assert user.archetype == ARCHETYPE_NAMES[population.archetype[7]] and user.user_id == population.user_ids[7]
    ids = domain.response_ids[:6]
    np.testing.assert_allclose(user.utility(ids), domain.attributes[:6] @ population.weights[7])
    utilities = user.utility(ids)
    a, b = ids[int(np.argmax(utilities))], ids[int(np.argmin(utilities))]
    rng = np.random.default_rng(0)
    answers = np.array([user.answer(a, b, rng) for _ in range(4000)])
    assert set(answers) <= set(CHOICES)
    decided = answers[np.isin(answers, ("a", "b"))]
    expected = user.choice_model.prob_a(utilities.max() - utilities.min())
    assert abs(np.mean(decided == "a") - expected) < 4 * np.sqrt(0.25 / len(decided)) + 1e-9
    assert abs(np.mean(answers == "skip") - user.choice_model.skip_rate) < 0.02


def test_choice_model_validates_and_labels_population(population):
    with pytest.raises(ValueError, match="-1"):
        ChoiceModel(temperature=-1)
    with pytest.raises(ValueError, match="skip_rate"):
        ChoiceModel(temperature=1, skip_rate=1.5)
    provenance = population.provenance()
    assert provenance["simulated"] is True
    assert provenance["temperature"] == population.choice_model.temperature
    assert sum(provenance["answers"].values()) == len(population.choice)
    with pytest.raises(dataclasses.FrozenInstanceError):
        population.choice_model.temperature = 1.0
