"""The answer fit and the confidence levels read from it (issue 21: confidence from evidence)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.special import expit

from prefchat.elicitation.confidence import (
    MIN_HIGH_ANSWERS,
    ConfidenceThresholds,
    answer_fit,
    choose_thresholds,
    decided,
    descriptor_lean,
)
from prefchat.elicitation.posterior import Comparison, KWayChoice
from prefchat.elicitation.respondents import DescriptorRespondent, RandomRespondent
from prefchat.elicitation.selection import Question


def test_answer_fit_is_the_log_bayes_factor_against_chance_known_answer():
    """Two descriptors, three answers (a win, a tie, a 3-way pick): F from the integrals done by quad."""
    z = np.array([[1.0, 0.0], [-0.5, 2.0], [0.3, -1.0], [0.0, 0.5]])
    answers = [Comparison(0, 1, "a"), Comparison(2, 3, "tie"), KWayChoice((0, 2, 3), 2), Comparison(1, 3, "skip")]
    scale = 1.5

    def likelihood(w, j):
        pair = expit(w * (z[0, j] - z[1, j]))
        tie = math.sqrt(expit(w * (z[2, j] - z[3, j])) * expit(-w * (z[2, j] - z[3, j])))
        utility = w * z[[0, 2, 3], j]
        pick = math.exp(utility[1]) / np.exp(utility).sum()
        return pair * tie * pick * stats.norm.pdf(w, scale=scale)

    evidence = np.mean([integrate.quad(likelihood, -40, 40, args=(j,))[0] for j in range(2)])
    expected = math.log(evidence) - math.log(0.5 * 0.5 * (1 / 3))
    assert answer_fit(z, answers, scale) == pytest.approx(expected, abs=1e-4)  # 41 Gauss-Hermite nodes


def test_no_decided_answer_is_no_evidence_and_an_outside_item_sits_at_zero():
    assert decided([Comparison(0, 1, "skip"), Comparison(0, 1, "tie"), Comparison(1, 0, "b"), KWayChoice((0, 1), 1)]) == 3
    z = np.array([[1.0], [-1.0]])
    assert answer_fit(z, [], 1.0) == 0.0
    assert answer_fit(z, [Comparison(0, 1, "skip")], 1.0) == 0.0
    # the reference item (index 2, past the catalog) is at z = 0: the same as an item with z = 0
    with_reference = answer_fit(z, [Comparison(0, 2, "a")], 1.0)
    assert with_reference == pytest.approx(answer_fit(np.array([[1.0], [-1.0], [0.0]]), [Comparison(0, 2, "a")], 1.0))
    with pytest.raises(ValueError, match="scale"):
        answer_fit(z, [], 0.0)


def test_descriptor_lean_is_the_t_statistic_of_the_winners_lead():
    z = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]])
    answers = [Comparison(0, 1, "a"), Comparison(1, 2, "b"), Comparison(0, 2, "tie"), KWayChoice((0, 1, 2), 2)]
    d = np.array([z[0] - z[1], z[2] - z[1], z[2] - z[0], z[2] - z[1]])
    expected = d.mean(0) / np.sqrt(((d**2).mean(0) + 1e-3) / 4)
    np.testing.assert_allclose(descriptor_lean(z, answers), expected, rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.floats(-50, 50), st.integers(0, 30))
def test_high_is_never_read_below_five_answers(fit, n):
    thresholds = ConfidenceThresholds(1.0, (0.0,) * 11, (math.inf,) * MIN_HIGH_ANSWERS + (0.0,) * 6)
    level = thresholds.level(fit, n)
    assert level != "high" or n >= MIN_HIGH_ANSWERS
    assert level == ("high" if n >= MIN_HIGH_ANSWERS and fit >= 0 else "medium" if fit >= 0 else "low")


def test_thresholds_refuse_high_below_five_and_round_trip():
    with pytest.raises(ValueError, match="impossible"):
        ConfidenceThresholds(1.0, (0.0,) * 3, (0.0,) * 3)
    thresholds = ConfidenceThresholds(2.0, (0.0, 0.5, 1.0, 1.0, 1.0, 1.0), (math.inf,) * 5 + (2.0,))
    assert ConfidenceThresholds.from_dict(thresholds.to_dict()) == thresholds


def _simulated(z, respondent, n_answers, rng):
    """Answers of ``respondent`` to ``n_answers`` random pairs of items (a small-scale stand-in for
    the served loop: :mod:`prefchat.reward.confidence` runs the real one at build)."""
    answers = []
    for _ in range(n_answers):
        a, b = rng.choice(len(z), 2, replace=False)
        answers.append(Comparison(int(a), int(b), str(respondent.answer(Question((int(a), int(b)), 0.0)))))
    return answers


def test_random_answerers_read_low_and_consistent_ones_high_far_more_often_at_small_scale():
    """12 descriptors over 60 items; thresholds chosen on 300 random answerers; then 100 fresh random
    answerers and 100 consistent ones (each always chases or avoids one descriptor) answer 10 pairs.

    Ten pairs bound what can be told: a consistent answerer's 10 of 10 is reached by chance by one
    random answerer in about 1024 / (2 x 12), so "high" (a fit 1 random answerer in 100 reaches)
    goes to about 40% of consistent answerers here, 30 times the random rate."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((60, 12))
    scale = 4.0

    def fits(respondents):
        rows = np.full((len(respondents), 11), np.nan)
        for r, respondent in enumerate(respondents):
            answers = _simulated(z, respondent, 10, rng)
            rows[r] = [answer_fit(z, answers[:n], scale) for n in range(11)]
        return rows

    thresholds = choose_thresholds(fits([RandomRespondent(np.random.default_rng(s)) for s in range(300)]), scale)
    random = fits([RandomRespondent(np.random.default_rng(1000 + s)) for s in range(100)])
    consistent = fits([DescriptorRespondent(z[:, [s % 12]], np.array([1 if s % 2 else -1])) for s in range(100)])
    random_levels = [thresholds.level(f, 10) for f in random[:, 10]]
    consistent_levels = [thresholds.level(f, 10) for f in consistent[:, 10]]
    assert np.mean([level == "low" for level in random_levels]) >= 0.9
    assert np.mean([level == "high" for level in random_levels]) <= 0.02
    assert np.mean([level == "high" for level in consistent_levels]) >= 0.3
    assert np.median(consistent[:, 10]) > thresholds.medium[10] > np.median(random[:, 10])
    early = [thresholds.level(f, n) for rows in (random, consistent) for row in rows for n, f in enumerate(row[:5])]
    assert "high" not in early


