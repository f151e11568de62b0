"""Returning users through the Python API: the greeting after the pack's timescale, the check-in the
benchmark measures (one loop), the old profile kept in history, and a "Lately:" its answers show."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import numpy as np
import pytest

from prefchat.api import Assistant
from prefchat.assistant.returning import lately
from prefchat.assistant.turns import QuestionTurn, ResultTurn, SessionOptions
from prefchat.elicitation.checkin import (
    CheckIn,
    checkin_policy,
    personal_familiarity,
    returning_evidence,
    returning_tasks,
    run_checkin,
)
from prefchat.elicitation.evaluate import benchmark_policy
from prefchat.elicitation.known import KnownModel, components, population, spectral_bases
from prefchat.elicitation.metrics import top_k
from prefchat.elicitation.onboarding import known_items, run_session
from prefchat.elicitation.posterior import Comparison
from prefchat.elicitation.respondents import head_items
from prefchat.elicitation.selection import Question
from prefchat.reward.checkin import returning_recalls
from prefchat.reward.scoring import Scorer, Taste
from prefchat.storage import NotFound

from .test_item_trend import DAY, START, base_rated, dated_users, trending

N_ANSWERS = 6
RETENTION = 0.5


def returning_pack(pack, timescale: float | None = 30 * DAY, retention: float = RETENTION):
    """A dated pack with a known-items model, whose check-in settings are ``timescale`` and ``retention``."""
    rng = np.random.default_rng(8)
    taste = np.array([item.tags[0] == pack.items[0].tags[0] for item in pack.items])
    x = np.array([(rng.random(pack.n_items) < np.where(taste == (u % 2 == 0), 0.4, 0.05)) for u in range(80)], float)
    emission, features = spectral_bases(*components(x), 5.0)
    known = KnownModel(features, emission, *population(x, emission), tau=1.0)
    hyper = {**pack.manifest["hyperparameters"], "checkin_retention": retention, "checkin_timescale": timescale}
    return dataclasses.replace(pack, known=known, manifest={**pack.manifest, "hyperparameters": hyper})


@pytest.fixture(scope="module")
def pack(small_pack):
    return returning_pack(trending(base_rated(small_pack(manifest={"name": "returning"}))))


def at(seconds: float):
    return lambda: datetime.fromtimestamp(seconds, UTC)


def answer_all(app, turn, respondent):
    while isinstance(turn, QuestionTurn):
        response = respondent.answer(Question(tuple(app.pack.index_of(card.item_id) for card in turn.items)))
        turn = app.answer(turn.session_id, str(response), question_id=turn.question_id)
    return turn


def test_the_app_serves_the_check_in_the_benchmark_measures(pack, tmp_path, embed):
    """Onboarding, then the check-in at the return, through the API: the same questions and top 20 as the fold."""
    users, times = dated_users(pack)
    tasks = returning_tasks(users, times, [0], head_items(pack.popularity))
    prior, pool = pack.serving.session_prior("watch"), pack.serving.pool(300)
    onboarding = benchmark_policy("active", pool, N_ANSWERS, familiarity=pack.familiarity)
    options = SessionOptions(min_questions=N_ANSWERS, max_questions=N_ANSWERS, strategy="active", objective="watch")
    widened = 0
    with Assistant.open(pack, db=f"sqlite:///{tmp_path}/app.sqlite", embed=embed) as app:
        for task in tasks:
            old = run_session(pack.features, prior, onboarding, task.early, 11).posteriors[-1]
            check = CheckIn(old.mean, old.cov, prior.prior_mean, prior.prior_cov, RETENTION)
            policy = checkin_policy(check, pool, familiarity=personal_familiarity(pack.known_model, known_items(old.answers)),
                                    earlier=known_items(old.answers))
            session, posterior, weight = run_checkin(pack.features, check, policy, task.recent, 12)
            known, earlier, social = returning_evidence(known_items(posterior.answers), known_items(old.answers), weight,
                                                        pack.known_model)
            taste = Taste(posterior.mean, posterior.cov, None, "watch", known, posterior.answers, social, task.as_of, earlier)
            measured = [pack.items[i].item_id for i in top_k(Scorer(pack).served_scores(taste), 20, np.array(sorted(known | earlier)))]
            widened += weight < 1

            user = f"user-{task.user_id}"
            app.clock = at(task.onboarded_at)
            answer_all(app, app.start(user, options=options, seed=11), task.early)
            app.clock = at(task.as_of)
            turn = app.check_in(user, seed=12)
            asked = []
            while isinstance(turn, QuestionTurn):
                question = Question(tuple(pack.index_of(card.item_id) for card in turn.items))
                asked.append(question.items)
                turn = app.answer(turn.session_id, str(task.recent.answer(question)), question_id=turn.question_id)
            assert asked == [q.items for q in session.questions], task.user_id
            assert isinstance(turn, ResultTurn)
            np.testing.assert_allclose(app.profile(user).mean, posterior.mean, rtol=1e-6, atol=1e-8)
            assert [pick.item_id for pick in app.recommend(user, k=20)] == measured, task.user_id
    assert tasks and widened  # some check-in widened: the earlier items' weight is exercised


def test_the_in_memory_fold_is_what_the_build_chooses_on(pack):
    users, times = dated_users(pack, 2)
    tasks = returning_tasks(users, times, [0], head_items(pack.popularity))
    recalls = returning_recalls(pack, tasks, retentions=(1.0, 0.0))
    assert set(recalls) == {"old", "fresh", "checkin 1", "checkin 0", "widened 1", "widened 0"}
    assert not recalls["widened 1"].any()  # retention 1 never widens
    assert all(np.all((0 <= v) & (v <= 1)) for v in recalls.values())


def test_a_returning_user_is_greeted_after_the_timescale_and_the_old_profile_stays_readable(pack, tmp_path, embed):
    options = SessionOptions(min_questions=4, max_questions=4, objective="watch")
    with Assistant.open(pack, db=f"sqlite:///{tmp_path}/app.sqlite", embed=embed) as app:
        app.clock = at(START)
        assert app.checkin_offer("nobody") is None
        turn = app.start("back", options=options)
        while isinstance(turn, QuestionTurn):
            turn = app.answer(turn.session_id, "a")
        old = app.profile("back")
        app.clock = lambda: old.updated_at + (old.updated_at - old.updated_at).__class__(days=10)
        assert app.checkin_offer("back") is None  # too soon
        app.clock = lambda: old.updated_at + (old.updated_at - old.updated_at).__class__(days=243)
        assert app.checkin_offer("back") == "It's been 8 months: three quick questions to check your picks still fit?"
        turn = app.check_in("back")
        n = 0
        while isinstance(turn, QuestionTurn):
            assert turn.expected_total == 3
            turn = app.answer(turn.session_id, "b")
            n += 1
        assert n == 3 and isinstance(turn, ResultTurn)
        history = app.store.profile_history("back", pack.name)
        assert [p.version for p in history] == [1, 2]
        np.testing.assert_array_equal(history[0].mean, old.mean)  # the old profile, as it was
        assert history[1].n_answers == old.n_answers + 3
        # The summary counts every answer behind the profile, not the three of the check-in alone, and claims
        # no confidence that only those three were measured for.
        summary = app.summary("back")
        assert summary.n_answers == old.n_answers + 3 and f"({old.n_answers + 3} answers" in summary.text
        assert summary.confidence is None and "(3 answers" not in summary.text
        assert app.checkin_offer("back") is None  # just checked
    undated = dataclasses.replace(pack, manifest={**pack.manifest, "hyperparameters": {
        **pack.manifest["hyperparameters"], "checkin_timescale": None}})
    with Assistant.open(undated, db=f"sqlite:///{tmp_path}/other.sqlite", embed=embed) as app:
        turn = app.start("someone", options=options)
        while isinstance(turn, QuestionTurn):
            turn = app.answer(turn.session_id, "a")
        app.clock = at(START + 3000 * DAY)
        assert app.checkin_offer("someone") is None  # data without timestamps: no check-in
    with Assistant.open(pack, db=f"sqlite:///{tmp_path}/none.sqlite", embed=embed) as app:
        with pytest.raises((NotFound, LookupError)):
            app.check_in("stranger")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_check_in_says_whether_its_answers_moved_the_taste(pack, embed, seed):
    """A meaning test of :attr:`ResultTurn.moved` (what the chat says after the three questions): onboarded by a
    planted taste, a check-in answered as the old profile predicts keeps it (False), one answered against it
    is contradicted (True), at once and when the result is shown again; an onboarding's result says None."""
    options = SessionOptions(min_questions=8, max_questions=8, objective="watch")
    planted = np.random.default_rng(seed).normal(size=pack.n_bases) * 3
    with Assistant.open(pack, db="sqlite://", embed=embed) as app:
        def by(coef, turn):
            a, b = (app.features[pack.index_of(card.item_id)] @ coef for card in turn.items)
            return "a" if a >= b else "b"

        for agree in (True, False):
            user = f"user-{agree}"
            turn = app.start(user, options=options)
            while isinstance(turn, QuestionTurn):
                turn = app.answer(turn.session_id, by(planted, turn))
            assert isinstance(turn, ResultTurn) and turn.moved is None
            old = app.profile(user).mean
            turn = app.check_in(user)
            while isinstance(turn, QuestionTurn):
                turn = app.answer(turn.session_id, by(old if agree else -old, turn))
            assert isinstance(turn, ResultTurn) and turn.moved is (not agree)
            assert app.resume(turn.session_id).moved is (not agree)


