from dataclasses import replace
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import entr, expit
from scipy.stats import spearmanr

from prefchat.elicitation.posterior import Comparison, KWayChoice, Posterior, ml_fit
from prefchat.elicitation.selection import (
    STRATEGIES,
    SelectionState,
    _logistic_weight,
    active,
    active_kway,
    bald_information,
    kway_information,
    pair_information,
    pair_moments,
    pref_reference,
    random_pair,
    should_stop,
)


def _state(seed=0, n_items=12, n_bases=3, answers=(), **kwargs):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_items, n_bases))
    a = rng.normal(size=(n_bases, n_bases))
    posterior = Posterior.from_prior(rng.normal(size=n_bases), a @ a.T + 0.5 * np.eye(n_bases))
    for answer in answers:
        posterior = posterior.update(features, answer)
    return SelectionState(features, posterior, np.arange(n_items), **kwargs)


def _brute_force_best(state, score):
    """Argmax of score(x) over allowed pairs, by a plain loop."""
    unknown, asked = state.unknown_items, state.asked_pairs
    shown = {item for answer in state.answers for item in answer.items}
    fresh = [item for item in state.pool.tolist() if item not in unknown and item not in shown]
    best, best_pair = -np.inf, None
    for a, b in combinations(state.pool.tolist(), 2):
        if a in unknown or b in unknown or (a, b) in asked:
            continue
        if len(fresh) >= 2 and (a in shown or b in shown):
            continue
        if state.groups is not None and (state.groups[a] != state.groups[b] or state.groups[a] in state.asked_groups):
            continue
        value = score(state.features[a] - state.features[b])
        if value > best:
            best, best_pair = value, {a, b}
    return best, best_pair


# --------------------------------------------------------------------------- scores


def test_pair_moments_match_a_loop_over_pairs():
    rng = np.random.default_rng(1)
    features, mean = rng.normal(size=(7, 3)), rng.normal(size=3)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T
    margin, variance = pair_moments(features, mean, cov)
    for i, j in combinations(range(7), 2):
        x = features[i] - features[j]
        assert margin[i, j] == pytest.approx(mean @ x) and margin[j, i] == pytest.approx(-mean @ x)
        assert variance[i, j] == pytest.approx(x @ cov @ x) and variance[j, i] == pytest.approx(x @ cov @ x)


def test_pair_information_is_the_log_det_reduction():
    rng = np.random.default_rng(2)
    mean, x = rng.normal(size=3), rng.normal(size=3)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + np.eye(3)
    s = expit(mean @ x)
    updated = np.linalg.inv(np.linalg.inv(cov) + s * (1 - s) * np.outer(x, x))
    expected = 0.5 * (np.linalg.slogdet(cov)[1] - np.linalg.slogdet(updated)[1])
    assert pair_information(mean @ x, x @ cov @ x) == pytest.approx(expected)
    two_way = kway_information(np.stack([x, np.zeros(3)]), mean, cov)
    assert two_way == pytest.approx(expected)


def test_logistic_weight_is_the_derivative_of_the_sigmoid():
    z = np.linspace(-10.0, 10.0, 401)
    h = 1e-5
    finite_difference = (expit(z + h) - expit(z - h)) / (2 * h)
    np.testing.assert_allclose(_logistic_weight(z), finite_difference, rtol=1e-5)
    far = np.linspace(-80.0, 80.0, 801)  # float32 inside: relative error |z| * 6e-8 where w is tiny
    exact = np.exp(-np.abs(far)) / (1 + np.exp(-np.abs(far))) ** 2
    np.testing.assert_allclose(_logistic_weight(far), exact, rtol=1e-5)
    into = far.copy()
    assert _logistic_weight(into, out=into) is into and np.allclose(into, exact, rtol=1e-5, atol=0)


def test_logistic_weight_survives_huge_margins():
    assert pair_information(np.array([1e6, -1e6]), np.array([1.0, 1.0])).tolist() == [0.0, 0.0]


def test_bald_information_is_close_to_the_exact_mutual_information():
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()

    def exact(mu, var):  # I = h(E sigma(f)) - E h(sigma(f)), f ~ N(mu, var), by Gauss-Hermite
        s = expit(mu + np.sqrt(var) * nodes)
        return entr(weights @ s) + entr(1 - weights @ s) - weights @ (entr(s) + entr(1 - s))

    mu, var = (g.ravel() for g in np.meshgrid([0.0, 0.5, 1.0, 2.0, 4.0], [0.0, 0.5, 1.0, 4.0, 16.0]))
    truth = np.array([exact(m, v) for m, v in zip(mu, var)])
    approx = bald_information(mu, var)
    np.testing.assert_allclose(approx, truth, atol=0.03)
    assert np.all(approx[var == 0] < 1e-3)
    assert spearmanr(approx, truth).statistic > 0.99


