"""Every reason true on MovieLens: scripted users with fixed tastes (bench/reason_check.py), the
other half of issue 21's acceptance with tests/default/test_reason_check.py."""

import pytest


@pytest.mark.slow
def test_every_scripted_film_user_gets_true_reasons_that_cite_their_answers(movielens_pack, load_bench):
    """Two scripted users per genre carried by at least 20 films ("always the horror", "never the
    horror"), 10 answers each, their top 20 before and after "I love horror" / "no horror please"."""
    bench = load_bench("reason_check")
    report = bench.run(str(movielens_pack))
    assert report["users"] >= 40, report["users"]
    assert report["contradicted"] == 0, report["false"]
    assert report["personal_share"] >= 0.9, report["personal_share"]
    assert not report["misread_statements"]
    assert report["sessions_with_a_card_again"] == 0, report["cards_again_per_session"]  # forty films, forty different
    assert all(row["n_answers"] == bench.ANSWERS for row in report["rows"])
