"""The benchmark protocol: respondents, targets, sessions, statistics and the report."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefchat.elicitation import KWayChoice, Question, candidate_pool
from prefchat.elicitation.evaluate import (
    STRATEGY_NAMES,
    Task,
    answerable_questions,
    evaluate,
    mean_ci,
    mostly_unanswered,
    oracle_session,
    per_user,
    popularity_bias,
    rating_tasks,
    shared_account_tasks,
    split_at,
    split_half,
    split_in_time,
    summarise,
)
from prefchat.elicitation.onboarding import CatalogScore, Policy, as_answer, known_items, run_session
from prefchat.elicitation.peers import Ease, Ials, implicit_matrix
from prefchat.elicitation.posterior import Posterior, base_rate_offset
from prefchat.elicitation.recency import RecentPopularity
from prefchat.elicitation.respondents import RankingTargets, RatingsRespondent, RatingTargets, head_items
from prefchat.elicitation.selection import STRATEGIES

N_ITEMS, N_BASES = 60, 3


@pytest.fixture(scope="module")
def world():
    """A small catalog, a standard normal prior, and 8 users whose ratings follow planted coefficients.

    Each user rates 24 of the 40 most popular items, 1 to 5 stars by the quintile of their true
    utility, so QUERY and EVAL halves both reach into the candidate pool.
    """
    rng = np.random.default_rng(3)
    features = rng.normal(size=(N_ITEMS, N_BASES))
    popularity = np.sort(rng.gamma(2.0, size=N_ITEMS))[::-1].copy()
    users = {}
    for u in range(8):
        coef = rng.normal(size=N_BASES) * 2.0
        items = rng.choice(40, size=24, replace=False)
        utility = features[items] @ coef
        ratings = 1.0 + np.searchsorted(np.quantile(utility, [0.2, 0.4, 0.6, 0.8]), utility)
        users[f"u{u}"] = (items, ratings)
    rows = np.concatenate([np.full(24, u) for u in range(8)])
    matrix = implicit_matrix(rows, np.concatenate([items for items, _ in users.values()]), 8, N_ITEMS)
    clock = np.random.default_rng(4)  # the ratings' dates, drawn apart so the rest of the world is as it was
    times = {user_id: clock.integers(0, 1000, size=24).astype(float) for user_id in users}
    rated = np.concatenate([items for items, _ in users.values()])
    return {
        "peers": {"ease": Ease.fit(matrix, 10.0), "ials": Ials.fit(matrix, factors=3, alpha=4.0, iterations=3)},
        "times": times,
        "recent": RecentPopularity.fit(rated, np.concatenate(list(times.values())), N_ITEMS, window=200.0),
        "features": features,
        "popularity": popularity,
        "prior_mean": np.zeros(N_BASES),
        "prior_cov": np.eye(N_BASES),
        "pool": candidate_pool(features, popularity, size=30, rng=0),
        "users": users,
    }


def run(world, tasks, strategies=STRATEGY_NAMES, answers=(0, 1, 3, 6)):
    return evaluate(
        tasks, world["features"], world["prior_mean"], world["prior_cov"], strategies, answers,
        pool=world["pool"], popularity=world["popularity"], peers=world["peers"], recent=world["recent"],
    )


# --------------------------------------------------------------------------- respondents


@pytest.mark.parametrize(
    ("protocol", "pair", "expected"),
    [
        ("prefer", (1, 2), "b"),
        ("prefer", (2, 1), "a"),
        ("prefer", (2, 3), "tie"),
        ("prefer", (1, 7), "skip"),
        ("prefer", (7, 8), "skip"),
        ("watch", (1, 2), "b"),
        ("watch", (2, 3), "tie"),
        ("watch", (1, 7), "a"),
        ("watch", (7, 1), "b"),
        ("watch", (7, 8), "skip"),
    ],
)
def test_pair_answers(protocol, pair, expected):
    respondent = RatingsRespondent(np.array([1, 2, 3]), np.array([2.0, 4.0, 4.0]), protocol)
    assert respondent.answer(Question(pair)) == expected


def test_implicit_kway_answers_pick_the_best_rated_first_shown_among_equals():
    """Rated beats unrated ("the one I have seen"), so the pick beats every option shown."""
    respondent = RatingsRespondent(np.array([1, 2, 3]), np.array([2.0, 4.0, 4.0]), "watch")
    assert respondent.answer(Question((7, 1, 8, 9))) == 1
    assert respondent.answer(Question((7, 3, 1, 2))) == 3
    assert respondent.answer(Question((7, 2, 1, 3))) == 2
    assert respondent.answer(Question((7, 8, 9, 10))) is None


def test_explicit_kway_answers_rank_the_pick_above_the_rated_options_only():
    """An unrated option is one the respondent cannot judge: the evidence compares the rated ones."""
    respondent = RatingsRespondent(np.array([1, 2, 3]), np.array([2.0, 4.0, 4.0]), "prefer")
    assert respondent.answer(Question((7, 3, 1, 2))) == KWayChoice((3, 1, 2), 3)
    assert respondent.answer(Question((7, 2, 1, 3))) == KWayChoice((2, 1, 3), 2)
    assert respondent.answer(Question((7, 1, 8, 9))) is None  # one rated: nothing compared
    assert respondent.answer(Question((7, 8, 9, 10))) is None


def test_on_sight_tasks_ask_each_user_about_their_query_items_only(world):
    tasks = rating_tasks(world["users"], "prefer", seeds=[0], popularity=world["popularity"], on_sight=True)
    for task in tasks:
        assert task.pool.tolist() == sorted(task.respondent.query_items.tolist())
    ev = evaluate(tasks, world["features"], world["prior_mean"], world["prior_cov"], ("active",), (0, 6),
                  pool=world["pool"])
    assert ev.dont_know[0, 1].sum() == 0  # every question is about rated items: none is a "don't know"


def test_respondent_rejects_bad_input():
    with pytest.raises(ValueError, match="'ranked'"):
        RatingsRespondent(np.array([1, 2]), np.array([1.0, 2.0]), "ranked")
    with pytest.raises(ValueError, match="more than once"):
        RatingsRespondent(np.array([1, 1]), np.array([1.0, 2.0]), "prefer")
    with pytest.raises(ValueError, match="one length"):
        RatingsRespondent(np.array([1, 2]), np.array([1.0]), "prefer")


def test_explicit_evidence_is_every_unequal_pair_winner_first_up_to_the_cap():
    items, ratings = np.array([5, 6, 7, 8]), np.array([1.0, 3.0, 3.0, 5.0])
    a, b, labels = RatingsRespondent(items, ratings, "prefer").evidence(20, np.random.default_rng(0))
    rating = dict(zip(items.tolist(), ratings.tolist()))
    assert len(a) == 5 and np.all(labels == 1)  # 6 pairs, one of them equal
    assert all(rating[i] > rating[j] for i, j in zip(a.tolist(), b.tolist()))
    capped = RatingsRespondent(items, ratings, "prefer", max_pairs=3).evidence(20, np.random.default_rng(0))
    assert len(capped[0]) == 3


def test_implicit_evidence_is_each_rated_item_against_a_distinct_unrated_one():
    items = np.array([0, 3, 4])
    a, b, labels = RatingsRespondent(items, np.ones(3), "watch").evidence(10, np.random.default_rng(0))
    assert sorted(a.tolist()) == [0, 3, 4] and np.all(labels == 1)
    assert len(set(b.tolist())) == 3 and not set(b.tolist()) & {0, 3, 4}


# --------------------------------------------------------------------------- targets


def test_head_items_known_answer():
    assert head_items(np.array([3.0, 9.0, 1.0, 9.0, 5.0]), share=0.4).tolist() == [False, True, False, True, False]
    with pytest.raises(ValueError, match="1.5"):
        head_items(np.ones(3), share=1.5)


def test_rating_targets_known_answer():
    targets = RatingTargets(np.array([0, 2, 3]), np.array([1.0, 2.0, 3.0]))
    result = targets(np.array([0.0, 9.0, 2.0, 1.0]))  # orders (2, 3) wrong, (0, 2) and (0, 3) right
    # AUC of the margins {2, 1, -1} against their negations {-2, -1, 1}: (3 + 2.5 + 1.5) / 9
    assert result == pytest.approx({"pairwise_accuracy": 2 / 3, "auc": 7 / 9})


def test_ranking_targets_rank_the_catalog_without_query_items():
    head = np.array([True, True, False, False, False, False])
    targets = RankingTargets(relevant=np.array([2, 4]), exclude=np.array([0]), head=head, k=2)
    result = targets(np.array([9.0, 5.0, 7.0, 0.0, 1.0, 2.0]))  # top 2 without item 0: items 2, 1
    assert targets.metrics == ("recall@2", "ndcg@2", "long_tail_share@2", "tail_recall@2")
    # EVAL items 2 and 4 are both in the tail; item 2 is ranked: tail recall 1/2
    assert result == pytest.approx({"recall@2": 0.5, "ndcg@2": 1.0 / (1.0 + 1.0 / np.log2(3)), "long_tail_share@2": 0.5,
                                    "tail_recall@2": 0.5})
    head_only = RankingTargets(relevant=np.array([0, 1]), exclude=np.array([0]), head=head, k=2)
    assert np.isnan(head_only(np.zeros(6))["tail_recall@2"])  # no EVAL item in the tail: undefined


# --------------------------------------------------------------------------- tasks


@given(st.integers(2, 200), st.integers(0, 2**32 - 1))
def test_split_half_is_a_disjoint_cover(n, seed):
    query, held_out = split_half(n, np.random.default_rng(seed))
    assert len(query) == n // 2
    assert sorted(np.concatenate([query, held_out]).tolist()) == list(range(n))


def test_split_in_time_known_answer():
    query, held_out = split_in_time(np.array([50.0, 10.0, 30.0, 20.0, 40.0]), np.random.default_rng(0))
    assert (query.tolist(), held_out.tolist()) == ([1, 3], [0, 2, 4])  # the two earliest, 10 and 20


@given(st.lists(st.integers(0, 5), min_size=2, max_size=60), st.integers(0, 2**32 - 1))
def test_split_in_time_knows_the_past_and_holds_out_the_future(times, seed):
    """A disjoint cover of the sizes of :func:`split_half`; no QUERY rating is later than an EVAL
    one; ties (few distinct dates) are broken by the seed only."""
    times = np.array(times, dtype=float)
    query, held_out = split_in_time(times, np.random.default_rng(seed))
    assert len(query) == len(times) // 2
    assert sorted(np.concatenate([query, held_out]).tolist()) == list(range(len(times)))
    assert times[query].max() <= times[held_out].min()
    again, _ = split_in_time(times, np.random.default_rng(seed))
    assert again.tolist() == query.tolist()


def test_split_at_a_cut_known_answer():
    query, held_out = split_at(np.array([5.0, 1.0, 9.0, 7.0]), cut=7.0)
    assert (query.tolist(), held_out.tolist()) == ([0, 1], [2, 3])  # a rating at the cut is held out


DATED = {  # a tiny dated ratings table: user -> (items, ratings, timestamps)
    "early": (np.array([3, 1, 4, 0]), np.array([5.0, 4.0, 2.0, 3.0]), np.array([400.0, 100.0, 300.0, 200.0])),
    "late": (np.array([2, 5, 6]), np.array([1.0, 2.0, 3.0]), np.array([900.0, 700.0, 800.0])),
    "both": (np.array([7, 8, 9, 10]), np.array([1.0, 2.0, 3.0, 4.0]), np.array([650.0, 100.0, 500.0, 600.0])),
}


@pytest.mark.parametrize("protocol", ["prefer", "watch"])
def test_the_time_split_holds_out_exactly_the_later_ratings(protocol):
    users = {user: (items, ratings) for user, (items, ratings, _) in DATED.items()}
    times = {user: when for user, (_, _, when) in DATED.items()}
    tasks = rating_tasks(users, protocol, [0, 1], np.ones(12), split="time", times=times)
    held = {task.user_id: task.targets.items if protocol == "prefer" else task.targets.relevant for task in tasks}
    assert {user: sorted(items.tolist()) for user, items in held.items()} == {"early": [3, 4], "late": [2, 6], "both": [7, 10]}
    known = {task.user_id: (sorted(task.respondent.query_items.tolist()), task.as_of) for task in tasks}
    assert known == {"early": ([0, 1], 200.0), "late": ([5], 700.0), "both": ([8, 9], 500.0)}


def test_a_global_cut_judges_what_came_after_it_and_leaves_out_users_on_one_side():
    users = {user: (items, ratings) for user, (items, ratings, _) in DATED.items()}
    times = {user: when for user, (_, _, when) in DATED.items()}
    tasks = rating_tasks(users, "watch", [0], np.ones(12), split="time", times=times, cut=550.0)
    assert [task.user_id for task in tasks] == ["both"]  # "early" has nothing after the cut, "late" nothing before
    (task,) = tasks
    assert sorted(task.targets.relevant.tolist()) == [7, 10] and sorted(task.respondent.query_items.tolist()) == [8, 9]
    assert task.as_of == 550.0


def test_dated_shared_accounts_pair_contemporaries_served_at_the_later_moment():
    """Four users of two eras: each account holds two of one era, whatever the random order, and is
    served when the later member's QUERY half ends; each member's halves are their own task's."""
    eras = {f"{era}{n}": (np.arange(4) + 4 * k, np.ones(4), np.array([1.0, 2.0, 3.0, 4.0]) + offset + n)
            for k, (era, offset, n) in enumerate([("old", 0, 0), ("new", 1000, 0), ("old", 0, 1), ("new", 1000, 1)])}
    users = {user: (items, ratings) for user, (items, ratings, _) in eras.items()}
    times = {user: when for user, (_, _, when) in eras.items()}
    for seed in range(5):
        tasks = shared_account_tasks(users, [seed], np.ones(16), times=times)
        single = {task.user_id: task for task in rating_tasks(users, "watch", [seed], np.ones(16), times=times)}
        assert sorted(task.user_id[:3] + task.user_id.split("+")[1][:3] for task in tasks) == ["newnew", "oldold"]
        for task in tasks:
            first, second = (single[user] for user in task.user_id.split("+"))
            assert task.as_of == max(first.as_of, second.as_of)
            members = task.respondent.members
            assert [m.query_items.tolist() for m in members] == [first.respondent.query_items.tolist(),
                                                                 second.respondent.query_items.tolist()]
    undated = shared_account_tasks(users, [0], np.ones(16))
    assert len(undated) == 2 and all(task.as_of is None for task in undated)


