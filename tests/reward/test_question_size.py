"""The question's size and its taste slot are chosen by code on validation sessions at equal clicks."""

import numpy as np

from prefchat.reward.build import choose_question_size


def test_the_question_chosen_is_the_best_of_pairs_kway_and_kway_with_the_taste_slot(small_pack):
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
    key = f"{chosen['question_size']}{'+tastes' if chosen['question_tastes'] else ''}"
    assert scores[key] == max(scores.values())
    assert chosen["question_tastes"] in (0, 1) and not (chosen["question_tastes"] and chosen["question_size"] == 2)
