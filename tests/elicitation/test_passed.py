"""Cards passed over: each time an item was shown beside a pick and not picked, and nothing else."""

import numpy as np

from prefchat.elicitation.passed import passed_over
from prefchat.elicitation.posterior import Comparison, KWayChoice


def test_passed_over_counts_the_cards_not_picked_beside_a_pick():
    answers = [Comparison(0, 1, "a"), Comparison(2, 1, "a"), Comparison(1, 3, "b"), KWayChoice((4, 1, 5, 6), 5)]
    np.testing.assert_array_equal(passed_over(answers, 8), [0, 4, 0, 0, 1, 0, 1, 0])


def test_a_tie_a_dont_know_and_the_reference_pass_over_nothing():
    answers = [Comparison(0, 1, "tie"), Comparison(2, 3, "skip"), Comparison(4, 8, "a"), Comparison(5, 8, "b")]
    counts = passed_over(answers, 8)  # item 8 is the reference feedback is compared with, outside the catalog
    np.testing.assert_array_equal(counts, [0, 0, 0, 0, 0, 1, 0, 0])
    assert not passed_over([], 3).any()