# --------------------------------------------------------------------------- strategies


def test_active_asks_the_brute_force_best_pair():
    state = _state(answers=[Comparison(0, 1, "a"), Comparison(2, 3, "skip")], unknown=frozenset({5}))
    mean, cov = state.posterior.mean, state.posterior.cov
    best, pair = _brute_force_best(state, lambda x: float(pair_information(mean @ x, x @ cov @ x)))
    question = active(state, np.random.default_rng(0))
    assert set(question.items) == pair
    assert question.information == pytest.approx(best)


def test_bald_asks_the_brute_force_best_pair():
    state = _state(seed=3, answers=[Comparison(4, 1, "b")])
    mean, cov = state.posterior.mean, state.posterior.cov
    best, pair = _brute_force_best(state, lambda x: float(bald_information(mean @ x, x @ cov @ x)))
    question = STRATEGIES["bald"](state, np.random.default_rng(0))
    assert set(question.items) == pair and question.information == pytest.approx(best)


def test_pref_reference_first_question_is_random_then_the_official_rule():
    state = _state(seed=4)
    assert pref_reference(state, np.random.default_rng(5)) == random_pair(state, np.random.default_rng(5))
    state = _state(seed=4, answers=[Comparison(0, 1, "a"), Comparison(2, 3, "b"), Comparison(4, 5, "tie")])
    u = ml_fit(state.features, state.answers).mean
    diffs = [state.features[a] - state.features[b] for a, b in [(0, 1), (2, 3), (4, 5)]]
    sigma = 0.001 * np.eye(3) + sum(expit(u @ x) * (1 - expit(u @ x)) * np.outer(x, x) for x in diffs)
    _, pair = _brute_force_best(
        state, lambda x: (expit(u @ x) * (1 - expit(u @ x))) ** 2 * x @ np.linalg.solve(sigma, x)
    )
    question = pref_reference(state, np.random.default_rng(0))
    assert set(question.items) == pair and question.information is None


def test_strategies_are_deterministic_given_the_rng():
    state = _state(seed=6, n_items=20)
    for strategy in STRATEGIES.values():
        assert strategy(state, np.random.default_rng(8)) == strategy(state, np.random.default_rng(8))


def test_random_pair_exhausts_every_pair_exactly_once():
    state = _state(n_items=5)
    rng = np.random.default_rng(0)
    seen = []
    while (question := random_pair(state, rng)) is not None:
        seen.append(frozenset(question.items))
        answers = (*state.answers, Comparison(*question.items, "tie"))
        state = _state(n_items=5, answers=answers)
    assert len(seen) == 10 and set(seen) == {frozenset(p) for p in combinations(range(5), 2)}


def test_only_pairs_within_a_group_are_asked():
    groups = np.repeat(np.arange(4), 3)  # 4 groups of 3
    state = _state(groups=groups)
    for name, strategy in STRATEGIES.items():
        question = strategy(state, np.random.default_rng(1))
        assert groups[question.items[0]] == groups[question.items[1]], name
    kway = active_kway(state, np.random.default_rng(1), k=4)
    assert len(kway.items) == 3 and len(set(groups[list(kway.items)])) == 1
    singletons = _state(groups=np.arange(12))
    assert all(strategy(singletons, np.random.default_rng(1)) is None for strategy in STRATEGIES.values())


def test_a_group_once_asked_is_not_asked_again():
    """Items of one group answer one shared prompt: after a question from group 0 (answered,
    skipped, or a k-way question none of whose items the user knew), no strategy asks group 0."""
    groups = np.repeat(np.arange(4), 3)  # 4 groups of 3; group 0 is items 0, 1, 2
    for asked in ({"answers": [Comparison(0, 1, "a")]}, {"answers": [Comparison(1, 2, "skip")]}, {"unknown": frozenset({0, 1, 2})}):
        state = _state(groups=groups, **asked)
        assert state.asked_groups.tolist() == [0]
        for name, strategy in STRATEGIES.items():
            assert groups[list(strategy(state, np.random.default_rng(1)).items)].tolist() != [0, 0], name
        assert 0 not in groups[list(active_kway(state, np.random.default_rng(1), k=3).items)]
    assert _state().asked_groups.size == 0


