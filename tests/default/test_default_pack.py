"""The embedded default pack builds offline from the shipped files, and its benchmark runs."""

import json

import numpy as np
import pytest

from prefchat.cli import main
from prefchat.default.build import ensure_default_pack
from prefchat.default.domain import load_domain
from prefchat.reward.pack import load_pack
from prefchat.settings import Settings


@pytest.fixture(scope="module")
def default_pack(tmp_path_factory):
    settings = Settings.from_env({"PREFCHAT_HOME": str(tmp_path_factory.mktemp("home"))})
    return settings, ensure_default_pack(settings.packs_dir / "default", settings.embedding_model, settings.cache_dir, progress=False)


@pytest.mark.slow
def test_default_pack_is_simulated_trained_on_text_and_keeps_prompts_out(default_pack):
    settings, path = default_pack
    pack = load_pack(path)
    domain = load_domain()
    population = pack.manifest["data"]["population"]
    assert population["simulated"] is True and population["n_users"] >= 1000
    heldout = {domain.prompts[p].prompt_id for p in domain.heldout_prompts}
    assert len(heldout) >= 5 and set(pack.manifest["data"]["heldout_prompts"]) == heldout
    catalog = {item.item_id for item in pack.items}
    assert not any(item_id.startswith(tuple(heldout)) for item_id in catalog)
    assert all(item.tags == () for item in pack.items)  # the style annotations are never features
    assert len(pack.manifest["group_names"]) == domain.n_prompts - len(heldout)
    assert pack.manifest["descriptor_source"] == "vocabulary" and len(pack.axes) == pack.n_learned
    assert "beta" in pack.manifest["hyperparameters"]


@pytest.mark.slow
def test_default_pack_is_reused_while_its_sources_are_unchanged(default_pack):
    settings, path = default_pack
    version = load_pack(path).version
    assert ensure_default_pack(path, settings.embedding_model, settings.cache_dir, progress=False) == path
    assert load_pack(path).version == version


@pytest.mark.slow
def test_simulated_protocol_reports_the_issue_metrics(default_pack, tmp_path, monkeypatch):
    settings, path = default_pack
    monkeypatch.setenv("PREFCHAT_HOME", str(settings.home))
    out = tmp_path / "sim.json"
    assert main(["eval", "--pack", "default", "--protocol", "simulated", "--answers", "0,5,10",
                 "--strategies", "population,random,active,oracle", "--seeds", "1", "--users", "40", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    cells = {(r["strategy"], r["answers"], r["metric"]): r["mean"] for r in report["results"]}
    assert {m for _, _, m in cells} == {"auc", "pairwise_accuracy", "best_of_n_hit"}
    assert report["protocol"] == "simulated" and report["n_test_users"] == 40
    # Questions teach: ten active answers beat the population prior by a wide margin.
    assert cells["active", 10, "auc"] > cells["population", 10, "auc"] + 0.15
    assert cells["oracle", 10, "auc"] > 0.8
    assert np.isfinite(cells["active", 10, "best_of_n_hit"])
