"""Returning users' check-in: the widening's known answers, the evidence, the test questions and the choices."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.elicitation.checkin import (
    CHECKIN_QUESTIONS,
    MIN_RETURN,
    CheckIn,
    checkin_policy,
    choose_retention,
    choose_timescale,
    earlier_evidence,
    jensen_shannon,
    log_evidence,
    returning_evidence,
    returning_tasks,
    run_checkin,
    widened,
)
from prefchat.elicitation.known import KnownModel
from prefchat.elicitation.posterior import Comparison, Posterior, laplace_posterior
from prefchat.elicitation.respondents import RatingsRespondent
from prefchat.elicitation.selection import SelectionState
from prefchat.elicitation.social import SocialEvidence

from .test_drift import K, spd


@pytest.fixture
def world():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(30, K))
    prior_mean, prior_cov = np.zeros(K), np.eye(K)
    truth = np.array([3.0, -2.0, 1.0])
    answers = [Comparison(i, j, "a" if features[i] @ truth > features[j] @ truth else "b")
               for i, j in rng.integers(0, 30, size=(12, 2)) if i != j]
    old = laplace_posterior(prior_mean, prior_cov, features, answers)
    return features, old


def check_of(old, retention):
    return CheckIn(old.mean, old.cov, old.prior_mean, old.prior_cov, retention)


def test_widening_keeps_everything_at_retention_1_and_returns_to_the_prior_at_0():
    rng = np.random.default_rng(1)
    mean, cov, prior_mean, prior_cov = rng.normal(size=K), spd(rng, scale=0.1), rng.normal(size=K), spd(rng)
    kept = widened(mean, cov, prior_mean, prior_cov, 1.0)
    np.testing.assert_allclose(kept[0], mean)
    np.testing.assert_allclose(kept[1], cov)
    gone = widened(mean, cov, prior_mean, prior_cov, 0.0)
    np.testing.assert_allclose(gone[0], prior_mean)
    np.testing.assert_allclose(gone[1], prior_cov)
    half = widened(mean, cov, prior_mean, prior_cov, 0.5)
    np.testing.assert_allclose(half[0], prior_mean + 0.5 * (mean - prior_mean))
    np.testing.assert_allclose(half[1], 0.25 * cov + 0.75 * prior_cov)
    with pytest.raises(ValueError, match="1.5"):
        widened(mean, cov, prior_mean, prior_cov, 1.5)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_a_widened_profile_is_never_narrower_than_the_old_one(retention, seed):
    """Prior at least as wide as the old posterior: then the widened covariance is too (Loewner order)."""
    rng = np.random.default_rng(seed)
    prior_cov = spd(rng)
    old_cov = 0.5 * prior_cov  # a posterior is narrower than its prior
    _, cov = widened(rng.normal(size=K), old_cov, np.zeros(K), prior_cov, retention)
    assert np.linalg.eigvalsh(cov - old_cov).min() >= -1e-12
    assert np.linalg.eigvalsh(cov).min() > 0


def test_log_evidence_of_one_answer_is_exact_in_the_limit_of_a_sharp_prior():
    """With a prior of tiny covariance p(D) = sigmoid(mu . x): the Laplace evidence tends to it."""
    features = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    prior_mean = np.array([0.7, 0.0, 0.0])
    posterior = laplace_posterior(prior_mean, 1e-8 * np.eye(K), features, [Comparison(0, 1, "a")])
    assert log_evidence(posterior, features) == pytest.approx(-np.log1p(np.exp(-0.7)), abs=1e-6)
    assert log_evidence(Posterior.from_prior(prior_mean, np.eye(K)), features) == 0.0


def test_log_evidence_matches_numerical_integration_in_one_dimension():
    features = np.array([[1.0], [0.0]])
    answers = [Comparison(0, 1, "a"), Comparison(0, 1, "a"), Comparison(1, 0, "a")]
    posterior = laplace_posterior(np.zeros(1), np.eye(1), features, answers)
    grid = np.linspace(-10, 10, 20001)
    likelihood = (1 / (1 + np.exp(-grid))) ** 2 * (1 / (1 + np.exp(grid)))
    exact = np.log(np.trapezoid(likelihood * np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi), grid))
    assert log_evidence(posterior, features) == pytest.approx(exact, abs=0.02)


def test_answers_that_agree_keep_the_profile_and_answers_that_contradict_widen_it(world):
    features, old = world
    check = check_of(old, 0.25)
    utility = features @ old.mean
    order = np.argsort(utility)
    pairs = [(order[-1 - n], order[n]) for n in range(CHECKIN_QUESTIONS)]  # the old profile is sure of these
    agree = [Comparison(int(i), int(j), "a") for i, j in pairs]
    contradict = [Comparison(int(i), int(j), "b") for i, j in pairs]
    assert not check.contradicted(features, agree)
    assert check.weight(features, agree) == 1.0
    assert np.array_equal(check.posterior(features, agree).prior_mean, old.mean)  # kept: the old profile is the prior
    assert check.contradicted(features, contradict)
    assert check.weight(features, contradict) == 0.25
    widened_posterior = check.posterior(features, contradict)
    assert np.trace(widened_posterior.prior_cov) > np.trace(old.cov)  # the covariance grew
    assert not check_of(old, 1.0).contradicted(features, contradict)  # retention 1 never widens
    assert check.weight(features, []) == 1.0


def test_jensen_shannon_known_values():
    assert jensen_shannon(np.array(0.3), np.array(0.3)) == pytest.approx(0.0)
    assert jensen_shannon(np.array(0.0), np.array(1.0)) == pytest.approx(np.log(2))
    assert jensen_shannon(np.array(0.2), np.array(0.7)) == pytest.approx(jensen_shannon(np.array(0.7), np.array(0.2)))


def test_the_check_in_asks_about_what_tells_the_hypotheses_apart(world):
    """The chosen pair's divergence is the largest of all pairs; three questions, none repeated."""
    features, old = world
    check = check_of(old, 0.0)
    pool = np.arange(features.shape[0])
    policy = checkin_policy(check, pool)
    state = SelectionState(features, check.kept, pool)
    question = policy.strategy(state, np.random.default_rng(0))
    assert question is not None and question.information is not None

    class Agreeing:
        def answer(self, question):
            i, j = question.items
            return "a" if features[i] @ old.mean > features[j] @ old.mean else "b"

    session, posterior, weight = run_checkin(features, check, policy, Agreeing(), seed=3)
    assert len(session.questions) == CHECKIN_QUESTIONS
    assert len({tuple(sorted(q.items)) for q in session.questions}) == CHECKIN_QUESTIONS
    assert weight == 1.0 and np.array_equal(posterior.prior_mean, old.mean)
    # retention 1: nothing to tell apart, the active pair instead
    same = checkin_policy(check_of(old, 1.0), pool).strategy(SelectionState(features, old, pool), np.random.default_rng(0))
    assert same is not None


