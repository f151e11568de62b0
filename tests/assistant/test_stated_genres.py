"""A stated genre moves MovieLens picks its way, through the public API (bench/stated_genres.py)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "stated_genres.py"


@pytest.mark.slow
@pytest.mark.parametrize("answers", ["first", "alternate", "skip"])
def test_no_genre_halves_its_share_and_love_genre_raises_it(movielens_pack, answers):
    """Whatever the onboarding answers: "I love documentary movies" from a profile that ranks no
    documentary near the top still brings one in."""
    spec = importlib.util.spec_from_file_location("stated_genres", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    report = bench.run(str(movielens_pack), answers)
    assert report["watch_beta"] > 0
    for row in report["genres"]:
        assert row["after_no"] <= row["before"] / 2, row
        assert row["after_love"] > row["before"], row
        assert row["reply_no"].endswith("Your picks are updated.") or row["before"] == row["after_no"], row