def test_the_time_split_without_dates_is_refused():
    users = {user: (items, ratings) for user, (items, ratings, _) in DATED.items()}
    with pytest.raises(ValueError, match="timestamps"):
        rating_tasks(users, "watch", [0], np.ones(12), split="time")
    with pytest.raises(ValueError, match="global cut is a time split"):
        rating_tasks(users, "watch", [0], np.ones(12), times={u: w for u, (_, _, w) in DATED.items()}, cut=5.0)


def test_recent_popularity_ranks_what_was_rated_just_before_the_task_ended(world):
    """Each task is scored at its own ``as_of``; undated tasks are refused with a reason."""
    tasks = rating_tasks(world["users"], "watch", [0], world["popularity"], split="time", times=world["times"])
    result = run(world, tasks, ("recent-popularity",), answers=(0,))
    for t, task in enumerate(tasks):
        expected = task.targets(world["recent"].scores(task.as_of))
        assert result.values[0, 0, :, t] == pytest.approx([expected[m] for m in result.metrics], nan_ok=True)
    undated = rating_tasks(world["users"], "watch", [0], world["popularity"])
    with pytest.raises(ValueError, match="dated tasks"):
        run(world, undated, ("recent-popularity",), answers=(0,))


@pytest.mark.parametrize("protocol", ["prefer", "watch"])
def test_respondents_know_the_query_half_and_targets_hold_the_rest(world, protocol):
    tasks = rating_tasks(world["users"], protocol, seeds=[0, 1], popularity=world["popularity"])
    assert [t.seed for t in tasks] == [0] * 8 + [1] * 8
    for task in tasks:
        items, ratings = world["users"][task.user_id]
        query = task.respondent.query_items
        held_out = task.targets.items if protocol == "prefer" else task.targets.relevant
        assert not set(query.tolist()) & set(held_out.tolist())
        assert sorted(np.concatenate([query, held_out]).tolist()) == sorted(items.tolist())
        rating = dict(zip(items.tolist(), ratings.tolist()))
        assert task.respondent.query_ratings.tolist() == [rating[i] for i in query.tolist()]
        if protocol == "watch":
            assert task.targets.exclude.tolist() == query.tolist()
    assert any(
        a.respondent.query_items.tolist() != b.respondent.query_items.tolist() for a, b in zip(tasks[:8], tasks[8:])
    ), "the seed should change the split"


