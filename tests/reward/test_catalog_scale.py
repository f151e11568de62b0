"""Large catalogs: the synthetic pack round-trips, items read lazily are the items written, packs
from before item_ids.npy still load, and what the served path computes faster is what it computed."""

import hashlib
import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.elicitation.blocks import BLOCK_ROWS
from prefchat.elicitation.metrics import SAMPLE_STRIDE, top_k
from prefchat.elicitation.pool import candidate_pool
from prefchat.elicitation.posterior import predictive_moments, predictive_scale
from prefchat.reward.pack import ITEM_IDS, ITEMS, MANIFEST, ItemLines, PackError, load_pack, save_pack
from prefchat.reward.synthetic import synthetic_pack

ARRAY_FIELDS = ("embeddings", "features", "head_weight", "head_bias", "new_item_population", "prior_mean", "prior_cov",
                "exposure", "popularity", "quality", "descriptor_embeddings")


def _resign(directory, manifest):
    """Write ``manifest`` with its own checksum recomputed, as a pack writer would."""
    manifest.pop("manifest_checksum", None)
    text = json.dumps(manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    manifest["manifest_checksum"] = hashlib.sha256(text.encode()).hexdigest()
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def test_the_synthetic_pack_round_trips(tmp_path):
    pack = synthetic_pack(300, n_learned=4, dim=16, seed=3)
    loaded = load_pack(save_pack(pack, tmp_path / "p"))
    assert loaded.n_items == 300 and loaded.n_bases == 6 and loaded.n_learned == 4
    assert list(loaded.items) == list(pack.items) and loaded.axes == pack.axes and loaded.descriptors == pack.descriptors
    for name in ARRAY_FIELDS:
        assert np.array_equal(getattr(loaded, name), getattr(pack, name)) and getattr(loaded, name).dtype == getattr(pack, name).dtype
    assert loaded.familiarity is not None and loaded.objective == "watch" and loaded.answerable == "known"
    assert loaded.index_of("17") == 17 and loaded.serving.pool(30).shape == (30,)


def test_lazy_items_are_the_items_written(tmp_path, random_pack):
    pack = random_pack(n_items=25)
    loaded = load_pack(save_pack(pack, tmp_path / "p"))
    assert isinstance(loaded.items, ItemLines) and len(loaded.items) == 25
    assert [loaded.items[i] for i in range(25)] == list(pack.items) == list(loaded.items)
    assert loaded.items[-1] == pack.items[-1] and loaded.items[3:7] == list(pack.items[3:7])
    assert loaded.items == pack.items  # a loaded pack's items compare equal to the list they stand for
    assert [loaded.index_of(item.item_id) for item in pack.items] == list(range(25))
    with pytest.raises(KeyError, match="not in pack"):
        loaded.index_of("nope")
    with pytest.raises(IndexError):
        loaded.items[25]
    again = pickle.loads(pickle.dumps(loaded.items))  # to a worker process: the file is mapped again there
    assert list(again) == list(pack.items)


def test_a_pack_written_before_item_ids_loads_the_same_items(tmp_path, random_pack):
    pack = random_pack(n_items=12)
    directory = save_pack(pack, tmp_path / "p")
    (directory / ITEM_IDS).unlink()
    manifest = json.loads((directory / MANIFEST).read_text())
    del manifest["checksums"][ITEM_IDS]
    _resign(directory, manifest)
    loaded = load_pack(directory)
    assert list(loaded.items) == list(pack.items) and loaded.index_of("i5") == 5


def test_ids_that_do_not_match_the_items_are_named(tmp_path, random_pack):
    directory = save_pack(random_pack(n_items=12), tmp_path / "p")
    np.save(directory / ITEM_IDS, np.array(["a", "b"]), allow_pickle=False)
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest["checksums"][ITEM_IDS] = hashlib.sha256((directory / ITEM_IDS).read_bytes()).hexdigest()
    _resign(directory, manifest)
    with pytest.raises(PackError, match=f"{ITEM_IDS}: .* of shape \\(2,\\), .* has 12 lines"):
        load_pack(directory)


def test_a_bad_item_line_is_named_when_read(tmp_path, random_pack):
    directory = save_pack(random_pack(n_items=5), tmp_path / "p")
    lines = (directory / ITEMS).read_bytes().splitlines(keepends=True)
    lines[3] = b'{"item_id": "i3", "title": "no text"}\n'
    (directory / ITEMS).write_bytes(b"".join(lines))
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest["checksums"][ITEMS] = hashlib.sha256((directory / ITEMS).read_bytes()).hexdigest()
    _resign(directory, manifest)
    loaded = load_pack(directory)
    assert loaded.items[2].item_id == "i2"
    with pytest.raises(PackError, match=f"{ITEMS}, line 4: bad item record"):
        loaded.items[3]


def test_loaded_arrays_are_read_only(tmp_path, random_pack):
    loaded = load_pack(save_pack(random_pack(), tmp_path / "p"))
    with pytest.raises(ValueError, match="read-only"):
        loaded.features[0, 0] = 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=60), st.integers(1, 70), st.data())
def test_top_k_is_a_full_sorts_top_k(values, k, data):
    scores = np.array(values, dtype=float)
    exclude = np.array(data.draw(st.lists(st.integers(0, len(values) - 1), max_size=5)), dtype=np.intp)
    kept = np.setdiff1d(np.arange(len(scores)), exclude)
    full = kept[np.argsort(-scores[kept], kind="stable")][:k]  # ties by lower index, as top_k promises
    assert top_k(scores, k, exclude).tolist() == full.tolist()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20), st.integers(0, 4000), st.integers(2, 50), st.integers(0, 2**32 - 1))