def test_active_kway_is_greedy_on_kway_information():
    state = _state(seed=9, n_items=15, answers=[Comparison(0, 1, "a")])
    mean, cov = state.posterior.mean, state.posterior.cov
    question = active_kway(state, np.random.default_rng(0), k=3)
    assert len(set(question.items)) == 3
    assert question.information == pytest.approx(kway_information(state.features[list(question.items)], mean, cov))
    pair = set(active(state, np.random.default_rng(0)).items)
    assert pair < set(question.items)
    others = [i for i in range(2, 15) if i not in question.items]  # 0 and 1 were shown before
    alternatives = [kway_information(state.features[[*pair, i]], mean, cov) for i in others]
    assert question.information >= max(alternatives)


def test_the_taste_slot_offers_a_taste_no_question_has_shown():
    # Items 0-11 carry taste 0 (the head), 12 and 13 taste 1, 14 taste 2: information alone asks the head.
    tastes = np.zeros((15, 3), dtype=bool)
    tastes[:12, 0], tastes[12:14, 1], tastes[14, 2] = True, True, True
    state = _state(seed=9, n_items=15, answers=[KWayChoice((0, 12, 3), 0)], tastes=tastes)
    question = active_kway(state, np.random.default_rng(0), k=4)
    plain = active_kway(replace(state, tastes=None), np.random.default_rng(0), k=4)
    assert 14 in question.items  # taste 1 was shown by the first question; taste 2 never was
    others = [i for i in question.items if i != 14]
    assert set(others) <= set(plain.items) and len(set(question.items)) == 4  # the other options are information's
    shown_all = _state(seed=9, n_items=15, answers=[KWayChoice((0, 12, 14), 0)], tastes=tastes)
    assert active_kway(shown_all, np.random.default_rng(0), k=4).items == \
        active_kway(replace(shown_all, tastes=None), np.random.default_rng(0), k=4).items  # nothing new to show: no slot


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_each_question_with_the_taste_slot_shows_a_taste_not_shown_before(seed):
    # Twelve items, six tastes of two items each: while a taste is left unshown, each 3-way question shows one.
    rng = np.random.default_rng(seed)
    tastes = np.zeros((12, 6), dtype=bool)
    tastes[np.arange(12), rng.permutation(np.repeat(np.arange(6), 2))] = True
    state = _state(seed=seed % 1000, n_items=12, tastes=tastes)
    for _ in range(3):
        question = active_kway(state, rng, k=3)
        new = tastes[list(question.items)].any(axis=0) & ~state.shown_tastes
        assert new.any() or state.shown_tastes.all(), "a question showed no new taste while one was left"
        state = replace(state, posterior=state.posterior.update(state.features, KWayChoice(question.items, question.items[0])))


# --------------------------------------------------------------------------- whole sessions


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from([*STRATEGIES, "active-4way"]),
    st.integers(0, 2**32 - 1),
    st.lists(st.sampled_from(["a", "b", "tie", "skip"]), min_size=1, max_size=30),
    st.booleans(),
)
def test_a_session_never_repeats_a_pair_a_shared_prompt_nor_asks_unknown_items(name, seed, choices, grouped):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 3, size=10) if grouped else None
    state = _state(seed=seed % 1000, n_items=10, groups=groups, unknown=frozenset({9}))
    asked, asked_groups = set(), {int(groups[9])} if grouped else set()
    for choice in choices:
        if name == "active-4way":
            question = active_kway(state, rng, k=4)
        else:
            question = STRATEGIES[name](state, rng)
        if question is None:
            break
        items = question.items
        pairs = {frozenset(p) for p in combinations(items, 2)}
        assert not pairs & asked, "a pair was asked twice"
        assert not set(items) & state.unknown_items, "an unknown item was asked"
        if groups is not None:
            assert len(set(groups[list(items)])) == 1
            assert int(groups[items[0]]) not in asked_groups, "a shared prompt was asked twice"
            asked_groups.add(int(groups[items[0]]))
        asked |= pairs
        if question.is_pair:
            answer = Comparison(*items, choice)
        else:
            answer = KWayChoice(items, items[rng.integers(len(items))])
        state = SelectionState(state.features, state.posterior.update(state.features, answer), state.pool, groups, state.unknown)


# --------------------------------------------------------------------------- stopping