@dataclass(frozen=True, eq=False)
class Planted:
    """Answers like ``inner`` but raises if an EVAL item is answered about as rated; counts EVAL items asked."""

    inner: object
    held_out: frozenset
    asked: list

    def answer(self, question):
        choice = self.inner.answer(question)
        shown = [item for item in question.items if item in self.held_out]
        self.asked.extend(shown)
        if question.is_pair:
            a, b = question.items
            winners = {"a": [a], "b": [b], "tie": [a, b], "skip": []}[choice]
        else:
            winners = [] if choice is None else [choice]
        if set(winners) & self.held_out:
            raise AssertionError(f"EVAL item {sorted(set(winners) & self.held_out)} answered as rated")
        return choice

    @property
    def query_items(self):  # what the peers' ceilings (ease-oracle, ials-oracle) are given
        return self.inner.query_items

    def evidence(self, n_items, rng):
        a, b, labels = self.inner.evidence(n_items, rng)
        rated = set(a.tolist()) | (set(b.tolist()) if self.inner.protocol == "prefer" else set())
        if rated & self.held_out:
            raise AssertionError(f"EVAL item {sorted(rated & self.held_out)} in the oracle's evidence as rated")
        return a, b, labels


def planted(tasks, asked, leaky_users=None):
    """The tasks with every respondent wrapped; ``leaky_users`` gives respondents all the ratings instead."""
    wrapped = []
    for task in tasks:
        held_out = task.targets.items if hasattr(task.targets, "items") else task.targets.relevant
        inner = task.respondent
        if leaky_users is not None:
            inner = RatingsRespondent(*leaky_users[task.user_id], inner.protocol)
        wrapped.append(Task(task.user_id, task.seed, Planted(inner, frozenset(held_out.tolist()), asked), task.targets,
                            as_of=task.as_of))
    return wrapped


