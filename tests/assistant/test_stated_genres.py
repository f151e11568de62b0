"""A stated genre moves MovieLens picks its way, through the public API (bench/stated_genres.py)."""


import pytest

from prefchat.reward.pack import load_pack


@pytest.mark.slow
@pytest.mark.parametrize("answers", ["first", "alternate", "skip"])
def test_no_genre_halves_its_share_and_love_genre_raises_it(movielens_pack, answers, load_bench):
    """Whatever the onboarding answers: "I love documentary movies" from a profile that ranks no
    documentary near the top still brings one in."""
    bench = load_bench("stated_genres")
    report = bench.run(str(movielens_pack), answers)
    # What a user states is weighed by its own validated weight (the generated summary's, watch_beta,
    # may well be 0: validation decides whether it helps the ranking at all).
    assert load_pack(movielens_pack).beta("watch", stated=True) > 0
    for row in report["genres"]:
        assert row["after_no"] <= row["before"] / 2, row
        assert row["after_love"] > row["before"], row
        # the reply says the picks it shows changed exactly when they did
        for label in ("no", "love"):
            assert ("stay as they were" not in row[f"reply_{label}"]) == row[f"moved_{label}"], row
