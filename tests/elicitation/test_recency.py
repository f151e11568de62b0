"""Recent popularity: counts in a window before a moment, nothing after it; the window chosen on validation users."""

import numpy as np
import pytest

from prefchat.elicitation.recency import WINDOW_FRACTIONS, RecentPopularity, choose_window, windows

#              item: 0    0    1    1    1    2    3
ITEMS = np.array([0, 0, 1, 1, 1, 2, 3])
TIMES = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 20.0])


def test_scores_count_the_window_then_all_time_up_to_the_moment():
    model = RecentPopularity.fit(ITEMS[::-1], TIMES[::-1], n_items=5, window=5.0)  # any order in
    scores = model.scores(9.0)
    # window (4, 9]: ratings at 5 (item 1) and 9 (item 2); all time up to 9: 6 ratings, item 0 x2, 1 x3, 2 x1
    assert scores == pytest.approx([0 + 2 / 7, 1 + 3 / 7, 1 + 1 / 7, 0.0, 0.0])
    assert np.argsort(-scores, kind="stable").tolist()[:3] == [1, 2, 0]


def test_nothing_rated_after_the_moment_counts():
    model = RecentPopularity.fit(ITEMS, TIMES, n_items=5, window=np.inf)
    assert model.scores(19.9)[3] == 0.0 and model.scores(20.0)[3] > 0.0
    assert model.scores(0.5) == pytest.approx(np.zeros(5))
    # all time: ranks as the counts known then
    assert np.argsort(-model.scores(9.0), kind="stable").tolist()[:3] == [1, 0, 2]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="window"):
        RecentPopularity.fit(ITEMS, TIMES, 5, window=0.0)
    with pytest.raises(ValueError, match="outside"):
        RecentPopularity.fit(ITEMS, TIMES, 3, window=1.0)
    with pytest.raises(ValueError, match="one length"):
        RecentPopularity.fit(ITEMS, TIMES[:3], 5, window=1.0)


def test_windows_are_fractions_of_the_span_and_all_time():
    tried = windows(np.array([10.0, 1034.0]))
    assert tried[0] == pytest.approx(1.0) and tried[-2] == pytest.approx(512.0) and tried[-1] == np.inf
    assert len(tried) == len(WINDOW_FRACTIONS)
    assert windows(np.array([3.0, 3.0])) == [np.inf]


def test_choose_window_finds_a_trend_that_all_time_popularity_misses():
    """Item 0 is the all-time favourite; item 1 is what everyone rated lately. Validation users who
    go on to rate item 1 are served best by a short window."""
    old = np.zeros(500, dtype=int)                      # item 0, rated 500 times in t in [0, 1000)
    trend = np.ones(50, dtype=int)                      # item 1, rated 50 times in [1000, 1010)
    items = np.concatenate([old, trend, np.arange(2, 40)])
    times = np.concatenate([np.linspace(0, 999, 500), np.linspace(1000, 1009, 50), np.linspace(0, 1009, 38)])
    users = [(1010.0, np.array([5]), np.array([1]))] * 3
    model, table = choose_window(items, times, 40, users, k=1)
    assert model.window < 100.0
    assert table[-1]["window"] is None and table[-1]["recall@1"] == 0.0  # all time ranks item 0 first
    assert max(row["recall@1"] for row in table) == 1.0
