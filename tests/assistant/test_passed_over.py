"""The passed-over term of the served "watch" score: delta 0 serves today's lists, delta takes delta off
an item per time it was passed over (the app serves what the benchmark measures with it: test_one_loop)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from prefchat.assistant.recommender import Recommender, Taste
from prefchat.elicitation.metrics import top_k
from prefchat.elicitation.posterior import Comparison, KWayChoice
from prefchat.reward.pack import load_pack, save_pack


def base_rated(pack, delta=0.0):
    """The pack as if trained on ratings of 999 users (its "watch" score calibrated to base rates), passed-over weight ``delta``."""
    manifest = {**pack.manifest, "data": {"n_ratings": 100}, "split": {"train": [f"u{i}" for i in range(999)], "test": []},
                "hyperparameters": {**pack.manifest["hyperparameters"], "watch_prior_scale": 4.0, "passed_over_weight": delta}}
    return dataclasses.replace(pack, manifest=manifest, exposure=np.linspace(-0.5, 0.5, pack.n_bases))


@pytest.fixture(scope="module")
def pack(small_pack):
    return base_rated(small_pack(manifest={"name": "passed"}), delta=0.7)


def test_delta_zero_serves_todays_lists_and_delta_takes_delta_per_pass(pack, small_pack, tmp_path):
    plain = base_rated(small_pack(manifest={"name": "passed"}))
    prior = plain.serving.session_prior("watch")
    answers = (Comparison(0, 1, "a"), Comparison(2, 1, "a"), KWayChoice((3, 4, 5), 4))
    taste = Taste(prior.prior_mean, prior.prior_cov, objective="watch", answers=answers)
    without = Recommender(plain).scores(Taste(prior.prior_mean, prior.prior_cov, objective="watch"))
    assert np.array_equal(Recommender(plain).scores(taste), without)  # delta 0: the answers change nothing
    passed = np.zeros(plain.n_items)
    passed[[1, 3, 5]] = 2, 1, 1
    assert Recommender(pack).scores(taste) == pytest.approx(without - 0.7 * passed)
    assert pack.passed_over_weight == 0.7 and load_pack(save_pack(pack, tmp_path / "p")).passed_over_weight == 0.7
    item = int(top_k(without, 1)[0])
    shown = tuple(Comparison(j, item, "a") for j in range(plain.n_items) if j != item)[:3]
    assert item not in top_k(Recommender(pack).scores(Taste(prior.prior_mean, prior.prior_cov, objective="watch", answers=shown)), 1)
