"""The contract of one onboarding loop: the public API on a real SQLite store asks what the benchmark asks.

For the same pack, respondent and seed, :class:`~prefchat.api.Assistant` (start, answer,
recommend) and the benchmark's :func:`~prefchat.elicitation.onboarding.run_session` ask the same
questions in the same order and end with the same top 20, in every strategy and objective; and
``prefchat eval --through-api`` reports exactly what ``prefchat eval`` reports.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest
from sqlalchemy import event

from prefchat import evaluation
from prefchat.api import Assistant
from prefchat.assistant.recommender import ServedScore
from prefchat.assistant.turns import QuestionTurn, ResultTurn, SessionOptions
from prefchat.cli import add_eval_arguments
from prefchat.elicitation import STRATEGIES
from prefchat.elicitation.evaluate import KWAY_OPTIONS, KWAY_SESSIONS, benchmark_policy, rating_tasks, task_seed
from prefchat.elicitation.metrics import top_k
from prefchat.elicitation.onboarding import known_items, run_session
from prefchat.elicitation.personas import PersonaSettings
from prefchat.elicitation.selection import Question
from prefchat.reward.pack import save_pack
from prefchat.settings import Settings
from tests.conftest import genre_items

N_ANSWERS = 10


def with_base_rates(pack):
    """The pack as if trained on ratings of 999 users, with a "watch" exposure offset of its own."""
    manifest = {**pack.manifest, "data": {"n_ratings": 100}, "split": {"train": [f"u{i}" for i in range(999)], "test": []},
                "hyperparameters": {**pack.manifest["hyperparameters"], "watch_prior_scale": 4.0}}
    return dataclasses.replace(pack, manifest=manifest, exposure=np.linspace(-0.5, 0.5, pack.n_bases))


@pytest.fixture(scope="module", params=["watch", "prefer"])
def loop_pack(request, small_pack):
    pack = small_pack(manifest={"name": "loop"})
    return with_base_rates(pack) if request.param == "watch" else pack


def tasks_of(pack, n_users=6):
    rng = np.random.default_rng(4)
    users = {}
    for u in range(n_users):
        items = rng.choice(pack.n_items, size=24, replace=False)
        users[f"t{u}"] = (items, rng.integers(1, 6, size=items.size).astype(float))
    return rating_tasks(users, "watch", [0], pack.popularity)


def benchmark(pack, task, strategy):
    """The questions and the top 20 of the benchmark's session (the served exclusions applied)."""
    policy = benchmark_policy(strategy, pack.serving.pool(300), N_ANSWERS, pack.groups, pack.familiarity,
                              pack.serving.questions)
    session = run_session(pack.features, pack.serving.session_prior(pack.objective), policy, task.respondent,
                          task_seed(task, strategy))
    posterior = session.posteriors[-1]
    scores = ServedScore(pack, pack.objective)(posterior)
    top = top_k(scores, 20, exclude=np.array(sorted(known_items(posterior.answers)), dtype=np.intp))
    return [q.items for q in session.questions], [pack.items[i].item_id for i in top]


def served(app, task, strategy):
    """The questions the app shows and the top 20 it recommends, answered by the same respondent."""
    kway = strategy in KWAY_SESSIONS
    options = SessionOptions(min_questions=N_ANSWERS, max_questions=N_ANSWERS, strategy=KWAY_SESSIONS.get(strategy, strategy),
                             question_size=KWAY_OPTIONS if kway else 2)
    turn, questions = app.start(f"user-{task.user_id}-{strategy}", options=options, seed=task_seed(task, strategy)), []
    while isinstance(turn, QuestionTurn):
        items = tuple(app.pack.index_of(card.item_id) for card in turn.items)
        questions.append(items)
        response = task.respondent.answer(Question(items))
        text = response if not kway else "none of these" if response is None else str(items.index(response) + 1)
        turn = app.answer(turn.session_id, text, question_id=turn.question_id)
    assert isinstance(turn, ResultTurn)
    return questions, [pick.item_id for pick in app.recommend(turn.user_id, k=20)]


