import argparse
import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from prefchat.api import Assistant, MigrationReport, QuestionTurn, migrate_profiles
from prefchat.elicitation import Comparison, laplace_posterior
from prefchat.profiles import add_arguments
from prefchat.reward.pack import save_pack
from prefchat.settings import Settings
from prefchat.storage import NotFound


@pytest.fixture
def settings(tmp_path, db_url):
    return Settings(home=tmp_path / "home", db_url=db_url, embedding_model="unused")


@pytest.fixture
def assistant(pack_dir, settings, embed):
    with Assistant.open(pack=pack_dir, settings=settings, embed=embed) as assistant:
        yield assistant


def onboard(assistant, user_id, choose, coef):
    turn = assistant.start(user_id)
    while isinstance(turn, QuestionTurn):
        turn = assistant.answer(turn.session_id, choose(coef, turn))
    return turn


def test_import_prefchat_stays_light_and_assistant_loads_on_demand():
    code = (
        "import sys, prefchat\n"
        "assert 'numpy' not in sys.modules and 'prefchat.api' not in sys.modules\n"
        "assert prefchat.Assistant.__name__ == 'Assistant' and 'prefchat.api' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_open_takes_a_pack_path_name_or_object_and_the_settings_database(pack, pack_dir, settings, embed, store):
    by_object = Assistant.open(pack=pack, db=settings.db_url, embed=embed)
    named = settings.packs_dir / "tiny-copy"
    save_pack(pack, named)
    by_name = Assistant.open(pack="tiny-copy", settings=settings, embed=embed)
    by_path = Assistant.open(pack=str(pack_dir), settings=settings, embed=embed)
    for opened in (by_object, by_name, by_path):
        assert opened.pack.n_items == pack.n_items and opened.store.engine.url.database.endswith("prefchat.sqlite")
        opened.close()


def test_the_api_end_to_end(assistant, choose, planted):
    result = onboard(assistant, "alice", choose, planted)
    assert assistant.profile("alice").n_answers == 10
    assert assistant.summary("alice").text == result.summary_text
    picks = assistant.recommend("alice", k=3)
    assert len(picks) == 3 and all(p.item_id for p in picks)
    assert assistant.say("alice", "what do you know about me?").text == result.summary_text
    exported = assistant.export("alice")
    assert len(exported["answers"]) == 10 and exported["profiles"][0]["user_id"] == "alice"
    assistant.forget("alice")
    with pytest.raises(NotFound):
        assistant.export("alice")


def test_rank_orders_texts_outside_the_catalog_and_follows_corrections(assistant, choose, planted):
    onboard(assistant, "alice", choose, planted)
    candidates = ["a horror story", "a musical story", "a comedy story"]
    ranked = assistant.rank("alice", candidates)
    assert sorted(r.index for r in ranked) == [0, 1, 2] and all(r.item_id is None for r in ranked)
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    place = {r.index: i for i, r in enumerate(ranked)}
    given = assistant.state(assistant.latest_session("alice").id).answers
    assert any(r.reason.answers for r in ranked) and all(set(r.reason.answers) <= set(given) for r in ranked)
    assistant.correct("alice", "I love musicals, no horror please")
    assert "musical" in assistant.summary("alice").text
    after = {r.index: i for i, r in enumerate(assistant.rank("alice", candidates, k=3))}
    assert after[1] <= place[1] and after[0] >= place[0]
    assert after[1] < after[0], "the stated taste should put the musical above the horror story"


def test_correct_returns_none_and_stores_nothing_when_no_taste_is_named(assistant, choose, planted, store):
    onboard(assistant, "alice", choose, planted)
    assert assistant.correct("alice", "I love quantum chromodynamics") is None
    assert len(store.summary_history("alice", "tiny")) == 1


def test_without_an_embedder_text_ranking_and_corrections_are_value_errors(pack, store, choose, planted):
    conversation = Assistant(pack, store)
    onboard(conversation, "alice", choose, planted)
    with pytest.raises(ValueError, match="embedder"):
        conversation.rank("alice", ["a musical story"])
    with pytest.raises(ValueError, match="embedder"):
        conversation.correct("alice", "I love musicals")


# --------------------------------------------------------------------------- migration


@pytest.fixture
def retrained(small_pack):
    """The pack retrained: other features, and ten items fewer."""
    return small_pack(50, seed=1, manifest={"name": "tiny", "version": "2"})


def test_migrate_carries_answers_and_summary_to_the_new_pack(pack, retrained, store, embed, choose, planted):
    old = Assistant(pack, store, embed)
    onboard(old, "alice", choose, planted)
    old.say("alice", "more like Golden Garden")
    old.say("alice", "actually I love musicals")
    onboard(old, "bob", choose, -planted)
    store.save_profile(store.create_user("ghost").id, "tiny", "1", np.zeros(pack.n_bases), np.eye(pack.n_bases), {})

    report = migrate_profiles(store, pack, retrained)

    assert report == MigrationReport(2, 1, {"ghost": "user 'ghost' finished no session with pack 'tiny'"})
    old_session = next(s for s in store.export_user("alice")["sessions"] if s["pack_version"] == "1")
    index = {item.item_id: i for i, item in enumerate(retrained.items)}
    kept = [t for t in store.session_history(old_session["id"]) if all(i in index for i in t.question.item_ids)]
    profile = store.get_profile("alice", "tiny", "2")
    assert profile.n_answers == len(kept) and profile.counts.get("more_like") == 1
    reference = np.vstack([retrained.features, retrained.features.mean(0)])
    answers = [Comparison(index[t.question.item_ids[0]], index[t.question.item_ids[1]], t.answer.choice)
               if t.answer.kind == "choice" else Comparison(index[t.question.item_ids[0]], 50, "a") for t in kept]
    np.testing.assert_allclose(profile.mean, laplace_posterior(*retrained.prior, reference, answers).mean, atol=1e-9)
    history = store.summary_history("alice", "tiny")
    assert history[-1].pack_version == "2" and history[-1].source == "edited"
    assert history[-1].text == history[-2].text and "musical" in history[-1].text

    new = Assistant(retrained, store, embed)
    assert len(new.recommend("alice", k=5)) == 5
    assert new.say("alice", "more like Golden Garden").intent == "more_like"
    assert store.get_profile("alice", "tiny", "2").counts["more_like"] == 2


# --------------------------------------------------------------------------- prefchat profiles ...


@pytest.fixture
def cli(settings, capsys):
    parser = argparse.ArgumentParser(prog="prefchat")
    add_arguments(parser.add_subparsers(dest="command"))

    def run(*argv):
        args = parser.parse_args(["profiles", *map(str, argv)])
        status = args.run(args, settings)
        return status, capsys.readouterr()

    return run


def test_profiles_list_show_and_export(assistant, cli, tmp_path, choose, planted, pack_dir):
    from prefchat.ui.export import signed_axis_names

    onboard(assistant, "alice", choose, planted)
    onboard(assistant, "bob", choose, -planted)

    status, out = cli("list", "--min-answers", 10)
    assert status == 0 and "alice" in out.out and "bob" in out.out and "2 profiles" in out.out
    assert "bob" not in cli("list", "--search", "ali")[1].out

    status, out = cli("show", "alice")
    shown = json.loads(out.out)
    assert shown["user"]["id"] == "alice" and len(shown["summaries"]) == 1

    assert cli("export", "alice", "--out", tmp_path / "alice.json")[0] == 0
    assert json.loads((tmp_path / "alice.json").read_text())["user"]["id"] == "alice"
    cli("export", "--all", "--format", "csv", "--out", tmp_path / "all.csv")
    with open(tmp_path / "all.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["user_id"] for r in rows) == ["alice", "bob"] and all(r["n_answers"] == "10" for r in rows)
    assert all(json.loads(r["axes"]) == [] for r in rows)
    cli("export", "--all", "--format", "csv", "--pack", pack_dir, "--out", tmp_path / "named.csv")
    with open(tmp_path / "named.csv", newline="", encoding="utf-8") as handle:
        named = [json.loads(r["axes"]) for r in csv.DictReader(handle)]
    assert named[0] == signed_axis_names(assistant.pack) and named[0][0].startswith("+ ") and len(named[0]) == assistant.pack.n_bases
    cli("export", "--all", "--format", "parquet", "--out", tmp_path / "all.parquet")
    frame = pd.read_parquet(tmp_path / "all.parquet")
    assert sorted(frame.user_id) == ["alice", "bob"] and len(json.loads(frame["mean"][0])) == assistant.pack.n_bases

    status, out = cli("show", "nobody")
    assert status == 1 and "nobody" in out.err


def test_profiles_delete_refuses_without_confirmation_off_a_terminal(assistant, cli, store, choose, planted):
    onboard(assistant, "alice", choose, planted)
    status, out = cli("delete", "alice")
    assert status == 1 and "--yes" in out.err and store.get_user("alice")
    assert cli("delete", "alice", "--yes")[0] == 0
    with pytest.raises(NotFound):
        store.get_user("alice")


def test_profiles_migrate_prints_how_many_were_carried(assistant, cli, pack_dir, retrained, tmp_path, choose, planted):
    onboard(assistant, "alice", choose, planted)
    new_dir = save_pack(retrained, tmp_path / "tiny-2")
    status, out = cli("migrate", "--from", pack_dir, "--to", new_dir)
    assert status == 0 and "carried 1 of 1 profiles from tiny 1 to tiny 2" in out.out


def test_the_default_pack_is_found_never_built(settings):
    """A server only loads packs: without a built default pack, opening it says which command builds it."""
    with pytest.raises(ValueError, match=r"the default pack is not built yet in .*: run `prefchat pack default`"):
        Assistant.open(pack="default", settings=settings)
    assert not (settings.packs_dir / "default").exists()
