"""Several tastes per user: the persona split, the attention score and the allotted list, by known answers."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.elicitation.known import KnownModel, components, population, spectral_bases
from prefchat.elicitation.personas import (
    MIN_PERSONA_ITEMS,
    Personas,
    PersonaSettings,
    allotted_order,
    attend,
    split_gain,
    split_personas,
    two_means,
)


def test_the_split_gain_is_wards_criterion():
    points = np.array([[0.0, 0.0], [0.0, 0.0], [2.0, 0.0], [2.0, 0.0]])
    side = np.array([False, False, True, True])
    # n1 n2 / (2 n) |mean1 - mean2|^2 = 2 * 2 / 8 * 4
    assert split_gain(points, side) == pytest.approx(2.0)
    # the same as the drop of the scatter about the means, halved
    whole = ((points - points.mean(0)) ** 2).sum()
    parts = sum(((points[s] - points[s].mean(0)) ** 2).sum() for s in (side, ~side))
    assert split_gain(points, side) == pytest.approx(0.5 * (whole - parts))
    assert split_gain(points, np.zeros(4, dtype=bool)) == 0.0


def test_two_means_finds_two_clusters():
    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(0, 0.1, (5, 3)), rng.normal(5, 0.1, (7, 3))])
    side = two_means(points)
    assert len(set(side[:5])) == 1 and len(set(side[5:])) == 1 and side[0] != side[5]


def test_two_tastes_are_split_and_one_taste_is_kept():
    rng = np.random.default_rng(1)
    k = 20
    two = np.vstack([rng.normal(0, 1, (5, k)) + 4, rng.normal(0, 1, (5, k)) - 4])
    one = rng.normal(0, 1, (10, k))
    items = np.arange(100, 110)
    settings_ = PersonaSettings(max_personas=3, penalty=1.0)
    split = split_personas(items, two, settings_)
    assert sorted(split.groups) == [tuple(range(100, 105)), tuple(range(105, 110))]
    np.testing.assert_allclose(split.shares, [0.5, 0.5])
    assert split_personas(items, one, settings_).groups == (tuple(range(100, 110)),)
    # one persona at most, or a penalty no split can pay: one taste
    assert len(split_personas(items, two, PersonaSettings(max_personas=1))) == 1
    assert len(split_personas(items, two, PersonaSettings(max_personas=3, penalty=1e6))) == 1


def test_every_item_is_in_one_persona_of_at_least_the_least_size():
    rng = np.random.default_rng(2)
    points = np.vstack([rng.normal(0, 1, (6, 10)), [[50.0] * 10]])  # one far item
    personas = split_personas(np.arange(7), points, PersonaSettings(max_personas=3, penalty=0.0))
    assert len(personas) == 3 and all(len(group) >= MIN_PERSONA_ITEMS for group in personas.groups)
    assert (6,) in personas.groups  # the far item is a taste of its own when nothing is charged for one
    assert sorted(i for group in personas.groups for i in group) == list(range(7))


def test_attention_is_the_personas_log_sum_exp():
    scores = np.array([[0.0, -3.0, 1.0], [-2.0, 0.5, 1.0]])
    shares = np.array([0.75, 0.25])
    np.testing.assert_allclose(attend(scores, shares, 1.0), np.log(shares @ np.exp(scores)))
    np.testing.assert_allclose(attend(scores, shares, 0.5), 0.5 * np.log(shares @ np.exp(scores / 0.5)))
    np.testing.assert_array_equal(attend(scores, shares, 0.0), scores.max(0))
    np.testing.assert_array_equal(attend(scores[:1], shares[:1], 0.7), scores[0])  # one persona: its own scores


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 4), st.floats(0.01, 5.0), st.integers(0, 10**6))
def test_attention_lies_between_the_best_persona_less_its_share_and_the_best(p, temperature, seed):
    rng = np.random.default_rng(seed)
    scores, shares = rng.normal(size=(p, 30)), rng.dirichlet(np.ones(p))
    attended = attend(scores, shares, temperature)
    assert np.all(attended <= scores.max(0) + 1e-9)
    assert np.all(attended >= scores.max(0) + temperature * np.log(shares.min()) - 1e-9)


def test_the_allotted_order_gives_each_persona_its_share_of_every_prefix():
    order = np.arange(12)
    personas = np.array([0] * 9 + [1] * 3)  # the second taste's items all rank last
    allotted = allotted_order(order, personas, np.array([0.5, 0.5]))
    assert list(personas[allotted][:6]) == [0, 1, 0, 1, 0, 1]
    assert sorted(allotted) == list(range(12))
    for p in (0, 1):  # each persona's own items keep their order
        mine = [i for i in allotted if personas[i] == p]
        assert mine == sorted(mine)
    np.testing.assert_array_equal(allotted_order(order, np.zeros(12, dtype=int), np.array([1.0])), order)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10**6))
def test_every_prefix_of_an_allotted_list_is_within_one_of_each_share(seed):
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.ones(3))
    personas = rng.integers(0, 3, 200)
    order = rng.permutation(200)
    allotted = allotted_order(order, personas[order], shares)
    counts = np.zeros(3)
    for t, i in enumerate(allotted[:30], start=1):
        counts[personas[i]] += 1
        left = np.array([(personas == p).sum() for p in range(3)]) > counts - 1  # a persona may run out of items
        assert np.all(~left | (np.abs(counts - shares * t) <= 1.0 + 1e-9) | (counts < shares * t))


def _two_taste_model(**personas):
    """A known-items model of 80 users of two tastes: the first 15 items, or the last 15."""
    rng = np.random.default_rng(8)
    taste = np.arange(30) < 15
    x = np.array([(rng.random(30) < np.where(taste == (u % 2 == 0), 0.5, 0.03)) for u in range(80)], float)
    emission, features = spectral_bases(*components(x), 5.0)
    model = KnownModel(features, emission, *population(x, emission), tau=1.0)
    return replace(model, personas=PersonaSettings(**personas)) if personas else model


def test_one_persona_scores_exactly_as_the_single_taste():
    model = _two_taste_model()
    for known in ([], [0, 3], [0, 1, 2, 3, 4, 5], [0, 1, 2, 16, 17, 18]):
        for settings_ in (PersonaSettings(), PersonaSettings(3, 1e6, 0.5)):
            np.testing.assert_array_equal(replace(model, personas=settings_).scores(known), model.scores(known))


def test_a_household_of_two_tastes_is_two_personas_each_ranking_its_own_items():
    model = _two_taste_model(max_personas=2, penalty=1.0, temperature=0.0, dimensions=4)
    household = [0, 1, 2, 3, 4, 5, 20, 21]
    personas = model.split(household)
    assert personas.groups == ((0, 1, 2, 3, 4, 5), (20, 21))
    _, _, own = model.persona_scores(household)
    served = np.argmax(own, axis=0)
    unknown = np.setdiff1d(np.arange(30), household)
    # each taste's unknown items are served by the persona of that taste
    assert np.all(served[unknown[unknown < 15]] == 0) and np.all(served[unknown[unknown >= 15]] == 1)
    # the smaller taste's items rank higher than under one taste: the max over personas does not dilute them
    single = replace(model, personas=PersonaSettings())
    minority = unknown[unknown >= 15]
    assert np.all(model.scores(household)[minority] > single.scores(household)[minority])
    assert len(model.split([0, 1, 2, 3, 4, 5])) == 1 and len(model.split([16, 17, 18, 19, 20, 21])) == 1  # one person stays one
    # in all K directions, most of them noise, the same penalty does not see the household
    assert len(replace(model, personas=replace(model.personas, dimensions=0)).split(household)) == 1


def test_personas_refuse_bad_settings():
    for bad in ({"max_personas": 0}, {"penalty": -1.0}, {"temperature": float("nan")}, {"dimensions": -1}):
        with pytest.raises(ValueError):
            PersonaSettings(**bad)
    assert PersonaSettings.from_dict(PersonaSettings(2, 0.5, 0.25, 4).to_dict()) == PersonaSettings(2, 0.5, 0.25, 4)
    assert Personas(((1, 2, 3), (7, 8))).of(8) == 1 and Personas(((1,),)).of(5) is None