def test_a_descriptor_respondent_goes_by_its_descriptors_in_order():
    z = np.array([[1.0, 0.0], [1.0, 2.0], [0.0, 5.0]])
    chaser = DescriptorRespondent(z, np.array([1, -1]))
    assert chaser.answer(Question((0, 1), 0.0)) == "a"  # level on the first; less of the second
    assert chaser.answer(Question((2, 0), 0.0)) == "b"
    assert chaser.answer(Question((0, 0 + 1), 0.0)) == "a"
    assert chaser.answer(Question((2, 1, 0), 0.0)) == 0
    assert DescriptorRespondent(z[:, :1], np.array([1])).answer(Question((0, 1), 0.0)) == "tie"
    with pytest.raises(ValueError, match="signs"):
        DescriptorRespondent(z, np.array([1, 0]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(-3, 3), min_size=11, max_size=11), min_size=1, max_size=60))
def test_thresholds_are_the_least_fits_few_random_sessions_reach(rows):
    """Fits that take few values (after few answers they do): at most 5% of the sessions reach
    "medium", at most 1% "high", and no smaller threshold would do."""
    fits = np.array(rows, dtype=float) / 2
    thresholds = choose_thresholds(fits, 1.0)
    for n in range(11):
        column = fits[:, n]
        for level, share in ((thresholds.medium[n], 0.05), (thresholds.high[n], 0.01)):
            if math.isinf(level):
                continue
            assert np.mean(column >= level) <= share
            assert all(np.mean(column >= smaller) > share for smaller in column[column < level])
    assert all(math.isinf(h) for h in thresholds.high[:MIN_HIGH_ANSWERS])
