"""Acceptance on real data: at zero answers the population model ties or beats popularity."""

import pytest

from prefchat.reward.build import KWAY_SIZES
from prefchat.reward.pack import load_pack


@pytest.mark.slow
def test_movielens_pack_population_model_is_at_least_the_mean_rating_baseline(movielens_pack):
    pack = load_pack(movielens_pack)
    report = pack.manifest["metrics"]["test_zero_answers"]
    assert report["n_test_users"] >= 100
    # At zero answers the population model ties the mean-rating baseline (the prototype
    # found the same): it must never be significantly worse, paired per test user.
    assert report["population_minus_mean_rating"]["ci95"][1] >= 0
    assert report["pairwise_accuracy_population_model"] > report["pairwise_accuracy_popularity_count"]
    assert pack.n_items == 9742 and pack.manifest["population_coordinates"] == ["popularity", "quality"]
    trials = pack.manifest["selection"]["trials"]
    assert len(trials) >= 5 and all("validation" in t for t in trials)
    # Films must be known to be judged: ratings concentrate on the head, and sessions ask "which would you pick?".
    assert pack.answerable == "known" and pack.manifest["selection"]["answerable"]["gini"] >= 0.5
    # pairs, 4-way, and 4-way with the taste slot (a tags pack) were tried; the slot only with 4-way questions
    kway = max(KWAY_SIZES, key=lambda k: (pack.manifest["selection"]["question_size"][str(k)], -k))
    assert pack.question_size in (2, *KWAY_SIZES)
    assert set(pack.manifest["selection"]["question_size"]) == {"2", *map(str, KWAY_SIZES), f"{kway}+tastes"}
    assert pack.question_tastes in (False, pack.question_size == kway)
