"""Acceptance on real data: the population model ties or beats popularity at zero answers."""

import pytest

from prefchat.reward.pack import load_pack


@pytest.mark.slow
def test_movielens_pack_population_model_is_at_least_the_mean_rating_baseline(movielens_pack):
    pack = load_pack(movielens_pack)
    report = pack.manifest["metrics"]["test_zero_answers"]
    assert report["n_test_users"] >= 100
    assert report["pairwise_accuracy_population_model"] >= report["pairwise_accuracy_mean_rating"]
    assert pack.n_items == 9742 and pack.manifest["population_coordinates"] == ["popularity", "quality"]
    trials = pack.manifest["selection"]["trials"]
    assert len(trials) >= 5 and all("validation" in t for t in trials)
