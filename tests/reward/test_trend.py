"""The pack build chooses the item trend on validation users' served sessions, ranked at each one's moment."""

import dataclasses

import numpy as np

from prefchat.reward.build import validation_sessions
from prefchat.reward.trend import TREND_ANSWERS, choose_item_trend

DAY = 86400.0


def test_the_build_weighs_a_trend_that_foretells_what_validation_users_rate_next(small_pack):
    pack = small_pack(manifest={"name": "trend", "data": {"n_ratings": 100},
                                "split": {"train": [f"u{i}" for i in range(999)], "test": []}})
    pack = dataclasses.replace(pack, exposure=np.linspace(-0.5, 0.5, pack.n_bases))
    # the training ratings: item i is rated on day i, ten times; a validation user rates 8 items
    # before day d and, after it, the items rated most in the days just before d
    items = np.repeat(np.arange(pack.n_items), 10)
    rng = np.random.default_rng(0)
    users, times = {}, {}
    for u, d in enumerate(range(30, 60, 2)):
        known = rng.choice(np.arange(d - 15), size=8, replace=False)
        later = np.arange(d - 4, d)
        users[f"v{u}"] = (np.r_[known, later], np.full(12, 4.0))
        times[f"v{u}"] = np.r_[np.full(8, d - 0.5), np.full(4, d + 1.0)] * DAY
    sessions = validation_sessions(pack, users, 0, "time", times)
    trend, record = choose_item_trend(pack, items, items * DAY, sessions)
    assert trend.beta > 0 and record["beta"] == trend.beta and record["answers"] == list(TREND_ANSWERS)
    assert record["validation_sessions"] == len(sessions) == 2 * len(users)
    best = max(row["recall@20"] for row in record["grid"])
    assert best > max(row["recall@20"] for row in record["grid"] if row["weight"] == 0.0)
