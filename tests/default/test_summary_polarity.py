"""The summary says what the user said, on the default pack: planted users and scripted sessions."""

from dataclasses import replace

import numpy as np
import pytest

from prefchat.assistant.summary import summarize
from prefchat.reward.pack import load_pack


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("summary_polarity")


def planted(pack, index, j: int, sign: float):
    """A narrow posterior whose personal reward is as correlated with descriptor j as the bases allow."""
    k = pack.n_learned
    direction = np.linalg.lstsq(index.gram, index.cross[j], rcond=None)[0]
    mean = pack.prior_mean.copy()
    mean[:k] = sign * 3.0 * direction / np.sqrt(direction @ index.gram @ direction)
    return mean, 1e-4 * np.eye(pack.n_bases)


@pytest.mark.slow
def test_planted_users_read_their_own_descriptor_on_the_right_side(default_pack_dir):
    """Every descriptor, both directions: its group is named on the side of the planted sign, no
    member of it on the other, and no negation ever under "Not keen on"."""
    loaded = load_pack(default_pack_dir)
    # a crowd without a lean on the learned bases: the summary is relative to the prior mean
    pack = replace(loaded, prior_mean=np.r_[np.zeros(loaded.n_learned), loaded.prior_mean[loaded.n_learned:]])
    index = pack.serving.descriptors
    for j, descriptor in enumerate(pack.descriptors):
        members = index.members(j)
        for sign in (1.0, -1.0):
            summary = summarize(pack, *planted(pack, index, j, sign), 10, 0, top=len(pack.descriptors))
            same = {pack.descriptors[m] for m in members if index.sign[m] == index.sign[j]}
            opposite = {pack.descriptors[m] for m in members} - same
            wanted, unwanted = (same, opposite) if sign > 0 else (opposite, same)
            likes, dislikes = set(summary.likes), set(summary.dislikes)
            assert wanted & likes or unwanted & dislikes, (descriptor, sign, summary.text)
            assert not (unwanted & likes or wanted & dislikes), (descriptor, sign, summary.text)
            assert not any(index.negated[index.columns[d]] for d in dislikes), summary.text
            strengths = [abs(w.weight) for w in summary.weights if w.weight > 0]
            assert strengths == sorted(strengths, reverse=True)


@pytest.mark.slow
def test_scripted_users_find_their_dimension_on_the_right_side(default_pack_dir, bench):
    """The 18 scripted users of bench/summary_polarity.py (every style dimension, chased and avoided),
    through the public API. Issue 12 asks for 17 of 18. Not named: technical depth chased (the
    measure "code and numbers" leans against 4 of the user's 10 choices). The humour chaser's jokes
    are named because the descriptors said are those the choices lean to most, not those the
    posterior's few bases tie to them (emoji, warmth). Nothing is ever said against the user's
    own choices."""
    report = bench.run(str(default_pack_dir))
    assert report["n_users"] == 18
    assert report["right_side"] >= 17, [r["text"] for r in report["users"] if not r["right_side"]]
    emoji = {(r["dimension"], r["direction"]): r for r in report["users"]}
    assert "answers without emoji" in emoji["emoji", "avoids"]["likes"]
    assert "uses emoji" in emoji["emoji", "chases"]["likes"]
    assert {"witty jokes", "funny and playful"} & set(emoji["humour", "chases"]["likes"])
    for row in report["users"]:
        assert "answers without emoji" not in row["dislikes"] and "answers without emoji" not in row["likes"] or \
            row["dimension"] != "emoji" or row["direction"] == "avoids"
