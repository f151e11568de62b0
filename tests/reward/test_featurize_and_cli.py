"""The real embedding model, its cache, and `prefchat train` end to end on a tiny data set."""

import csv

import numpy as np
import pytest

from prefchat.cli import main
from prefchat.reward import featurize
from prefchat.reward.build import PRIOR_SCALE_GRID, WATCH_SCALE_GRID
from prefchat.reward.pack import load_pack


def test_embeddings_are_unit_norm_cached_and_reused(tmp_path, embedding_model, monkeypatch):
    texts = ["A heist film with a twist.", "A gentle musical about friendship.", "A heist film with a twist."]
    first = featurize.embed_texts(texts, embedding_model, cache_dir=tmp_path)
    assert first.shape == (3, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(first[0], first[2])
    assert first[0] @ first[1] < 0.9

    def no_model(model):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(featurize, "load_model", no_model)
    again = featurize.embed_texts(texts[:2], embedding_model, cache_dir=tmp_path)
    np.testing.assert_array_equal(again, first[:2])


def test_recent_embeddings_keep_a_bounded_number_of_vectors_least_recently_used_out_first():
    encoded = []

    def encode(texts):
        encoded.append(list(texts))
        return np.array([[len(text), ord(text[0])] for text in texts], dtype=np.float64)

    recent = featurize.RecentEmbeddings(encode, capacity=3)
    first = recent(["aa", "b", "aa"])
    assert first.dtype == np.float32 and first.tolist() == [[2, 97], [1, 98], [2, 97]]
    assert encoded == [["aa", "b"]], "each distinct missing text is encoded once"
    recent(["c"])
    recent(["aa"])  # "aa" is now the most recent, "b" the least
    recent(["d"])  # over capacity: "b" goes
    assert len(recent) == 3 and encoded[-1] == ["d"]
    recent(["aa", "c", "d"])
    assert encoded[-1] == ["d"], "kept texts are answered from memory"
    recent(["b"])
    assert encoded[-1] == ["b"], "the least recently used text was evicted"
    for n in range(100):
        recent([f"text {n}"])
    assert len(recent) == 3
    assert len(featurize.RecentEmbeddings(encode, capacity=0)(["x"])) == 1
    with pytest.raises(ValueError, match="no texts"):
        recent([])


def test_the_served_embedder_keeps_users_texts_off_the_disk(tmp_path, embedding_model, monkeypatch):
    """Low finding: texts users send (/rank candidates, corrections) never reach the persistent
    embedding cache; the served embedder remembers a bounded number of them in memory only."""
    from types import SimpleNamespace

    def no_disk_cache(directory):
        raise AssertionError(f"the served embedder opened the disk cache {directory}")

    expected = featurize.embed_texts(["a user's draft reply", "another draft"], embedding_model)
    monkeypatch.setattr(featurize, "EmbeddingCache", no_disk_cache)
    embed = featurize.pack_embedder(SimpleNamespace(name="p", embedding_model={}), embedding_model, capacity=2)
    np.testing.assert_allclose(embed(["a user's draft reply", "another draft"]), expected, atol=1e-6)
    monkeypatch.setattr(featurize, "load_model", lambda model: pytest.fail("the texts should be in memory"))
    np.testing.assert_array_equal(embed(["another draft"]), expected[1:])


def test_unloadable_model_is_a_named_error(tmp_path):
    featurize.load_model.cache_clear()
    with pytest.raises(featurize.EmbeddingError, match="cannot load embedding model"):
        featurize.embed_texts(["x"], str(tmp_path / "no-such-model"), cache_dir=None)


def test_model_key_changes_with_the_weights(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.safetensors").write_bytes(b"one")
    featurize.model_checksum.cache_clear()
    key_one = featurize.model_key(str(tmp_path / "m"))
    (tmp_path / "m" / "model.safetensors").write_bytes(b"two")
    featurize.model_checksum.cache_clear()
    assert featurize.model_key(str(tmp_path / "m")) != key_one


GENRES = ["comedy", "horror", "musical", "drama", "heist"]


def write_tiny_dataset(directory, n_users=60, n_items=40, seed=0):
    """Items with genre tags; users who like some genres and dislike others."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    genre = rng.integers(0, len(GENRES), n_items)
    with open(directory / "items.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "title", "text", "tags"])
        for i in range(n_items):
            writer.writerow([f"m{i}", f"Film {i}", f"Film {i}, a {GENRES[genre[i]]} film.", GENRES[genre[i]]])
    taste = rng.normal(size=(n_users, len(GENRES))) * 2
    with open(directory / "ratings.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "item_id", "rating"])
        for u in range(n_users):
            for i in rng.choice(n_items, 15, replace=False):
                writer.writerow([f"u{u}", f"m{i}", float(np.clip(np.round(3 + taste[u, genre[i]] + rng.normal(scale=0.5)), 1, 5))])


def test_train_command_writes_a_loadable_pack(tmp_path, capsys):
    write_tiny_dataset(tmp_path / "data")
    # Each user rates 15 of the 40 films at random, which ``auto`` would read as items handed out to rate
    # (judged on sight); films must be known, so say so.
    code = main(["train", "--items", str(tmp_path / "data/items.csv"), "--ratings", str(tmp_path / "data/ratings.csv"),
                 "--out", str(tmp_path / "pack"), "--bases", "2", "--answerable", "known"])
    assert code == 0
    printed, progress = capsys.readouterr()
    assert "population model" in printed and "mean rating baseline" in printed
    # Every long step after the embedding is named on the progress bar while it runs, and the bar ends full.
    steps = ["fitting base rewards", "choosing the prior", "naming axes", "testing on held-out users",
             "choosing the watch prior", "choosing the known-items model", "choosing the exposure discount",
             "choosing the served score",
             "choosing the calibration weight", "choosing the question size", "choosing the confidence thresholds", "choosing the summary weights",
             "choosing the personas"]
    assert all(f"{name}:" in progress for name in steps), progress
    assert f"{len(steps)}/{len(steps)}" in progress
    pack = load_pack(tmp_path / "pack")
    assert pack.n_items == 40 and pack.n_learned == 2 and pack.n_bases == 4
    split = pack.manifest["split"]
    assert not set(split["train"]) & set(split["test"]) and not set(split["validation"]) & set(split["test"])
    assert len(split["train"]) + len(split["validation"]) + len(split["test"]) == 60
    # the personas' settings are chosen on validation users and recorded (one persona: the manifest of before)
    assert pack.hyperparameters["persona_max"] == pack.known.personas.max_personas
    assert [row["max_personas"] for row in pack.manifest["selection"]["personas"]["grid"]][0] == 1
    hyper, selection = pack.manifest["hyperparameters"], pack.manifest["selection"]
    assert hyper["prior_scale"] in PRIOR_SCALE_GRID
    # The watch prior's width comes from onboarding sessions on validation users: every width is scored.
    assert set(selection["watch_prior_scale"]) == {str(scale) for scale in WATCH_SCALE_GRID}
    assert selection["watch_prior_scale"][str(hyper["watch_prior_scale"])] == max(selection["watch_prior_scale"].values())
    assert {a.name for a in pack.axes} and set(pack.descriptors) <= set(GENRES)
    np.testing.assert_allclose(np.linalg.eigvalsh(pack.prior_cov).min() > 0, True)


def test_train_command_reports_bad_input_without_a_traceback(tmp_path, capsys):
    write_tiny_dataset(tmp_path / "data")
    with open(tmp_path / "data/ratings.csv", "a", encoding="utf-8") as handle:
        handle.write("u1,nope,4\n")
    code = main(["train", "--items", str(tmp_path / "data/items.csv"), "--ratings", str(tmp_path / "data/ratings.csv"), "--out", str(tmp_path / "pack")])
    assert code == 2
    error = capsys.readouterr().err
    assert "ratings.csv, line" in error and "column item_id" in error and "Traceback" not in error
    assert not (tmp_path / "pack").exists()


def test_cache_survives_concurrent_writers(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    directory = tmp_path / "cache"

    def add(worker: int) -> None:
        for i in range(20):
            text = f"worker {worker} text {i}"
            featurize.EmbeddingCache(directory).add(featurize.text_hashes([text]), np.full((1, 4), worker * 100 + i, np.float32))

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(add, range(6)))
    cache = featurize.EmbeddingCache(directory)
    rows, vectors = cache.lookup(featurize.text_hashes([f"worker {w} text {i}" for w in range(6) for i in range(20)]))
    assert len(cache.keys) == len(vectors) and rows.min() >= 0  # nothing lost, nothing torn
    for row, (w, i) in zip(rows, [(w, i) for w in range(6) for i in range(20)]):
        assert vectors[row, 0] == w * 100 + i