def test_earlier_items_count_their_weight_as_pseudo_items():
    rng = np.random.default_rng(2)
    model = KnownModel(rng.normal(size=(12, K)), rng.normal(size=(12, K)), rng.normal(size=K), spd(rng), spd(rng), tau=2.0)
    full = earlier_evidence(model, [1, 2, 3], 1.0)
    assert full is not None
    np.testing.assert_allclose(model.posterior_mean([], full), model.posterior_mean([1, 2, 3]), rtol=1e-5, atol=1e-6)
    assert earlier_evidence(model, [1, 2, 3], 0.0) is None
    half = earlier_evidence(model, [1, 2], 0.5)
    assert half is not None and half.count == pytest.approx(1.0)
    friends = SocialEvidence(2.0, np.ones(K))
    merged = earlier_evidence(model, [4], 0.5, friends)
    assert merged is not None and merged.count == pytest.approx(2.5)
    np.testing.assert_allclose(merged.mean, (0.5 * model.emission[4].astype(float) + 2.0 * np.ones(K)) / 2.5, rtol=1e-6)
    kept = returning_evidence(frozenset({1}), frozenset({2, 3}), 1.0, model)
    assert kept == (frozenset({1, 2, 3}), frozenset(), None)
    known, earlier, social = returning_evidence(frozenset({1}), frozenset({1, 2}), 0.5, model)
    assert known == frozenset({1}) and earlier == frozenset({2}) and social is not None and social.count == 0.5


def test_choose_retention_and_timescale():
    retention, table = choose_retention({1.0: np.array([0.2, 0.2]), 0.5: np.array([0.3, 0.3]), 0.0: np.array([0.3, 0.3])})
    assert retention == 0.5 and len(table) == 3  # the least widening among equals
    elapsed = np.array([0.0, 10.0, 1e6, 2e6, 3e6, 4e6, 5e6, 6e6])
    gains = np.array([-0.5, -0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    timescale, rows = choose_timescale(elapsed, gains, quantiles=(0.0, 0.25, 0.5))
    assert timescale is not None and timescale == pytest.approx(np.quantile(elapsed, 0.25))
    assert [row["users"] for row in rows] == [8, 6, 4]
    assert choose_timescale(elapsed, -np.ones(8))[0] is None
    assert choose_timescale(np.zeros(4), np.ones(4))[0] == MIN_RETURN


def test_returning_tasks_split_in_time():
    users = {"u": (np.arange(10), np.full(10, 4.0))}
    times = {"u": np.arange(10, dtype=float)[::-1] * 100.0}  # item 9 rated first
    (task,) = returning_tasks(users, times, [0], np.array([0]))
    assert isinstance(task.early, RatingsRespondent)
    assert sorted(task.early.query_items.tolist()) == [5, 6, 7, 8, 9]
    assert sorted(task.recent.query_items.tolist()) == [3, 4]
    assert sorted(task.targets.relevant.tolist()) == [0, 1, 2]
    assert task.onboarded_at == 400.0 and task.as_of == 600.0 and task.elapsed == 200.0
