"""Pack files: exact round trip, and a clear error for every kind of damage."""

import json
from dataclasses import replace

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from prefchat.elicitation.known import KnownModel
from prefchat.reward.pack import (
    ARRAYS,
    ITEMS,
    MANIFEST,
    Pack,
    PackError,
    _manifest_checksum,
    _sha256,
    load_pack,
    save_pack,
)


def test_round_trip_is_exact(tmp_path, random_pack):
    pack = random_pack()
    loaded = load_pack(save_pack(pack, tmp_path / "p"))
    assert loaded.items == pack.items and loaded.axes == pack.axes and loaded.descriptors == pack.descriptors
    for name in ("embeddings", "features", "head_weight", "head_bias", "new_item_population", "prior_mean",
                 "prior_cov", "exposure", "popularity", "quality", "descriptor_embeddings"):
        original, again = getattr(pack, name), getattr(loaded, name)
        assert again.dtype == original.dtype and np.array_equal(again, original), name
    assert loaded.manifest["name"] == "tiny" and loaded.prior_scale == 0.5
    np.testing.assert_array_equal(loaded.prior[1], 0.5 * pack.prior_cov)
    assert loaded.index_of("i3") == 3


def test_content_features_of_catalog_text_use_the_head_and_neutral_population(tmp_path, random_pack):
    pack = random_pack()
    phi = pack.content_features(pack.embeddings[:2])
    np.testing.assert_allclose(phi[:, :3], pack.embeddings[:2].astype(float) @ pack.head_weight + pack.head_bias)
    np.testing.assert_array_equal(phi[:, 3:], np.broadcast_to(pack.new_item_population, (2, 2)))


def test_missing_directory_and_manifest(tmp_path):
    with pytest.raises(PackError, match="no such pack directory"):
        load_pack(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackError, match="no manifest"):
        load_pack(tmp_path / "empty")


def test_damaged_arrays_fail_on_checksum(tmp_path, random_pack):
    directory = save_pack(random_pack(), tmp_path / "p")
    data = bytearray((directory / ARRAYS).read_bytes())
    data[-5] ^= 0xFF
    (directory / ARRAYS).write_bytes(bytes(data))
    with pytest.raises(PackError, match=f"{ARRAYS}: checksum mismatch"):
        load_pack(directory)


def test_missing_file_is_named(tmp_path, random_pack):
    directory = save_pack(random_pack(), tmp_path / "p")
    (directory / ITEMS).unlink()
    with pytest.raises(PackError, match=f"{ITEMS}: missing"):
        load_pack(directory)


def test_other_format_version_is_refused(tmp_path, random_pack):
    directory = save_pack(random_pack(), tmp_path / "p")
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest["format_version"] = 99
    (directory / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="format version 99"):
        load_pack(directory)


def test_shape_mismatch_names_the_array(tmp_path, random_pack):
    directory = save_pack(random_pack(), tmp_path / "p")
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest["n_bases"] = 7
    (directory / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="array 'features' has shape"):
        load_pack(directory)


def test_manifest_that_is_not_json(tmp_path, random_pack):
    directory = save_pack(random_pack(), tmp_path / "p")
    (directory / MANIFEST).write_bytes(b"\xff\xfe not json")
    with pytest.raises(PackError, match="not valid JSON"):
        load_pack(directory)


def test_axis_names_are_distinct_and_follow_the_correlations():
    from prefchat.reward.naming import name_axes

    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(200, 4))
    # Both axes follow descriptor "a" most; the second must take its next best name.
    features = np.column_stack([matrix[:, 0] - matrix[:, 1], 0.9 * matrix[:, 0] + 0.5 * matrix[:, 2] - matrix[:, 3]])
    first, second = name_axes(features, matrix, ["a", "b", "c", "d"])
    assert first.name == "a vs b" and first.positive[0] == "a"
    assert second.name == "c vs d" and second.positive[0] == "a"


def test_on_sight_packs_ask_by_preference_and_weigh_no_familiarity(random_pack):
    from dataclasses import replace

    base = random_pack()
    trained = {**base.manifest, "data": {"n_ratings": 500}, "split": {"train": [f"u{i}" for i in range(99)]}}
    known = replace(base, manifest={**trained, "answerable": "known"})
    on_sight = replace(base, manifest={**trained, "answerable": "on-sight"})
    legacy = replace(base, manifest=trained)  # packs from before answerability was recorded
    assert known.familiarity is not None and known.objective == "watch"
    assert on_sight.familiarity is None and on_sight.objective == "prefer"
    assert legacy.answerable == "known" and legacy.objective == "watch"
    assert base.question_size == 2
    assert replace(base, manifest={**base.manifest, "hyperparameters": {"question_size": 4}}).question_size == 4


def test_an_edited_manifest_fails_on_its_own_checksum(tmp_path, random_pack):
    directory = save_pack(random_pack(), tmp_path / "p")
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest["hyperparameters"]["prior_scale"] = 50.0  # loads by every shape; would serve a wrong prior
    (directory / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackError, match=f"{MANIFEST}: checksum mismatch"):
        load_pack(directory)
    del manifest["manifest_checksum"]
    (directory / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="no manifest_checksum"):
        load_pack(directory)