@pytest.mark.parametrize("strategy", [*STRATEGIES, *KWAY_SESSIONS])
def test_the_app_asks_and_recommends_what_the_benchmark_does(loop_pack, strategy, tmp_path, embed):
    with Assistant.open(loop_pack, db=f"sqlite:///{tmp_path}/app.sqlite", embed=embed) as app:
        for task in tasks_of(loop_pack):
            asked, top = served(app, task, strategy)
            assert (asked, top) == benchmark(loop_pack, task, strategy), f"user {task.user_id}"
            assert len(asked) == N_ANSWERS


def served_differently(plain, strategy, part, tmp_path, embed, **hyperparameters):
    """How many tasks ``plain`` with ``hyperparameters`` serves differently from ``plain`` in ``part`` (0: the
    questions, 1: the top 20), once the app is seen to ask and recommend what the benchmark does."""
    pack = dataclasses.replace(plain, manifest={**plain.manifest, "hyperparameters": {
        **plain.manifest["hyperparameters"], **hyperparameters}})
    differ = 0
    with Assistant.open(pack, db=f"sqlite:///{tmp_path}/app.sqlite", embed=embed) as app:
        for task in tasks_of(pack):
            asked, top = served(app, task, strategy)
            assert (asked, top) == benchmark(pack, task, strategy), f"user {task.user_id}"
            differ += (asked, top)[part] != benchmark(plain, task, strategy)[part]
    return differ


def test_the_taste_slot_is_asked_as_the_benchmark_asks_it(small_pack, tmp_path, embed):
    """A pack serving 4-way questions with their taste slot: the app asks what the benchmark asks (the
    app's catalog has one more row, the reference item, which carries no taste), not what it asks without.
    Each film keeps one tag of its two, so that a question does not show every taste at once."""
    films = [dataclasses.replace(item, tags=item.tags[-1:]) for item in genre_items(60)]
    plain = with_base_rates(small_pack(films, manifest={"name": "loop"}))
    assert served_differently(plain, "kway", 0, tmp_path, embed, question_size=KWAY_OPTIONS, question_tastes=1)


@pytest.mark.parametrize("strategy", ["active", "kway"])
def test_each_users_own_familiarity_is_asked_as_the_benchmark_asks_it(small_pack, household_pack, strategy, tmp_path,
                                                                       embed):
    """A pack whose questions read each user's own chance of knowing an item (its known-items model's): the app
    asks what the benchmark asks (the app's reference item is known to nobody), not what it asks without."""
    plain = household_pack(small_pack(manifest={"name": "loop"}), PersonaSettings())
    assert served_differently(plain, strategy, 0, tmp_path, embed, question_knowing=1)


def test_a_calibrated_list_is_served_as_the_benchmark_ranks_it(small_pack, tmp_path, embed):
    """A pack whose "watch" lists are calibrated to the user's genres: the app and the benchmark
    still end with the same top 20, and it is not the uncalibrated one."""
    plain = with_base_rates(small_pack(manifest={"name": "loop"}))
    assert served_differently(plain, "active", 1, tmp_path, embed, calibration_weight=0.9, calibration_popularity=0.5)


def test_a_session_resumed_by_a_fresh_process_asks_what_it_would_have(loop_pack, tmp_path, embed):
    """The held posterior is a cache: an engine that never saw the session replays it to the same question."""
    url = f"sqlite:///{tmp_path}/app.sqlite"
    with Assistant.open(loop_pack, db=url, embed=embed) as app:
        turn = app.start("resumer", seed=7)
        for _ in range(4):
            turn = app.answer(turn.session_id, "a")
        state = app.state(turn.session_id)
    with Assistant.open(loop_pack, db=url, embed=embed) as fresh:
        again = fresh.state(turn.session_id)
        assert fresh.resume(turn.session_id) == turn
    np.testing.assert_array_equal(again.posterior.mean, state.posterior.mean)
    np.testing.assert_array_equal(again.posterior.cov, state.posterior.cov)