@pytest.mark.parametrize(
    ("n_answered", "information", "expected"),
    [(3, 0.0, False), (5, 0.005, True), (5, 0.5, False), (7, None, False), (10, 0.5, True), (12, None, True)],
)
def test_should_stop(n_answered, information, expected):
    assert should_stop(n_answered, information) is expected


def test_should_stop_rejects_bad_limits():
    with pytest.raises(ValueError, match="6 and 4"):
        should_stop(3, 0.1, min_questions=6, max_questions=4)
    with pytest.raises(ValueError, match="-0.1"):
        should_stop(3, 0.1, threshold=-0.1)


def test_state_rejects_bad_pool_and_groups():
    state = _state()
    with pytest.raises(ValueError, match="range\\(12\\)"):
        SelectionState(state.features, state.posterior, np.array([0, 12]))
    with pytest.raises(ValueError, match="more than once"):
        SelectionState(state.features, state.posterior, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="groups must have shape"):
        SelectionState(state.features, state.posterior, state.pool, groups=np.zeros(3))


def test_pair_answerability_known_values():
    from prefchat.elicitation.selection import pair_answerability

    np.testing.assert_allclose(pair_answerability(np.array([1.0, 0.0, 0.5])),
                               [[1, 1, 1], [1, 0, 0.5], [1, 0.5, 0.75]])


@given(st.lists(st.floats(0, 1), min_size=2, max_size=2))
def test_kway_answerability_of_two_options_is_the_pairs(familiarity):
    from prefchat.elicitation.selection import kway_answerability, pair_answerability

    assert kway_answerability(np.array(familiarity)) == pytest.approx(pair_answerability(np.array(familiarity))[0, 1])


def test_kway_answerability_known_values():
    from prefchat.elicitation.selection import kway_answerability

    np.testing.assert_allclose(kway_answerability(np.array([[0.5, 0.5, 0.5, 0.5], [0, 0, 0, 1.0], [0, 0, 0, 0]])),
                               [1 - 0.5**4, 1, 0])


def test_active_kway_completes_a_question_by_information_times_the_chance_of_an_answer():
    from prefchat.elicitation.selection import kway_answerability

    familiarity = np.linspace(0.05, 0.95, 15)
    state = _state(seed=9, n_items=15, familiarity=familiarity)
    mean, cov = state.posterior.mean, state.posterior.cov
    question = active_kway(state, np.random.default_rng(0), k=3)
    pair = set(active(state, np.random.default_rng(0)).items)
    third = (set(question.items) - pair).pop()
    expected = [kway_information(state.features[[*pair, i]], mean, cov) * kway_answerability(familiarity[[*pair, i]])
                for i in range(15) if i not in pair]
    assert question.information == pytest.approx(max(expected))
    got = kway_information(state.features[list(question.items)], mean, cov) * kway_answerability(familiarity[list(question.items)])
    assert got == pytest.approx(max(expected)) and third not in pair


def test_active_avoids_pairs_nobody_knows():
    from prefchat.elicitation import Posterior
    from prefchat.elicitation.selection import SelectionState, active

    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3))
    posterior = Posterior.from_prior(np.zeros(3), np.eye(3))
    familiarity = np.where(np.arange(40) < 20, 0.0, 0.9)  # the first 20 items: nobody knows them
    unweighted = active(SelectionState(features, posterior, np.arange(40)), np.random.default_rng(1))
    weighted = active(SelectionState(features, posterior, np.arange(40), familiarity=familiarity), np.random.default_rng(1))
    assert min(weighted.items) >= 20 or max(weighted.items) >= 20
    assert not all(i < 20 for i in weighted.items)
    # Weighing by the chance of an answer never raises the expected information.
    assert weighted.information <= 0.5 * np.log1p(np.inf if unweighted.information is None else np.expm1(2 * unweighted.information)) + 1e-12


def test_random_kway_asks_k_allowed_items_and_depends_on_its_rng_only():
    from prefchat.elicitation.selection import random_kway

    state = _state(seed=4, n_items=20, answers=[KWayChoice((0, 1, 2, 3), 1)], unknown=frozenset({4, 5}))
    question = random_kway(state, np.random.default_rng(3), k=4)
    assert len(set(question.items)) == 4 and not {0, 1, 2, 3, 4, 5} & set(question.items)  # fresh, known, never asked
    assert question == random_kway(state, np.random.default_rng(3), k=4) and question.information is None
    assert len({random_kway(state, np.random.default_rng(seed), k=4).items for seed in range(10)}) > 5
    with pytest.raises(ValueError, match="k >= 2"):
        random_kway(state, np.random.default_rng(0), k=1)