def test_top_k_of_a_long_catalog_reads_a_sampled_cut_and_is_still_the_full_sorts(k, n_extra, levels, seed):
    """Longer than SAMPLE_STRIDE * k, the prefiltered path: many ties, excluded items, nan and -inf."""
    rng = np.random.default_rng(seed)
    n = SAMPLE_STRIDE * k + 1 + n_extra
    scores = rng.integers(0, levels, n).astype(float)
    scores[rng.choice(n, n // 50, replace=False)] = rng.choice([np.nan, -np.inf], n // 50)
    exclude = rng.choice(n, min(n, 3 * k), replace=False)
    kept = np.setdiff1d(np.flatnonzero(np.isfinite(scores)), exclude)
    full = kept[np.argsort(-scores[kept], kind="stable")][:k]
    assert top_k(scores, k, exclude).tolist() == full.tolist()


def _full_sort_pool(features, popularity, size, diverse_share=0.2, depth=3.0, rng=0):
    """candidate_pool as it was written before: a full stable sort, every row standardised."""
    rng = np.random.default_rng(rng)
    ranking = np.argsort(-popularity, kind="stable")
    n_popular = size - round(diverse_share * size)
    pool = list(ranking[:n_popular])
    reach = ranking[n_popular : max(size, int(depth * size))]
    scale = features.std(axis=0)
    z = (features - features.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    available = np.ones(reach.size, dtype=bool)
    nearest = (((z[reach, None, :] - z[None, pool, :]) ** 2).sum(-1)).min(axis=1)
    while len(pool) < size:
        weight = np.where(available, nearest, 0.0)
        pick = rng.choice(reach.size, p=weight / weight.sum())
        available[pick] = False
        pool.append(reach[pick])
        nearest = np.minimum(nearest, ((z[reach] - z[reach[pick]]) ** 2).sum(-1))
    return np.asarray(pool)


@pytest.mark.parametrize("seed", range(4))
def test_the_pool_is_the_one_a_full_sort_gives(seed):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(400, 5))
    popularity = rng.integers(0, 30, 400).astype(float)  # many ties
    assert candidate_pool(features, popularity, size=40, rng=seed).tolist() == _full_sort_pool(features, popularity, 40, rng=seed).tolist()


@pytest.mark.parametrize("n_answers", [0, 3, 20])
def test_the_predictive_scale_from_a_low_rank_change_is_the_direct_one(n_answers):
    rng = np.random.default_rng(n_answers)
    features, k = rng.normal(size=(200, 8)), 8
    a = rng.normal(size=(k, k))
    prior = a @ a.T + np.eye(k)
    diffs = rng.normal(size=(n_answers, k))
    cov = np.linalg.inv(np.linalg.inv(prior) + diffs.T @ np.diag(rng.uniform(0.05, 0.25, n_answers)) @ diffs)
    reference = (prior, np.einsum("ik,ik->i", features @ prior, features))
    np.testing.assert_allclose(predictive_scale(features, cov, reference), predictive_scale(features, cov), rtol=1e-10)


@pytest.mark.parametrize("n_answers", [0, 3, 20])
def test_predictive_moments_are_the_mean_utility_and_the_direct_scale_in_either_precision(n_answers):
    """One product gives phi m and kappa, with or without the prior's variances, and in single
    precision to 1e-5 of the double-precision values."""
    rng = np.random.default_rng(10 + n_answers)
    features, k = rng.normal(size=(300, 8)), 8
    a = rng.normal(size=(k, k))
    prior = a @ a.T + np.eye(k)
    diffs = rng.normal(size=(n_answers, k))
    cov = np.linalg.inv(np.linalg.inv(prior) + diffs.T @ np.diag(rng.uniform(0.05, 0.25, n_answers)) @ diffs)
    mean = rng.normal(size=k)
    direct = np.sqrt(1.0 + np.pi / 8.0 * np.einsum("ik,kl,il->i", features, cov, features))
    for reference in (None, (prior, np.einsum("ik,ik->i", features @ prior, features))):
        linear, scale = predictive_moments(features, mean, cov, reference)
        np.testing.assert_allclose(linear, features @ mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(scale, direct, rtol=1e-10)
        linear, scale = predictive_moments(features.astype(np.float32), mean, cov, reference)
        np.testing.assert_allclose(linear, features @ mean, rtol=0, atol=1e-4)
        np.testing.assert_allclose(scale, direct, rtol=1e-5)


def test_predictive_moments_over_several_row_blocks_and_a_change_of_either_sign_are_the_direct_ones():
    """A catalog of more rows than one block, and a posterior wider than the prior in one direction
    (an eigenvalue of S - S_0 above 0, as a prior shrunk by a correction can give)."""
    rng = np.random.default_rng(7)
    features, k = rng.normal(size=(2 * BLOCK_ROWS + 123, 8)), 8
    prior = np.eye(k)
    u = np.linalg.qr(rng.normal(size=(k, 3)))[0]
    cov = prior + u @ np.diag([0.5, -0.4, -0.7]) @ u.T
    mean = rng.normal(size=k)
    reference = (prior, np.einsum("ik,ik->i", features @ prior, features))
    direct = np.sqrt(1.0 + np.pi / 8.0 * np.einsum("ik,kl,il->i", features, cov, features))
    linear, scale = predictive_moments(features, mean, cov, reference)
    np.testing.assert_allclose(linear, features @ mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scale, direct, rtol=1e-10)
    linear, scale = predictive_moments(features.astype(np.float32), mean, cov, reference)
    assert linear.dtype == scale.dtype == np.float32
    np.testing.assert_allclose(scale, direct, rtol=1e-5)
