"""The question's size and its taste slot are chosen by code on validation sessions at equal clicks."""

import numpy as np

from prefchat.reward.build import RECALL_TOLERANCE, choose_question_size


def test_the_size_is_the_best_and_the_taste_slot_is_served_within_the_recall_tolerance(small_pack):
    pack = small_pack(manifest={"name": "sized", "data": {"n_ratings": 100}, "answerable": "known",
                                "split": {"train": [f"u{i}" for i in range(999)], "test": []}})
    rng = np.random.default_rng(5)
    genres = pack.serving.descriptors.carried
    users = {}
    for u in range(8):  # each user rates films of one genre of their own
        mine = np.flatnonzero(genres[:, u % genres.shape[1]])
        items = rng.choice(mine, size=min(16, len(mine)), replace=False)
        users[f"v{u}"] = (items, rng.integers(1, 6, size=items.size).astype(float))
    chosen, scores = choose_question_size(pack, users, seed=0)
    assert set(scores) == {"2", "4", "4+tastes"}  # a tags pack tries the slot
    size = chosen["question_size"]
    assert scores[str(size)] == max(scores["2"], scores["4"])
    slot_kept = scores["4+tastes"] >= (1 - RECALL_TOLERANCE["question_tastes"]) * scores["4"]
    assert chosen["question_tastes"] == int(size == 4 and slot_kept)
