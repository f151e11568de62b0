"""A pack's manifest is range-checked when it loads (issue 24, finding 8): an edited and
re-checksummed manifest fails with one line naming the key, never with a 500 when served."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefchat.reward.manifest import MAX_DEPTH, check_manifest, depth
from prefchat.reward.pack import (
    ITEM_IDS,
    ITEMS,
    MANIFEST,
    PackError,
    _manifest_checksum,
    load_pack,
    save_pack,
)

from .test_pack import checksummed_again


@pytest.fixture(scope="module")
def saved(tmp_path_factory, random_pack):
    return save_pack(random_pack(), tmp_path_factory.mktemp("manifest") / "p")


def edited(saved, tmp_path, edit) -> str:
    """Load a copy of the pack whose manifest ``edit`` changed (and re-checksummed, as an attacker would);
    the one-line error."""
    directory = tmp_path / "edited"
    directory.mkdir()
    for path in saved.iterdir():
        (directory / path.name).write_bytes(path.read_bytes())
    manifest = json.loads((saved / MANIFEST).read_text())
    edit(manifest)
    manifest["manifest_checksum"] = _manifest_checksum(manifest)
    (directory / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackError) as error:
        load_pack(directory)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(directory / MANIFEST)), message
    return message


def hyperparameter(name, value):
    return lambda manifest: manifest["hyperparameters"].__setitem__(name, value)


@pytest.mark.parametrize("edit, says", [
    (hyperparameter("prior_scale", -1), "hyperparameters.prior_scale is -1, must be a finite number above 0"),
    (hyperparameter("prior_scale", 1e308), "hyperparameters.prior_scale is 1e+308"),
    (hyperparameter("prior_scale", 0), "hyperparameters.prior_scale is 0"),
    (hyperparameter("watch_prior_scale", float("nan")), "hyperparameters.watch_prior_scale is nan"),
    (hyperparameter("beta", float("inf")), "hyperparameters.beta is inf"),
    (hyperparameter("beta", "high"), "hyperparameters.beta is 'high', must be a number"),
    (hyperparameter("exposure_discount", -0.5), "hyperparameters.exposure_discount is -0.5"),
    (hyperparameter("calibration_weight", 1.5), "hyperparameters.calibration_weight is 1.5"),
    (hyperparameter("question_size", 99), "hyperparameters.question_size is 99, must be an integer from 2 to 6"),
    (hyperparameter("some_new_weight", -1e300), "hyperparameters.some_new_weight is -1e+300"),
    (hyperparameter("confidence", {"scale": 1.0, "medium": [0.0], "high": [0.0]}),
     "hyperparameters.confidence is {'scale': 1.0, 'medium': [0.0], 'high': [0.0]}, 'high' is impossible below 5"),
    (hyperparameter("confidence", [1]), "hyperparameters.confidence is [1], confidence thresholds need"),
    (lambda m: m.__setitem__("known", {"n_bases": 0, "tau": 1.0}), "known.n_bases is 0"),
    (lambda m: m.__setitem__("n_learned", 99), "n_learned is 99, must be an integer from 0 to"),
    (lambda m: m.__setitem__("n_items", True), "n_items is True"),
    (lambda m: m.__setitem__("groups", [0] * 3), "groups is [0, 0, 0], must be null or 12 group numbers"),
    (lambda m: m.__setitem__("name", "evil\u0000"), "name is 'evil\\x00', must be 1 to 200 printable characters"),
    (lambda m: m["descriptors"].__setitem__(0, ""), "descriptors[0] is ''"),
    (lambda m: m["axes"][0].__setitem__("index", 50), "axes[0] is"),
    (lambda m: m.__setitem__("hyperparameters", [1]), "hyperparameters is [1], must be an object"),
])
def test_an_edited_manifest_value_out_of_range_is_one_line_naming_the_key(saved, tmp_path, edit, says):
    assert says in edited(saved, tmp_path, edit)


def test_a_deeply_nested_manifest_is_refused_not_a_traceback(saved, tmp_path):
    def nest(manifest, levels):
        value: object = 1
        for _ in range(levels):
            value = [value]
        manifest["metrics"] = value

    assert f"nested deeper than {MAX_DEPTH} levels" in edited(saved, tmp_path, lambda m: nest(m, MAX_DEPTH + 1))
    # So deep that Python's JSON parser itself gives up: still one line.
    directory = tmp_path / "deep"
    directory.mkdir()
    (directory / MANIFEST).write_text('{"format_version": 1, "metrics": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(PackError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_pack(directory)


def test_the_manifests_prefchat_writes_pass(saved):
    manifest = json.loads((saved / MANIFEST).read_text())
    assert check_manifest(manifest) is manifest
    assert depth(manifest) <= 6


@given(st.recursive(st.integers(), lambda children: st.lists(children, max_size=3) | st.dictionaries(
    st.text(max_size=3), children, max_size=3), max_leaves=20))
def test_depth_is_the_nesting_of_lists_and_objects(value):
    def reference(node):
        if isinstance(node, list | dict):
            children = node.values() if isinstance(node, dict) else node
            return 1 + max((reference(child) for child in children), default=0)
        return 0

    assert depth(value) == reference(value)


def test_an_item_id_with_a_nul_byte_fails_at_load_naming_the_line(tmp_path, random_pack):
    """Issue 24, finding 7 at serving: a pack holding such an id (built before the check, or edited) is refused."""
    directory = save_pack(random_pack(), tmp_path / "p")
    ids = np.load(directory / ITEM_IDS).tolist()
    ids[4] = "m\x00x"  # (numpy drops trailing NULs of its strings)
    np.save(directory / ITEM_IDS, np.asarray(ids, dtype=str))
    checksummed_again(directory, ITEM_IDS)
    with pytest.raises(PackError, match=rf"{ITEMS}, line 5: item id 'm\\x00x' is not visible text"):
        load_pack(directory)