def test_lately_never_claims_a_move_the_answers_do_not_show(pack):
    """A meaning test: every "more d" is a genre the check-in's chosen films carry more often than the ones
    passed over, every "less d" one they carry less often; on many random check-ins, some say something."""
    rng = np.random.default_rng(0)
    tags = [set(item.tags) for item in pack.items]
    said = 0
    for _ in range(40):
        old = rng.normal(size=pack.n_bases)
        answers = [Comparison(int(i), int(j), "a") for i, j in rng.choice(pack.n_items, size=(3, 2), replace=False)]
        new = old + rng.normal(scale=2.0, size=pack.n_bases)
        text = lately(pack, old, new, answers)
        if not text:
            continue
        said += 1
        for side, sign in (("more", 1), ("less", -1)):
            match = re.search(rf"{side} ([^,.]+)", text)
            for descriptor in re.split(r", | and ", match.group(1)) if match else []:
                lean = sum((descriptor in tags[a.item_a]) - (descriptor in tags[a.item_b]) for a in answers)
                assert sign * lean > 0, (text, descriptor, lean)
    assert said


def test_the_build_chooses_a_retention_of_its_grid_and_a_timescale_past_a_day(pack):
    from prefchat.elicitation.checkin import MIN_RETURN, RETENTIONS
    from prefchat.reward.checkin import choose_checkin

    users, times = dated_users(pack, 3)
    chosen, record = choose_checkin(pack, users, times, [0])
    assert chosen["checkin_retention"] in RETENTIONS
    assert chosen["checkin_timescale"] is None or chosen["checkin_timescale"] >= MIN_RETURN
    best = max(record["retention_grid"], key=lambda row: (row["recall@20"], row["retention"]))
    assert best["retention"] == chosen["checkin_retention"] and record["validation_tasks"] == 3