@pytest.mark.parametrize("split", ["random", "time"])
@pytest.mark.parametrize("protocol", ["prefer", "watch"])
def test_the_protocol_never_lets_eval_items_be_answered_as_rated(world, protocol, split):
    asked = []
    tasks = rating_tasks(world["users"], protocol, seeds=[0], popularity=world["popularity"], split=split,
                         times=world["times"])
    run(world, planted(tasks, asked))
    assert asked, "no EVAL item was ever shown: the test would prove nothing"


def test_the_planted_respondent_catches_a_leak(world):
    tasks = rating_tasks(world["users"], "watch", seeds=[0], popularity=world["popularity"])
    with pytest.raises(AssertionError, match="EVAL item"):
        run(world, planted(tasks, [], leaky_users=world["users"]), strategies=("active",))


# --------------------------------------------------------------------------- sessions


class Skipper:
    """Never knows anything."""

    def answer(self, question):
        return "skip" if question.is_pair else None

    def evidence(self, n_items, rng):
        return np.array([0]), np.array([1]), np.array([1.0])


def test_dont_know_answers_count_as_clicks_and_change_nothing(world):
    tasks = [Task("skipper", 0, Skipper(), RatingTargets(np.array([0, 1, 2]), np.array([1.0, 2.0, 3.0])))]
    ev = run(world, tasks, strategies=("population", "active", "kway"), answers=(0, 2, 4))
    assert ev.asked[1, :, 0].tolist() == [0, 2, 4] and ev.dont_know[1, :, 0].tolist() == [0, 2, 4]
    np.testing.assert_allclose(ev.values[1], ev.values[0])  # skips leave the prior mean
    rows = summarise(ev)["results"]
    assert {r["dont_know_rate"] for r in rows if r["strategy"] == "active" and r["answers"] > 0} == {1.0}
    assert {r["dont_know_rate"] for r in rows if r["strategy"] == "population" or r["answers"] == 0} == {None}
    assert {r["mostly_unanswered"] for r in rows if r["strategy"] == "active" and r["answers"] > 0} == {1.0}


