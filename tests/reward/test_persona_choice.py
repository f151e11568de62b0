"""The rule that picks a pack's personas' settings from its validation accounts (reward/personas.choose_setting)."""

import numpy as np
import pytest

from prefchat.reward.personas import choose_setting


def row(max_personas=2, allowed=True, both=0.8, penalty=1.0, dimensions=4, temperature=0.5):
    return {"max_personas": max_personas, "penalty": penalty, "dimensions": dimensions, "temperature": temperature,
            "allowed": allowed, "both_hit@20": both}


def grid_of(weaker, **fields):
    rows = [row(max_personas=1, **fields)] + [row(**fields) for _ in weaker[1:]]
    for r, w in zip(rows, weaker):
        r["weaker_recall@20"] = float(np.mean(w)) if len(w) else 0.0
    return rows


def test_a_gain_the_accounts_cannot_tell_from_noise_keeps_one_persona():
    rng = np.random.default_rng(0)
    one = rng.uniform(0, 0.5, 60)
    noisy = one + rng.normal(0.002, 0.05, 60)  # a higher mean, an interval straddling 0
    weaker = np.stack([one, noisy])
    grid = grid_of(weaker)
    assert grid[1]["weaker_recall@20"] > grid[0]["weaker_recall@20"]
    assert choose_setting(grid, weaker) == 0
    assert grid[1]["weaker_gain_low"] < 0 and grid[0]["weaker_gain_low"] == 0.0


def test_a_gain_beyond_chance_splits_and_the_best_such_setting_wins():
    rng = np.random.default_rng(1)
    one = rng.uniform(0, 0.5, 60)
    weaker = np.stack([one, one + 0.03 + rng.normal(0, 0.01, 60), one + 0.05 + rng.normal(0, 0.01, 60),
                       one + 0.2])  # the last one is not allowed: it costs single users too much
    grid = grid_of(weaker)
    grid[3]["allowed"] = False
    assert choose_setting(grid, weaker) == 2
    assert grid[1]["weaker_gain_low"] == pytest.approx(np.mean(weaker[1] - one) - 1.959963984540054
                                                       * np.std(weaker[1] - one, ddof=1) / np.sqrt(60))


def test_equal_gains_go_to_the_simpler_setting_and_no_accounts_keep_one_persona():
    one = np.linspace(0, 0.4, 30)
    weaker = np.stack([one, one + 0.05, one + 0.05])
    grid = grid_of(weaker)
    grid[1]["max_personas"], grid[2]["max_personas"] = 3, 2
    assert choose_setting(grid, weaker) == 2
    empty = np.zeros((3, 0))
    assert choose_setting(grid_of(empty), empty) == 0
