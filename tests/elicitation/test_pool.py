import numpy as np
import pytest

from prefchat.elicitation.pool import candidate_pool


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
