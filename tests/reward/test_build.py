"""Pack-level choices made by code: how items are judged, pairs or k-way questions, the known-items calibration."""

import numpy as np
import pytest

from prefchat.elicitation.evaluate import rating_tasks
from prefchat.elicitation.known import KnownModel, components, population, spectral_bases
from prefchat.elicitation.onboarding import Policy, run_session
from prefchat.elicitation.posterior import Posterior
from prefchat.elicitation.selection import STRATEGIES
from prefchat.reward.build import (
    ANSWERABLE_GINI,
    KNOWN_CALIBRATION_GRID,
    choose_known_calibration,
    infer_answerable,
    rating_gini,
)


def test_rating_gini_known_values():
    assert rating_gini(np.full(10, 7.0)) == 0.0  # every item rated as often
    assert rating_gini(np.r_[np.zeros(9), 5.0]) == pytest.approx(0.9)  # one item takes all: (n - 1) / n
    assert rating_gini(np.zeros(4)) == 0.0


def test_rating_gini_ignores_order_and_scale():
    counts = np.random.default_rng(0).integers(0, 50, 30).astype(float)
    assert rating_gini(counts) == pytest.approx(rating_gini(counts[::-1] * 3))


def test_auto_answerability_from_how_ratings_spread():
    rng = np.random.default_rng(1)
    films = np.sort(rng.zipf(1.6, 2000).astype(float))  # a heavy head, a long tail of unrated items
    study = np.bincount(np.concatenate([rng.choice(100, 10, replace=False) for _ in range(500)]), minlength=100)
    assert rating_gini(films) >= ANSWERABLE_GINI > rating_gini(study)
    assert infer_answerable("auto", True, films)[0] == "known"
    assert infer_answerable("auto", True, study)[0] == "on-sight"
    assert infer_answerable("auto", False, np.ones(5))[0] == "on-sight"  # pairwise choices: read, then compared
    chosen, evidence = infer_answerable("known", True, study)
    assert chosen == "known" and evidence["requested"] == "known" and evidence["gini"] < ANSWERABLE_GINI
    with pytest.raises(ValueError, match="'sometimes'"):
        infer_answerable("sometimes", True, films)


def test_the_known_items_calibration_is_the_validation_best_of_its_grid():
    rng = np.random.default_rng(2)
    x = (rng.random((40, 30)) < 0.3).astype(float)
    emission, features = spectral_bases(*components(x), 4.0)
    model = KnownModel(features[:, :5], emission[:, :5], *population(x, emission[:, :5]), tau=1.0)
    users = {f"v{u}": (rng.choice(30, 12, replace=False), rng.integers(1, 6, 12).astype(float)) for u in range(6)}
    tasks = rating_tasks(users, "watch", [0], np.arange(30.0)[::-1])
    learned = rng.normal(size=(30, 2))
    prior = Posterior.from_prior(np.zeros(2), np.eye(2))
    policy = Policy(STRATEGIES["random"], np.arange(30), min_questions=10, max_questions=10)
    sessions = [(task, run_session(learned, prior, policy, task.respondent, seed=1)) for task in tasks]
    rates = np.linspace(0.6, 0.02, 30)
    calibrated, count, table = choose_known_calibration(model, rates, sessions)
    assert set(table) == {str(c) for c in KNOWN_CALIBRATION_GRID} and count in KNOWN_CALIBRATION_GRID
    assert table[str(count)] == max(table.values()) and calibrated.calibration == count
    if count:
        np.testing.assert_allclose(calibrated.scores([]), np.log(rates), rtol=1e-5)
