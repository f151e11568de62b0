"""The drifting item term: standardised log recent counts, the last window past the data's end, chosen on validation users."""

import numpy as np
import pytest

from prefchat.elicitation.recency import RecentPopularity
from prefchat.elicitation.trend import TREND_WEIGHTS, ItemTrend, TrendUser, base_rate_term, choose_trend

#              item: 0    0    1    1    1    2    3
ITEMS = np.array([0, 0, 1, 1, 1, 2, 3])
TIMES = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 20.0])


def test_the_term_is_the_standardised_log_of_one_plus_the_recent_score():
    z = np.log1p([0.0, 1.0, 3.0, 7.0])
    assert base_rate_term([0, 1, 3, 7]) == pytest.approx((z - z.mean()) / z.std())
    term = base_rate_term(np.arange(10.0))
    assert term.mean() == pytest.approx(0.0, abs=1e-12) and term.std() == pytest.approx(1.0)
    assert np.array_equal(base_rate_term(np.full(4, 2.0)), np.zeros(4))  # no spread: no term


def test_the_term_reads_the_window_before_the_moment_and_the_last_one_after_the_data_end():
    trend = ItemTrend(RecentPopularity.fit(ITEMS, TIMES, n_items=5, window=5.0), beta=2.0)
    assert trend.end == 20.0
    at_nine = trend.term(9.0)
    assert at_nine == pytest.approx(2.0 * base_rate_term(trend.recent.scores(9.0)))
    assert np.argmax(at_nine) in (1, 2) and at_nine[3] == at_nine[4]  # item 3 is rated later: not yet popular
    assert np.array_equal(trend.term(1e12), trend.term(20.0)) and np.array_equal(trend.term(None), trend.term(20.0))
    assert np.argmax(trend.term(None)) == 3  # the last window (15, 20] holds item 3 only
    assert not ItemTrend(trend.recent, 0.0).term(9.0).any()


def _users(relevant_of, scores, moments):
    return [TrendUser(t, scores, np.zeros(0, dtype=np.intp), np.asarray(relevant_of(t))) for t in moments]


def test_a_trend_that_foretells_the_held_out_items_gets_a_weight():
    # item i is rated at times 10 i .. 10 i + 4: the items popular just before t are the ones held out after it
    n = 40
    items = np.repeat(np.arange(n), 5)
    times = (10.0 * items + np.tile(np.arange(5.0), n))
    scores = np.linspace(1.0, 0.0, n)  # a time-blind score ranks the early items first
    users = _users(lambda t: [int(t // 10)], scores, moments=[10.0 * i + 4.5 for i in range(25, 39)])
    trend, grid = choose_trend(items, times, n, users, k=1)
    assert trend.beta > 0 and len(grid) == len(TREND_WEIGHTS) * 11
    best = max(row["recall@1"] for row in grid)
    assert best == 1.0 and max(row["recall@1"] for row in grid if row["weight"] == 0.0) == 0.0


def test_a_trend_that_tells_nothing_is_weighed_zero():
    n = 40
    items = np.repeat(np.arange(n), 5)
    times = (10.0 * items + np.tile(np.arange(5.0), n))
    scores = np.linspace(1.0, 0.0, n)
    users = _users(lambda t: [0], scores, moments=[10.0 * i + 4.5 for i in range(25, 39)])  # the score is right
    trend, _ = choose_trend(items, times, n, users, k=1)
    assert trend.beta == 0.0
    with pytest.raises(ValueError, match="validation users"):
        choose_trend(items, times, n, [])