def test_a_manifest_missing_a_field_is_named_not_a_traceback(tmp_path, random_pack):
    directory = save_pack(random_pack(), tmp_path / "p")
    manifest = json.loads((directory / MANIFEST).read_text())
    del manifest["embedding_dim"]
    (directory / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackError, match=f"{MANIFEST}: embedding_dim is None, must be an integer"):
        load_pack(directory)


def test_items_that_are_not_utf8_name_the_file_and_line(tmp_path, random_pack):
    import hashlib

    directory = save_pack(random_pack(), tmp_path / "p")
    lines = (directory / ITEMS).read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b"Title", b"T\xe9tle")  # Latin-1, not UTF-8
    (directory / ITEMS).write_bytes(b"".join(lines))
    manifest = json.loads((directory / MANIFEST).read_text())  # re-signed, so only the encoding is wrong
    manifest["checksums"][ITEMS] = hashlib.sha256((directory / ITEMS).read_bytes()).hexdigest()
    manifest.pop("manifest_checksum")
    text = json.dumps(manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    manifest["manifest_checksum"] = hashlib.sha256(text.encode()).hexdigest()
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(PackError, match=rf"{ITEMS}, line 3: not UTF-8 \(byte 0xe9"):
        load_pack(directory)


def test_axes_no_descriptor_fits_are_named_by_exemplar_items():
    """A vocabulary that does not fit the domain (styles words on jokes) names no axis."""
    from prefchat.reward.naming import name_axes

    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 2))
    fitting = np.column_stack([features[:, 0] + 0.1 * rng.normal(size=50), rng.normal(size=50)])
    titles = [f"joke {i}" for i in range(50)]
    first, second = name_axes(features, fitting, ["fits", "noise"], titles=titles, min_fit=0.5)
    assert first.name.startswith("fits vs") and first.positive == ("fits",)
    top, bottom = int(np.argmax(features[:, 1])), int(np.argmin(features[:, 1]))
    assert second.name == f'like "joke {top}" vs like "joke {bottom}"' and second.positive == ()


def test_a_vocabulary_file_with_definitions(tmp_path):
    from prefchat.reward.naming import descriptor_groups, read_vocabulary

    path = tmp_path / "jokes.txt"
    path.write_text("# a pack author's words\npuns\nlong setups ~ words\none-liners ~ -words\nclean ~ -puns\n", encoding="utf-8")
    descriptors, definitions = read_vocabulary(path)
    assert descriptors == ["puns", "long setups", "one-liners", "clean"]
    assert definitions == {"long setups": "words", "one-liners": "-words", "clean": "-puns"}
    group, sign = descriptor_groups(descriptors, definitions)
    assert group[1] == group[2] and sign[1] == -sign[2] and group[3] == group[0] and sign[3] == -1
    path.write_text("puns ~ sarcasm\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        read_vocabulary(path)
    with pytest.raises(ValueError, match="no built-in"):
        read_vocabulary("nonexistent")


def _with_known(pack: Pack, n_bases=3, seed=1) -> Pack:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, n_bases, n_bases))
    model = KnownModel(rng.normal(size=(pack.n_items, n_bases)), rng.normal(size=(pack.n_items, n_bases)),
                       rng.normal(size=n_bases), a @ a.T + np.eye(n_bases), b @ b.T + np.eye(n_bases), tau=0.5)
    return replace(pack, known=model)


def test_a_known_items_model_round_trips_and_ranks_what_watch_serves(tmp_path, random_pack):
    pack = _with_known(random_pack())
    loaded = load_pack(save_pack(pack, tmp_path / "p"))
    assert loaded.known is not None and loaded.known.tau == 0.5
    for name in ("features", "emission", "prior_mean", "prior_cov", "within"):
        original, again = getattr(pack.known, name), getattr(loaded.known, name)
        assert again.dtype == original.dtype and np.array_equal(again, original), name
    assert load_pack(save_pack(random_pack(), tmp_path / "q")).known is None  # packs without one still load
    assert loaded.known.base_rates is None and loaded.known.calibration == 0.0


def test_a_calibrated_known_items_model_round_trips(tmp_path, random_pack):
    pack = _with_known(random_pack())
    rates = np.linspace(0.9, 0.01, pack.n_items)
    assert pack.known is not None
    pack = replace(pack, known=replace(pack.known, base_rates=rates, calibration=0.25))
    loaded = load_pack(save_pack(pack, tmp_path / "p"))
    assert loaded.known is not None and loaded.known.calibration == 0.25
    np.testing.assert_array_equal(loaded.known.base_rates, rates)
    np.testing.assert_array_equal(loaded.known.scores([1, 2]), pack.known.scores([1, 2]))


def checksummed_again(directory, name: str) -> None:
    """Record file ``name``'s new checksum in the manifest, and the manifest's own, as someone editing a pack would."""
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest["checksums"][name] = _sha256(directory / name)
    manifest["manifest_checksum"] = _manifest_checksum(manifest)
    (directory / MANIFEST).write_text(json.dumps(manifest))


def test_an_incomplete_known_items_model_is_named(tmp_path, random_pack):
    directory = save_pack(_with_known(random_pack()), tmp_path / "p")
    arrays = load_file(str(directory / ARRAYS))
    del arrays["known_within"]
    save_file(arrays, str(directory / ARRAYS))
    checksummed_again(directory, ARRAYS)
    with pytest.raises(PackError, match=r"known-items model is incomplete.*known_within"):
        load_pack(directory)
