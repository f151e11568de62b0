import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.elicitation.pool import candidate_pool, covering


@pytest.fixture
def catalog():
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 5)), rng.gamma(2.0, size=400)


def test_pool_is_the_most_popular_items_plus_diverse_ones(catalog):
    features, popularity = catalog
    pool = candidate_pool(features, popularity, size=100, diverse_share=0.2, depth=3.0, rng=0)
    ranking = np.argsort(-popularity)
    assert pool.size == np.unique(pool).size == 100
    np.testing.assert_array_equal(pool[:80], ranking[:80])
    assert set(pool[80:]) <= set(ranking[80:300])


def test_no_diverse_share_is_the_popularity_ranking(catalog):
    features, popularity = catalog
    np.testing.assert_array_equal(candidate_pool(features, popularity, size=50, diverse_share=0.0), np.argsort(-popularity)[:50])
    assert sorted(candidate_pool(features, popularity, size=1000)) == list(range(400))


def test_diverse_items_reach_a_direction_the_popular_ones_miss():
    # The 50 most popular items sit near the origin; ten less popular ones far away along one base.
    rng = np.random.default_rng(1)
    features = rng.normal(scale=0.1, size=(200, 3))
    features[100:110, 0] += 10.0
    popularity = np.linspace(200, 1, 200)
    pool = candidate_pool(features, popularity, size=60, diverse_share=1 / 6, depth=3.0, rng=2)
    assert np.any((pool >= 100) & (pool < 110))
    assert not np.any(candidate_pool(features, popularity, size=60, diverse_share=0.0) >= 100)


def test_all_diverse_starts_from_the_most_popular_and_is_deterministic_given_a_seed(catalog):
    features, popularity = catalog
    pool = candidate_pool(features, popularity, size=30, diverse_share=1.0, rng=5)
    assert pool[0] == np.argmax(popularity)
    np.testing.assert_array_equal(pool, candidate_pool(features, popularity, size=30, diverse_share=1.0, rng=5))


def test_duplicate_features_still_fill_the_pool():
    pool = candidate_pool(np.zeros((20, 2)), np.arange(20.0), size=10, diverse_share=0.5, rng=0)
    assert pool.size == np.unique(pool).size == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "size must be at least 1, got 0"),
        ({"diverse_share": 1.5}, "1.5"),
        ({"depth": 0.5}, "0.5"),
        ({"popularity": np.ones(3)}, "shape \\(400,\\)"),
    ],
)
def test_bad_arguments_are_named(catalog, kwargs, message):
    features, popularity = catalog
    with pytest.raises(ValueError, match=message):
        candidate_pool(**({"features": features, "popularity": popularity} | kwargs))


def test_a_taste_the_head_misses_takes_the_place_of_the_least_popular_item_no_taste_needs():
    # Items 0..5 the most popular, 6..9 reachable. Taste 0 only in 8 and 9; taste 1 only in 5 (the least popular).
    tastes = np.zeros((10, 2), dtype=bool)
    tastes[[8, 9], 0] = True
    tastes[5, 1] = True
    popular, reach = np.arange(6), np.arange(6, 10)
    assert covering(popular, reach, tastes, per_taste=1).tolist() == [0, 1, 2, 3, 5, 8]  # 4 gives way, not 5
    assert covering(popular, reach, tastes, per_taste=2).tolist() == [0, 1, 2, 5, 8, 9]  # taste 1 has only one
    assert covering(popular, reach, tastes[:, 1:], per_taste=1).tolist() == list(range(6))  # held already: as it was


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_a_covered_pool_keeps_its_size_and_holds_each_taste_it_can(seed, per_taste):
    rng = np.random.default_rng(seed)
    features, popularity = rng.normal(size=(200, 4)), rng.gamma(2.0, size=200)
    tastes = rng.random((200, 6)) < np.array([0.3, 0.1, 0.02, 0.02, 0.01, 0.0])
    pool = candidate_pool(features, popularity, size=40, rng=seed, tastes=tastes)
    assert pool.size == np.unique(pool).size == 40
    reach = np.argsort(-popularity, kind="stable")[:120]  # depth 3
    covered = covering(reach[:32], reach[32:], tastes, per_taste)
    assert covered.size == 32 and np.unique(covered).size == 32
    for t in range(tastes.shape[1]):
        assert tastes[covered, t].sum() >= min(per_taste, tastes[reach, t].sum())
    plain = candidate_pool(features, popularity, size=40, rng=seed)
    if all(tastes[plain[:32], t].sum() >= min(3, tastes[reach, t].sum()) for t in range(6)):
        np.testing.assert_array_equal(pool[:32], plain[:32])  # a head that holds every taste stays as it was
