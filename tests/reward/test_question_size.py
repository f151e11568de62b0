"""The question's size, its taste slot and whose familiarity it reads are chosen by code on validation sessions
at equal clicks."""

import numpy as np

from prefchat.elicitation.personas import PersonaSettings
from prefchat.reward.build import KWAY_SIZES, RECALL_TOLERANCE, choose_question_knowing, choose_question_size


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
    kway = max(KWAY_SIZES, key=lambda k: (scores[str(k)], -k))
    assert set(scores) == {"2", *map(str, KWAY_SIZES), f"{kway}+tastes"}  # a tags pack tries the slot at its best k
    size = chosen["question_size"]
    assert scores[str(size)] == max(scores[key] for key in scores if "+" not in key)
    slot_kept = scores[f"{kway}+tastes"] >= (1 - RECALL_TOLERANCE["question_tastes"]) * scores[str(kway)]
    assert chosen["question_tastes"] == int(size == kway and slot_kept)


def test_each_users_own_familiarity_is_served_where_it_asks_fewer_dont_knows_within_the_recall_tolerance(
        small_pack, household_pack):
    pack = household_pack(small_pack(manifest={"name": "known"}), PersonaSettings())
    rng = np.random.default_rng(2)
    first = np.array([item.tags[0] for item in pack.items])
    users = {}
    for u in range(10):  # horror fans and comedy fans, as the model's training users
        mine = np.flatnonzero(first == ("horror" if u % 2 else "comedy"))
        users[f"v{u}"] = (mine, rng.integers(1, 6, size=mine.size).astype(float))
    served, record = choose_question_knowing(pack, users, seed=0)
    population, own = record["population"], record["own"]
    kept = own["recall@20"] >= (1 - RECALL_TOLERANCE["question_knowing"]) * population["recall@20"]
    assert served == int(kept and own["dont_know"] < population["dont_know"])
    assert own["dont_know"] < population["dont_know"]  # the fans are asked about what fans know
    assert choose_question_knowing(small_pack(manifest={"name": "plain"}), users, seed=0) == (0, {})  # no model: none
