"""The served "watch" score with a drifting item term: beta 0 serves today's lists, the clock sets the
moment, and the app serves what the benchmark measures at each task's moment (one loop)."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from prefchat import evaluation
from prefchat.api import Assistant
from prefchat.assistant.recommender import Recommender, ServedScore, Taste
from prefchat.assistant.turns import QuestionTurn, SessionOptions
from prefchat.cli import add_eval_arguments
from prefchat.elicitation.evaluate import benchmark_policy, rating_tasks, task_seed
from prefchat.elicitation.metrics import top_k
from prefchat.elicitation.onboarding import known_items, run_session
from prefchat.elicitation.recency import RecentPopularity
from prefchat.elicitation.selection import Question
from prefchat.elicitation.trend import ItemTrend
from prefchat.reward.pack import PackError, load_pack, save_pack
from prefchat.settings import Settings

N_ANSWERS = 6
DAY = 86400.0
START = 1.5e9  # seconds since 1970, as a clock counts


def base_rated(pack):
    """The pack as if trained on ratings of 999 users (its "watch" score calibrated to base rates)."""
    manifest = {**pack.manifest, "data": {"n_ratings": 100}, "split": {"train": [f"u{i}" for i in range(999)], "test": []},
                "hyperparameters": {**pack.manifest["hyperparameters"], "watch_prior_scale": 4.0}}
    return dataclasses.replace(pack, manifest=manifest, exposure=np.linspace(-0.5, 0.5, pack.n_bases))


def trending(pack, beta=3.0):
    """Item i is rated on day i (ten times): what is popular moves through the catalog, a day a step."""
    items = np.repeat(np.arange(pack.n_items), 10)
    return dataclasses.replace(pack, trend=ItemTrend(RecentPopularity.fit(items, START + DAY * items, pack.n_items, 5 * DAY), beta))


@pytest.fixture(scope="module")
def pack(small_pack):
    return trending(base_rated(small_pack(manifest={"name": "trend"})))


def dated_users(pack, n_users=4):
    rng = np.random.default_rng(5)
    users, times = {}, {}
    for u in range(n_users):
        items = rng.choice(pack.n_items, size=20, replace=False)
        users[f"t{u}"] = (items, rng.integers(1, 6, size=items.size).astype(float))
        times[f"t{u}"] = START + DAY * rng.uniform(10, 50, size=items.size).round()
    return users, times


def test_beta_zero_serves_the_lists_without_time(pack, small_pack):
    plain = base_rated(small_pack(manifest={"name": "trend"}))
    prior = plain.serving.session_prior("watch")
    taste = Taste(prior.prior_mean, prior.prior_cov, objective="watch", as_of=START + 20 * DAY)
    without = Recommender(plain).scores(taste)
    assert np.array_equal(Recommender(dataclasses.replace(pack, trend=dataclasses.replace(pack.trend, beta=0.0))).scores(taste), without)
    timed = Recommender(pack).scores(taste)
    assert timed == pytest.approx(without + pack.trend.term(START + 20 * DAY))
    assert not np.array_equal(top_k(timed, 5), top_k(without, 5))
    prefer = Taste(prior.prior_mean, objective="prefer", as_of=START)
    assert np.array_equal(Recommender(pack).scores(prefer), Recommender(plain).scores(prefer))  # "prefer" has no base rates


def test_the_clock_sets_the_moment_and_a_moment_past_the_data_reads_its_last_window(pack, tmp_path, embed):
    with Assistant.open(pack, db=f"sqlite:///{tmp_path}/app.sqlite", embed=embed) as app:
        turn = app.start("clocked", options=SessionOptions(min_questions=2, max_questions=2))
        while isinstance(turn, QuestionTurn):
            turn = app.answer(turn.session_id, "a")
        lists = {}
        for day in (15, 40, pack.n_items + 1000):
            app.clock = lambda day=day: datetime.fromtimestamp(START + day * DAY, UTC)
            lists[day] = [pick.item_id for pick in app.recommend("clocked", k=10)]
        app.clock = lambda: datetime(2100, 1, 1, tzinfo=UTC)
        assert [pick.item_id for pick in app.recommend("clocked", k=10)] == lists[pack.n_items + 1000]
    assert lists[15] != lists[40]


def test_the_app_recommends_what_the_benchmark_measures_at_the_tasks_moment(pack, tmp_path, embed):
    users, times = dated_users(pack)
    tasks = rating_tasks(users, "watch", [0], pack.popularity, split="time", times=times)
    policy = benchmark_policy("active", pack.serving.pool(300), N_ANSWERS, pack.groups, pack.familiarity)
    options = SessionOptions(min_questions=N_ANSWERS, max_questions=N_ANSWERS, strategy="active")
    with Assistant.open(pack, db=f"sqlite:///{tmp_path}/app.sqlite", embed=embed) as app:
        for task in tasks:
            session = run_session(pack.features, pack.serving.session_prior("watch"), policy, task.respondent,
                                  task_seed(task, "active"))
            posterior = session.posteriors[-1]
            exclude = np.array(sorted(known_items(posterior.answers)), dtype=np.intp)
            measured = [pack.items[i].item_id for i in top_k(ServedScore(pack, "watch").at(task.as_of)(posterior), 20, exclude)]
            app.clock = lambda task=task: datetime.fromtimestamp(task.as_of, UTC)
            turn = app.start(f"user-{task.user_id}", options=options, seed=task_seed(task, "active"))
            while isinstance(turn, QuestionTurn):
                response = task.respondent.answer(Question(tuple(pack.index_of(c.item_id) for c in turn.items)))
                turn = app.answer(turn.session_id, str(response), question_id=turn.question_id)
            assert [pick.item_id for pick in app.recommend(f"user-{task.user_id}", k=20)] == measured, task.user_id


def test_eval_through_the_api_serves_each_task_at_its_moment(pack, tmp_path, monkeypatch):
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path / "home"))
    users, times = dated_users(pack)
    pack = dataclasses.replace(pack, manifest={**pack.manifest, "split": {**pack.manifest["split"], "test": list(users)}})
    pack_dir = save_pack(pack, tmp_path / "pack")
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user_id,item_id,rating,timestamp\n" + "".join(
        f"{user},{pack.items[i].item_id},{r},{t:.0f}\n" for user, (items, values) in users.items()
        for i, r, t in zip(items, values, times[user])))
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    argv = ["--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "watch", "--answers", "0,4",
            "--strategies", "population,active", "--split", "time", "--json", str(tmp_path / "r.json")]
    loaded = load_pack(pack_dir)
    reports = [evaluation.run(parser.parse_args(argv + flag), loaded, pack_dir, Settings.from_env())
               for flag in ([], ["--through-api"])]
    assert reports[0]["results"] == reports[1]["results"]


def test_a_trend_round_trips_and_an_incomplete_one_is_named(pack, tmp_path):
    loaded = load_pack(save_pack(pack, tmp_path / "p"))
    assert loaded.trend is not None and loaded.trend.beta == pack.trend.beta
    assert loaded.trend.recent.window == pack.trend.recent.window
    assert np.array_equal(loaded.trend.term(START + 9 * DAY), pack.trend.term(START + 9 * DAY))
    all_time = load_pack(save_pack(dataclasses.replace(pack, trend=ItemTrend(
        dataclasses.replace(pack.trend.recent, window=np.inf), 1.0)), tmp_path / "q"))
    assert all_time.manifest["trend"] == {"window": None, "beta": 1.0} and all_time.trend.recent.window == np.inf
    manifest = {key: value for key, value in pack.manifest.items() if key != "trend"}
    save_pack(dataclasses.replace(pack, manifest=manifest), tmp_path / "r")
    assert load_pack(tmp_path / "r").trend is not None  # the manifest is written from the pack
    broken = save_pack(dataclasses.replace(pack, trend=None), tmp_path / "s")
    text = (broken / "manifest.json").read_text()
    assert '"trend": null' in text
    with pytest.raises(PackError, match="trend"):
        _with_manifest(broken, trend={"window": 5.0, "beta": 1.0})


def _with_manifest(directory, **changes):
    """Load the pack at ``directory`` after changing its manifest (checksum recomputed)."""
    import json

    from prefchat.reward.pack import MANIFEST, MANIFEST_CHECKSUM, _manifest_checksum

    manifest = json.loads((directory / MANIFEST).read_text())
    manifest.update(changes)
    manifest.pop(MANIFEST_CHECKSUM)
    manifest[MANIFEST_CHECKSUM] = _manifest_checksum(manifest)
    (directory / MANIFEST).write_text(json.dumps(manifest))
    return load_pack(directory)
