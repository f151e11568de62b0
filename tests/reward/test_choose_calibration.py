"""The calibrated list's weight is chosen by code on validation sessions, under the recall constraint."""

import dataclasses

import numpy as np

from prefchat.reward.build import RECALL_TOLERANCE, choose_calibration, validation_sessions


def test_the_chosen_weight_is_the_best_calibrated_within_the_recall_tolerance(small_pack):
    pack = small_pack(manifest={"name": "calibrated", "data": {"n_ratings": 100},
                                "split": {"train": [f"u{i}" for i in range(999)], "test": []}})
    pack = dataclasses.replace(pack, exposure=np.linspace(-0.5, 0.5, pack.n_bases))
    rng = np.random.default_rng(3)
    genres = pack.serving.descriptors.carried
    users = {}
    for u in range(8):  # each user rates films of two genres of their own
        mine = np.flatnonzero(genres[:, [u % genres.shape[1], (u + 3) % genres.shape[1]]].any(axis=1))
        items = rng.choice(mine, size=min(20, len(mine)), replace=False)
        users[f"v{u}"] = (items, rng.integers(1, 6, size=items.size).astype(float))
    chosen, table = choose_calibration(pack, validation_sessions(pack, users, seed=0))
    grid = table["grid"]
    plain = grid[0]
    assert (plain["weight"], plain["popularity"]) == (0.0, 0.0)

    def closeness(row):
        return row["miscalibration"] / plain["miscalibration"] + row["head_share"] / plain["head_share"]

    floor = -RECALL_TOLERANCE["calibration_weight"] * plain["recall@20"]  # a share of the recall at stake
    best = next(row for row in grid if (row["weight"], row["popularity"], row["horizon"]) == (
        chosen["calibration_weight"], chosen["calibration_popularity"], chosen["calibration_horizon"]))
    assert best["recall_change_low"] >= floor and plain["recall_change_low"] == 0.0
    assert all(closeness(row) >= closeness(best) for row in grid if row["recall_change_low"] >= floor)
    assert all(row["recall_change_low"] <= row["recall@20"] - plain["recall@20"] for row in grid)
    assert min(row["miscalibration"] for row in grid) < plain["miscalibration"]  # calibrating moves the mix
