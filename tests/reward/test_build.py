"""Pack-level choices made by code: how items are judged, pairs or k-way questions."""

import numpy as np
import pytest

from prefchat.reward.build import ANSWERABLE_GINI, infer_answerable, rating_gini


def test_rating_gini_known_values():
    assert rating_gini(np.full(10, 7.0)) == 0.0  # every item rated as often
    assert rating_gini(np.r_[np.zeros(9), 5.0]) == pytest.approx(0.9)  # one item takes all: (n - 1) / n
    assert rating_gini(np.zeros(4)) == 0.0


def test_rating_gini_ignores_order_and_scale():
    counts = np.random.default_rng(0).integers(0, 50, 30).astype(float)
    assert rating_gini(counts) == pytest.approx(rating_gini(counts[::-1] * 3))


def test_auto_answerability_from_how_ratings_spread():
    rng = np.random.default_rng(1)
    films = np.sort(rng.zipf(1.6, 2000).astype(float))  # a heavy head, a long tail of unrated items
    study = np.bincount(np.concatenate([rng.choice(100, 10, replace=False) for _ in range(500)]), minlength=100)
    assert rating_gini(films) >= ANSWERABLE_GINI > rating_gini(study)
    assert infer_answerable("auto", True, films)[0] == "known"
    assert infer_answerable("auto", True, study)[0] == "on-sight"
    assert infer_answerable("auto", False, np.ones(5))[0] == "on-sight"  # pairwise choices: read, then compared
    chosen, evidence = infer_answerable("known", True, study)
    assert chosen == "known" and evidence["requested"] == "known" and evidence["gini"] < ANSWERABLE_GINI
    with pytest.raises(ValueError, match="'sometimes'"):
        infer_answerable("sometimes", True, films)