def test_mostly_unanswered_counts_people_not_clicks():
    # a: 6 and 4 of 10 (5 of 10 on average), b: 5 of 10, c: none. A rate over clicks says 0.375; two of three people.
    users = np.array(["a", "a", "b", "c"], dtype=object)
    assert mostly_unanswered(np.array([10, 10, 10, 10]), np.array([6, 4, 5, 0]), users) == pytest.approx(2 / 3)
    assert mostly_unanswered(np.array([10, 10, 10, 10]), np.array([6, 3, 4, 0]), users) == 0.0  # a 4.5, b 4
    assert mostly_unanswered(np.zeros(4, int), np.zeros(4, int), users) is None


# --------------------------------------------------------------------------- statistics


def test_mean_ci_known_answer():
    mean, lo, hi = mean_ci(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
    half = 1.959963984540054 * np.std([1, 2, 3, 4], ddof=1) / 2.0
    assert (mean, lo, hi) == pytest.approx((2.5, 2.5 - half, 2.5 + half))
    assert mean_ci(np.array([0.7]))[0] == 0.7 and np.isnan(mean_ci(np.array([0.7]))[1:]).all()
    assert np.isnan(mean_ci(np.array([np.nan]))).all()


def test_per_user_averages_seeds_ignoring_nan():
    values = np.array([[1.0, 2.0, 3.0, np.nan, np.nan]])
    users = np.array(["b", "a", "b", "a", "c"], dtype=object)
    np.testing.assert_array_equal(per_user(values, users), [[2.0, 2.0, np.nan]])


@pytest.fixture(scope="module")
def explicit_run(world):
    tasks = rating_tasks(world["users"], "prefer", seeds=[0, 1], popularity=world["popularity"], times=world["times"])
    return run(world, tasks)


def test_report_has_a_row_for_every_strategy_answers_and_metric(explicit_run):
    report = summarise(explicit_run)
    text = json.dumps(report, allow_nan=False)  # valid JSON: no NaN
    assert json.loads(text) == report
    assert report["n_test_users"] == 8
    rows = report["results"]
    assert {tuple(row) for row in rows} == {("strategy", "answers", "metric", "mean", "ci95", "dont_know_rate",
                                             "mostly_unanswered")}
    cells = sorted((r["strategy"], r["answers"], r["metric"]) for r in rows)
    expected = sorted((s, n, m) for s in STRATEGY_NAMES for n in (0, 1, 3, 6) for m in ("pairwise_accuracy", "auc"))
    assert cells == expected
    paired = report["paired"]
    assert {tuple(row) for row in paired} == {("a", "b", "answers", "metric", "mean_diff", "ci95")}
    assert {(r["a"], r["b"]) for r in paired} == {
        ("active", "random"), ("active", "population"), ("active", "popularity"), ("kway", "active"),
        ("kway", "random-kway"),
        ("active", "ease"), ("oracle", "ease-oracle"), ("active", "ials"), ("oracle", "ials-oracle"),
        ("oracle-questions", "active"), ("oracle-questions", "kway"),
        ("answerable-oracle", "kway"), ("answerable-oracle", "random-kway"), ("answerable-oracle", "random"),
        ("active", "recent-popularity"), ("recent-popularity", "popularity"),
    }
    assert len(paired) == 16 * 4 * 2


def test_the_oracle_questioner_asks_the_candidate_whose_answer_scores_best(world):
    task = rating_tasks(world["users"], "watch", seeds=[0], popularity=world["popularity"])[0]
    prior = Posterior.from_prior(world["prior_mean"], world["prior_cov"])
    familiarity = np.linspace(0.9, 0.1, N_ITEMS)
    policy = Policy(STRATEGIES["random"], world["pool"], familiarity=familiarity, min_questions=6, max_questions=6)
    score = CatalogScore(world["features"])
    session = oracle_session(world["features"], prior, policy, task, score, seed=1)
    metric = task.targets.metrics[0]
    # The first click, by brute force: every pool item against its least familiar partner.
    candidates = []
    for item in world["pool"].tolist():
        foil = min((other for other in world["pool"].tolist() if other != item), key=lambda other: familiarity[other])
        answer = as_answer(Question((item, foil)), task.respondent.answer(Question((item, foil))))
        if answer is not None and answer.choice != "skip":
            candidates.append(task.targets(score(prior.update(world["features"], answer)))[metric])
    assert candidates and not session.dont_know[0]
    assert task.targets(score(session.posteriors[1]))[metric] == pytest.approx(max(candidates))
    pairs = [frozenset(question.items) for question in session.questions]
    assert len(session.questions) == 6 and len(pairs) == len(set(pairs))


@pytest.mark.parametrize("size", [2, 4])
def test_the_answerable_oracle_shows_one_known_item_a_question_until_none_is_left(world, size):
    task = rating_tasks(world["users"], "watch", seeds=[0], popularity=world["popularity"])[0]
    known = frozenset(task.respondent.query_items.tolist())
    pool_known = known & set(world["pool"].tolist())
    prior = Posterior.from_prior(world["prior_mean"], world["prior_cov"])
    policy = Policy(answerable_questions(known, size), world["pool"], min_questions=30, max_questions=30)
    session = run_session(world["features"], prior, policy, task.respondent, seed=2)
    unknown = set(world["pool"].tolist()) - known
    # A click for each known item of the pool while items they do not know are left to show beside it (a k-way
    # answer marks the options it leaves out unknown, so they are shown once; a pair's loser may be shown again).
    clicks = len(pool_known) if size == 2 else min(len(pool_known), -(-len(unknown) // (size - 1)))
    assert len(session.questions) == clicks > 1
    assert not any(session.dont_know)
    for question in session.questions:
        assert len(set(question.items) & known) == 1
    assert all(len(question.items) == size for question in session.questions[:-1])
    revealed = known_items(session.posteriors[-1].answers)
    assert len(revealed) == clicks and revealed <= pool_known  # every answer revealed its one known item


def test_the_answerable_oracle_needs_a_ratings_respondent(world):
    users = {name: (items, np.ones(items.size)) for name, (items, _) in world["users"].items()}
    tasks = shared_account_tasks(users, [0], world["popularity"])
    with pytest.raises(ValueError, match="strategy 'answerable-oracle' needs respondents with QUERY items"):
        run(world, tasks, strategies=("answerable-oracle",), answers=(1,))


def test_answer_independent_strategies_repeat_their_value(explicit_run):
    for name in ("population", "popularity", "oracle"):
        values = explicit_run.values[explicit_run.strategies.index(name)]
        np.testing.assert_array_equal(values, np.broadcast_to(values[:1], values.shape))
        assert not explicit_run.asked[explicit_run.strategies.index(name)].any()


def test_paired_differences_are_means_of_per_user_differences(explicit_run):
    ev = explicit_run
    users = sorted(set(ev.user_ids))
    report = summarise(ev)
    row = next(r for r in report["paired"] if (r["a"], r["b"], r["answers"], r["metric"]) == ("active", "random", 6, "auc"))
    a, r, m = ev.strategies.index("active"), ev.strategies.index("random"), ev.metrics.index("auc")
    per_user_diff = [
        np.nanmean(ev.values[a, 3, m, ev.user_ids == u]) - np.nanmean(ev.values[r, 3, m, ev.user_ids == u]) for u in users
    ]
    assert row["mean_diff"] == pytest.approx(np.mean(per_user_diff))
    assert row["ci95"] == pytest.approx(list(mean_ci(np.array(per_user_diff))[1:]))


def test_oracle_beats_population_on_planted_users(explicit_run):
    report = summarise(explicit_run)
    mean = {(r["strategy"], r["metric"]): r["mean"] for r in report["results"] if r["answers"] == 0}
    assert mean["oracle", "pairwise_accuracy"] > mean["population", "pairwise_accuracy"] + 0.2
    assert mean["oracle", "auc"] > 0.8


def test_answers_help_planted_implicit_users(world):
    """Users who have watched exactly their 20 favourite items: watching reveals taste."""
    rng = np.random.default_rng(7)
    users = {}
    for u in range(8):
        favourites = np.argsort(-(world["features"] @ rng.normal(size=N_BASES)))[:20]
        users[f"w{u}"] = (favourites, np.ones(20))
    tasks = rating_tasks(users, "watch", seeds=[0], popularity=world["popularity"])
    ev = run(world, tasks, strategies=("population", "active", "oracle"), answers=(0, 10))
    recall = ev.values[:, :, ev.metrics.index("recall@20")].mean(axis=-1)
    assert recall[1, 1] > recall[0, 1] + 0.1
    assert recall[2, 1] > recall[1, 1]


def test_with_base_rates_the_population_ranks_by_base_rate(world):
    """A catalog ranking calibrated to base rates starts from them: the prior reproduces them."""
    users = {name: (items, np.ones(items.size)) for name, (items, _) in world["users"].items()}
    tasks = rating_tasks(users, "watch", seeds=[0], popularity=world["popularity"])
    base_rate = world["popularity"] / (world["popularity"].max() + 1.0)
    offset = base_rate_offset(world["features"], world["prior_mean"], world["prior_cov"], base_rate)
    ev = evaluate(tasks, world["features"], world["prior_mean"], world["prior_cov"], ("population", "popularity"),
                  (0,), pool=world["pool"], popularity=world["popularity"], score=CatalogScore(world["features"], offset))
    recall = ev.values[:, 0, ev.metrics.index("recall@20")]
    np.testing.assert_array_equal(recall[0], recall[1])


def test_evaluate_rejects_bad_input(world):
    tasks = rating_tasks(world["users"], "prefer", seeds=[0], popularity=world["popularity"])
    with pytest.raises(ValueError, match="'smart'"):
        run(world, tasks, strategies=("smart",))
    with pytest.raises(ValueError, match="-1"):
        run(world, tasks, answers=(-1, 2))
    with pytest.raises(ValueError, match="popularity scores"):
        evaluate(tasks, world["features"], world["prior_mean"], world["prior_cov"], ["popularity"], [0], world["pool"])
    mixed = tasks[:1] + rating_tasks(world["users"], "watch", seeds=[0], popularity=world["popularity"])[:1]
    with pytest.raises(ValueError, match="same metrics"):
        run(world, mixed)
    with pytest.raises(ValueError, match="'u0' has 1 rating"):
        rating_tasks({"u0": (np.array([1]), np.array([2.0]))}, "prefer", [0], world["popularity"])


def test_results_do_not_depend_on_task_order_or_worker_processes(world, explicit_run):
    tasks = rating_tasks(world["users"], "prefer", seeds=[0, 1], popularity=world["popularity"], times=world["times"])
    reordered = run(world, tasks[::-1])
    np.testing.assert_array_equal(reordered.values[..., ::-1], explicit_run.values)
    parallel = evaluate(
        tasks, world["features"], world["prior_mean"], world["prior_cov"], STRATEGY_NAMES, (0, 1, 3, 6),
        pool=world["pool"], popularity=world["popularity"], jobs=2, peers=world["peers"], recent=world["recent"],
    )
    np.testing.assert_array_equal(parallel.values, explicit_run.values)
    np.testing.assert_array_equal(parallel.dont_know, explicit_run.dont_know)


def test_a_peer_is_fed_exactly_what_the_active_session_revealed(world):
    """``ease`` runs on the questions of ``active`` (same session, same seed) and scores the items
    those answers show the user knows; ``ease-oracle`` scores the whole QUERY half."""
    tasks = rating_tasks(world["users"], "watch", seeds=[0], popularity=world["popularity"])
    result = run(world, tasks, ("active", "ease", "ease-oracle"), answers=(0, 4))
    np.testing.assert_array_equal(result.asked[0], result.asked[1])
    np.testing.assert_array_equal(result.dont_know[0], result.dont_know[1])
    from prefchat.elicitation.evaluate import benchmark_policy, task_seed
    from prefchat.elicitation.onboarding import run_session
    from prefchat.elicitation.posterior import Posterior

    task = tasks[0]
    session = run_session(world["features"], Posterior.from_prior(world["prior_mean"], world["prior_cov"]),
                          benchmark_policy("active", world["pool"], 4), task.respondent, task_seed(task, "active"))
    expected = task.targets(world["peers"]["ease"].scores(known_items(session.posteriors[4].answers)))
    assert result.values[1, 1, :, 0] == pytest.approx([expected[m] for m in result.metrics], nan_ok=True)
    oracle = task.targets(world["peers"]["ease"].scores(task.respondent.query_items))
    assert result.values[2, 0, :, 0] == pytest.approx([oracle[m] for m in result.metrics], nan_ok=True)
    with pytest.raises(ValueError, match="needs a fitted 'ease' peer"):
        evaluate(tasks, world["features"], world["prior_mean"], world["prior_cov"], ("ease",), (0,), pool=world["pool"])


def test_niche_cohort_coverage_and_popularity_bias(world):
    tasks = rating_tasks(world["users"], "watch", seeds=[0, 1], popularity=world["popularity"])
    result = run(world, tasks, ("population", "active"), answers=(0, 3))
    report = summarise(result, cohorts={"niche": ["u1", "u2"]}, n_items=N_ITEMS)
    rows = {(r["strategy"], r["answers"], r["metric"]): r for r in report["results"]}
    users = per_user(result.values, result.user_ids)  # users sorted: u0..u7
    m = result.metrics.index("recall@20")
    assert rows["active", 3, "recall@20|niche"]["mean"] == pytest.approx(np.nanmean(users[1, 1, m, 1:3]))
    # population ranks the same catalog for everyone: its coverage is 20 items (minus QUERY exclusions vary)
    top = result.top[0, 0]
    assert rows["population", 0, "coverage@20"]["mean"] == pytest.approx(np.unique(top[top >= 0]).size / N_ITEMS)
    assert rows["population", 0, "coverage@20"]["ci95"] == [None, None]
    bias = popularity_bias(result, world["popularity"], [t.targets.relevant for t in tasks])
    assert len(bias["users"]) == 10 and sum(bias["users"]) == pytest.approx(1.0)
    assert all(sum(row["shares"]) == pytest.approx(1.0) for row in bias["exposure"])
