"""The episodic-memory baseline of bench/ranking_quality.py, on the small pack of tests/conftest.py."""

import numpy as np
import pytest

from prefchat.elicitation.posterior import Comparison, KWayChoice
from prefchat.research.memory import episodic_scores


@pytest.fixture(scope="module")
def pack(small_pack):
    return small_pack()


def test_episodic_scores_replay_winners_minus_losers(pack):
    e = pack.embeddings.astype(float)
    scores = episodic_scores(pack, [Comparison(3, 8, "b"), Comparison(1, 2, "tie"), Comparison(4, 5, "skip")])
    np.testing.assert_allclose(scores, e @ (e[8] - e[3]), rtol=1e-6)
    assert scores[8] == pytest.approx(1 - e[3] @ e[8]) and scores[3] == pytest.approx(e[3] @ e[8] - 1)
    kway = episodic_scores(pack, [KWayChoice((0, 6, 9), 6)])
    np.testing.assert_allclose(kway, e @ (2 * e[6] - e[0] - e[9]), rtol=1e-6)
    assert not episodic_scores(pack, []).any()
    with pytest.raises(ValueError, match="outside the 60"):
        episodic_scores(pack, [Comparison(3, 60, "a")])
