"""The onboarding loop: one fold, deterministic, with its prior, policy and objective explicit."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.elicitation import Comparison, KWayChoice, Posterior, laplace_posterior
from prefchat.elicitation.evaluate import SESSIONS
from prefchat.elicitation.onboarding import (
    CatalogScore,
    Policy,
    as_answer,
    known_items,
    next_question,
    question_rng,
    replay,
    run_session,
)
from prefchat.elicitation.posterior import base_rate_offset, predictive_logits
from prefchat.elicitation.respondents import RatingsRespondent
from prefchat.elicitation.selection import STRATEGIES, Question

N_ITEMS, N_BASES = 30, 3


@pytest.fixture(scope="module")
def features():
    return np.random.default_rng(5).normal(size=(N_ITEMS, N_BASES))


@pytest.fixture(scope="module")
def prior():
    return Posterior.from_prior(np.zeros(N_BASES), np.eye(N_BASES))


class Skipper:
    def answer(self, question):
        return "skip" if question.is_pair else None


def test_replay_continued_is_bit_for_bit_replay_from_scratch(features, prior):
    answers = [Comparison(0, 1, "a"), Comparison(2, 3, "b"), Comparison(4, 5, "tie"), Comparison(6, 7, "skip")]
    held = replay(prior, features, answers[:2])
    continued, scratch = replay(prior, features, answers, start=held), replay(prior, features, answers)
    assert continued.answers == scratch.answers == tuple(answers)
    np.testing.assert_array_equal(continued.mean, scratch.mean)
    np.testing.assert_array_equal(continued.cov, scratch.cov)


def test_replay_ignores_a_start_that_is_not_a_prefix(features, prior):
    other = replay(prior, features, [Comparison(9, 8, "a")])
    answers = [Comparison(0, 1, "a")]
    np.testing.assert_array_equal(replay(prior, features, answers, start=other).mean, replay(prior, features, answers).mean)


def test_replay_reaches_the_map_of_all_answers(features, prior):
    answers = [Comparison(i, i + 1, "a" if i % 3 else "b") for i in range(0, 20, 2)]
    map_fit = laplace_posterior(prior.prior_mean, prior.prior_cov, features, answers)
    np.testing.assert_allclose(replay(prior, features, answers).mean, map_fit.mean, atol=1e-8)


def test_question_rng_depends_on_seed_and_position_only():
    assert question_rng(7, 3).random() == question_rng(7, 3).random()
    assert question_rng(7, 3).random() != question_rng(7, 4).random() != question_rng(8, 3).random()


def test_next_question_stops_at_max_and_not_before_min(features, prior):
    pool = np.arange(10)
    policy = Policy(STRATEGIES["active"], pool, min_questions=2, max_questions=4, threshold=1e9)
    assert next_question(features, prior, policy, asked=0, seed=1) is not None  # below min: never early
    assert next_question(features, prior, policy, asked=2, seed=1) is None  # from min on: threshold binds
    assert next_question(features, prior, Policy(STRATEGIES["active"], pool, min_questions=0, max_questions=4), asked=4, seed=1) is None


def test_a_users_own_familiarity_stands_in_for_the_populations(features, prior):
    # Everyone knows every item, says the population; this user's answers say they know only items 0-9.
    seen = []

    def knowing(answers, items):
        seen.append(tuple(answers))
        assert items.tolist() == pool.tolist()  # the pool only: no pass over the catalog
        return np.where(items < 10, 0.9, 0.0)

    pool, everyone = np.arange(N_ITEMS), np.ones(N_ITEMS)
    respondent = RatingsRespondent(np.arange(10), np.arange(10.0), "watch")
    for strategy in (STRATEGIES["active"], SESSIONS["kway"]):
        own = Policy(strategy, pool, familiarity=everyone, min_questions=4, max_questions=4, knowing=knowing)
        session = run_session(features, prior, own, respondent, seed=3)
        assert [answer for answer in seen[-4:]] == [p.answers for p in session.posteriors[:4]]  # read before each question
        assert not any(session.dont_know)  # every question holds an item this user knows
        population = run_session(features, prior, Policy(strategy, pool, familiarity=everyone, min_questions=4,
                                                         max_questions=4), respondent, seed=3)
        assert [q.items for q in population.questions] != [q.items for q in session.questions]


def test_policy_rejects_an_inverted_stop_rule():
    with pytest.raises(ValueError, match="min_questions"):
        Policy(STRATEGIES["active"], np.arange(4), min_questions=5, max_questions=3)


def test_a_session_stops_when_nothing_is_left_to_ask(features, prior):
    respondent = RatingsRespondent(np.array([0, 1, 2]), np.array([1.0, 2.0, 3.0]), "prefer")
    policy = Policy(STRATEGIES["active"], np.array([0, 1, 2]), min_questions=10, max_questions=10)
    session = run_session(features, prior, policy, respondent, seed=0)
    assert len(session.questions) == 3 and len(session.posteriors) == 4  # three pairs among three items
    assert not any(session.dont_know)
    assert len(session.posteriors[-1].answers) == 3


def test_a_kway_dont_know_marks_its_options_unknown(features, prior):
    policy = Policy(SESSIONS["kway"], np.arange(8), min_questions=5, max_questions=5)
    session = run_session(features, prior, policy, Skipper(), seed=0)
    assert session.dont_know == (True, True)  # 4 + 4 options: then every pool item is unknown
    assert session.posteriors[-1] is prior


def test_the_same_seed_asks_the_same_questions_and_another_may_not(features, prior):
    respondent = RatingsRespondent(np.arange(0, 30, 2), np.arange(15.0), "watch")
    policy = Policy(STRATEGIES["random"], np.arange(N_ITEMS), min_questions=6, max_questions=6)
    first, again = (run_session(features, prior, policy, respondent, seed=11) for _ in range(2))
    assert [q.items for q in first.questions] == [q.items for q in again.questions]
    assert [q.items for q in first.questions] != [q.items for q in run_session(features, prior, policy, respondent, 12).questions]


def test_as_answer_turns_responses_into_evidence():
    assert as_answer(Question((3, 4)), "b") == Comparison(3, 4, "b")
    assert as_answer(Question((3, 4, 5)), 5) == KWayChoice((3, 4, 5), 5)
    assert as_answer(Question((3, 4, 5)), None) is None


def test_known_items_are_winners_ties_and_picks_never_losers_or_skips():
    answers = [Comparison(0, 1, "a"), Comparison(2, 3, "b"), Comparison(4, 5, "tie"), Comparison(6, 7, "skip"),
               KWayChoice((8, 9, 10), 9)]
    assert known_items(answers) == {0, 3, 4, 5, 9}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.sampled_from(["a", "b", "tie", "skip"])), max_size=8))
def test_known_items_do_not_depend_on_the_side_shown(pairs):
    """Swapping a pair and flipping its answer is the same answer, and shows the same items known."""
    flip = {"a": "b", "b": "a", "tie": "tie", "skip": "skip"}
    pairs = [(a, b, c) for a, b, c in pairs if a != b]
    shown = [Comparison(a, b, c) for a, b, c in pairs]
    swapped = [Comparison(b, a, flip[c]) for a, b, c in pairs]
    assert known_items(shown) == known_items(swapped)


def test_catalog_score_is_the_mean_utility_or_the_calibrated_predictive(features, prior):
    posterior = replay(prior, features, [Comparison(0, 1, "a"), Comparison(2, 3, "b")])
    np.testing.assert_array_equal(CatalogScore(features)(posterior), features @ posterior.mean)
    base_rate = np.linspace(0.05, 0.6, N_ITEMS)
    offset = base_rate_offset(features, prior.prior_mean, prior.prior_cov, base_rate)
    score = CatalogScore(features, offset)
    np.testing.assert_array_equal(score(posterior),
                                  predictive_logits(features, posterior.mean, posterior.cov, offset))
    np.testing.assert_allclose(score(prior), np.log(base_rate / (1 - base_rate)))  # the prior's is the base rate


def test_top_k_breaks_ties_by_lower_index_whatever_lies_below():
    """A tie at the k-th score keeps the lowest-indexed items, so a list cut short (the rest -inf)
    ranks like the full one: what a served list scores is what the full ranking scores."""
    from prefchat.elicitation.metrics import top_k

    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = rng.integers(0, 4, size=40).astype(float)
        k = int(rng.integers(1, 40))
        full = top_k(scores, k)
        assert full.tolist() == np.lexsort((np.arange(40), -scores))[:k].tolist()
        cut = np.where(np.isin(np.arange(40), full), scores, -np.inf)
        assert top_k(cut, k).tolist() == full.tolist()


@pytest.mark.parametrize("strategy", [*STRATEGIES, "kway"])
@pytest.mark.parametrize("protocol", ["watch", "prefer"])
@pytest.mark.parametrize("grouped", [False, True])
def test_a_session_never_repeats_a_pair_nor_a_shared_prompt(features, prior, strategy, protocol, grouped):
    # A "prefer" respondent answers a k-way question among the options it rated only (a KWayChoice of
    # fewer options than shown), and skips pairs with an unrated item: neither may come back.
    rng = np.random.default_rng(3)
    items = rng.choice(N_ITEMS, size=18, replace=False)
    respondent = RatingsRespondent(items, rng.integers(1, 6, size=items.size).astype(float), protocol)
    groups = np.arange(N_ITEMS) // 3 if grouped else None
    policy = Policy(SESSIONS[strategy], np.arange(N_ITEMS), groups, min_questions=25, max_questions=25)
    session = run_session(features, prior, policy, respondent, seed=9)
    pairs = [frozenset(pair) for question in session.questions for pair in combinations(question.items, 2)]
    assert len(session.questions) > 3 and len(pairs) == len(set(pairs)), "a pair was asked twice"
    if grouped:
        prompts = [int(groups[question.items[0]]) for question in session.questions]
        assert len(prompts) == len(set(prompts)), "a shared prompt was asked twice"


@pytest.mark.parametrize("strategy", [*STRATEGIES, "kway"])
@pytest.mark.parametrize("protocol", ["watch", "prefer"])
def test_a_session_shows_each_item_once_while_the_pool_has_others(features, prior, strategy, protocol):
    # Thirty items hold fifteen pairs or seven 4-way questions of items never shown before: no film
    # comes back in a later question until the pool runs short of fresh ones.
    rng = np.random.default_rng(4)
    items = rng.choice(N_ITEMS, size=18, replace=False)
    respondent = RatingsRespondent(items, rng.integers(1, 6, size=items.size).astype(float), protocol)
    clicks = N_ITEMS // (4 if strategy == "kway" else 2)
    policy = Policy(SESSIONS[strategy], np.arange(N_ITEMS), min_questions=clicks, max_questions=clicks)
    session = run_session(features, prior, policy, respondent, seed=2)
    shown = [item for question in session.questions for item in question.items]
    assert len(session.questions) == clicks and len(shown) == len(set(shown)), "an item was shown twice"