def test_an_answer_costs_one_fit_two_transactions_and_eight_statements(loop_pack, tmp_path, embed, monkeypatch):
    """Eight statements, BEGIN included: the session read under its lock, its history, the check that the
    question is unanswered, the answer, the next position, the next question and the session's row."""
    with Assistant.open(loop_pack, db=f"sqlite:///{tmp_path}/app.sqlite", embed=embed) as app:
        turn = app.start("counted")
        begun, fits, statements = [], [], []
        event.listen(app.store.engine, "begin", lambda connection: begun.append(1))
        event.listen(app.store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        update = type(app.state(turn.session_id).posterior).update
        monkeypatch.setattr(type(app.state(turn.session_id).posterior), "update",
                            lambda self, *a, **k: fits.append(1) or update(self, *a, **k))
        while isinstance(turn, QuestionTurn):
            begun.clear(), fits.clear(), statements.clear()
            turn = app.answer(turn.session_id, "b")
            assert len(begun) <= 3 and len(fits) == 1, f"{len(begun)} transactions, {len(fits)} fits"
            if isinstance(turn, QuestionTurn):
                assert len(statements) <= 8, "\n".join(statements)


def test_a_recommendation_in_a_fresh_process_replays_no_answer(loop_pack, tmp_path, embed, monkeypatch):
    """What a top k leaves out is read from the stored answers: no posterior is refitted to serve it."""
    url = f"sqlite:///{tmp_path}/app.sqlite"
    with Assistant.open(loop_pack, db=url, embed=embed) as app:
        turn = app.start("replayless", seed=3)
        while isinstance(turn, QuestionTurn):
            turn = app.answer(turn.session_id, "a")
        served = app.recommend("replayless", k=20)
    fits = []
    update = type(app.state(turn.session_id).posterior).update
    monkeypatch.setattr(type(app.state(turn.session_id).posterior), "update",
                        lambda self, *a, **k: fits.append(1) or update(self, *a, **k))
    with Assistant.open(loop_pack, db=url, embed=embed) as fresh:
        assert fresh.recommend("replayless", k=20) == served and not fits


def test_a_retried_answer_is_taken_once(loop_pack, tmp_path, embed):
    with Assistant.open(loop_pack, db=f"sqlite:///{tmp_path}/app.sqlite", embed=embed) as app:
        first = app.start("retrier")
        second = app.answer(first.session_id, "a", question_id=first.question_id)
        again = app.answer(first.session_id, "a", question_id=first.question_id)  # the reply was lost: retry
        assert again == second and app.state(first.session_id).n_answered == 1
        with pytest.raises(Exception, match="not the current question"):
            app.answer(first.session_id, "b", question_id=first.question_id)  # another answer to an old question


@pytest.mark.parametrize("passed_over_weight", [0.0, 0.7])  # with a passed-over term, the benchmark reads the answers too
def test_eval_through_the_api_reports_what_the_benchmark_does(small_pack, tmp_path, monkeypatch, passed_over_weight):
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path / "home"))
    pack = with_base_rates(small_pack(manifest={"name": "loop"}))
    pack = dataclasses.replace(pack, manifest={**pack.manifest, "hyperparameters": {
        **pack.manifest["hyperparameters"], "passed_over_weight": passed_over_weight}})
    tasks = tasks_of(pack, n_users=4)
    users = {task.user_id: (np.r_[task.respondent.query_items, task.targets.relevant],
                            np.r_[task.respondent.query_ratings, np.ones(task.targets.relevant.size)]) for task in tasks}
    pack = dataclasses.replace(pack, manifest={**pack.manifest, "split": {**pack.manifest["split"], "test": list(users)}})
    pack_dir = save_pack(pack, tmp_path / "pack")
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user_id,item_id,rating\n" + "".join(
        f"{user},{pack.items[i].item_id},{r}\n" for user, (items, values) in users.items() for i, r in zip(items, values)))
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    argv = ["--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "watch", "--answers", "0,3,10",
            "--strategies", "population,popularity,random,active,kway,oracle", "--json", str(tmp_path / "r.json")]
    reports = [evaluation.run(parser.parse_args(argv + flag), pack, pack_dir, Settings.from_env())
               for flag in ([], ["--through-api"])]
    assert reports[0]["results"] == reports[1]["results"] and reports[0]["paired"] == reports[1]["paired"]
    assert [r["through_api"] for r in reports] == [False, True]


def test_eval_through_the_api_refuses_what_the_app_does_not_serve(small_pack):
    pack = with_base_rates(small_pack(manifest={"name": "loop"}))
    with pytest.raises(ValueError, match="'pref-reference' is not served"):
        evaluation.served_evaluation(pack, tasks_of(pack), ["pref-reference"], [0], 300, None, Settings.from_env())
    with pytest.raises(ValueError, match="has none"):
        evaluation.served_evaluation(small_pack(manifest={"name": "loop"}), tasks_of(pack), ["active"], [0], 300, None, Settings.from_env())
