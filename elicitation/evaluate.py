r"""The benchmark protocol: onboarding sessions against simulated respondents, judged on held-out targets.

Pure: arrays and respondents in, numbers out; reading packs and writing files is
:mod:`prefchat.evaluation`'s job.

Protocol
--------
A :class:`Task` is one held-out test user under one seed: a
:class:`~prefchat.elicitation.respondents.Respondent` who answers, and
:class:`~prefchat.elicitation.respondents.Targets` the answers are judged against. For ratings
(:func:`rating_tasks`) each user's rated items are split into a QUERY half the respondent knows and
an EVAL half only the targets know, by one of :data:`SPLITS`:

- ``random``: at random, seeded (:func:`split_half`);
- ``time``: in time (:func:`split_in_time`): the earlier half is what the user knows and answers
  from, the later half is held out, so a session predicts the person's future; or, given a global
  ``cut``, the ratings before it and the ratings at or after it (:func:`split_at`), for a pack
  trained only on ratings before the cut (``prefchat train --before``).

Every strategy is scored on the same tasks, so differences between strategies are paired per user.

Strategies (names as on the command line):

- ``population``: the prior, no answers;
- ``popularity``: items ranked by the ``popularity`` scores the caller passes (see
  :func:`popularity_scores`: training-user counts for the watch protocol, smoothed mean rating
  for the prefer one);
- ``recent-popularity``: the items the training users rated most in a window before the moment
  the task's QUERY part ends (:attr:`Task.as_of`; :class:`~prefchat.elicitation.recency.RecentPopularity`,
  passed as ``recent``); dated tasks only;
- ``random``, ``active``, ``bald``, ``pref-reference``: one session per task, questions from
  :data:`~prefchat.elicitation.selection.STRATEGIES` over the candidate ``pool`` (and ``groups``),
  :meth:`~prefchat.elicitation.posterior.Posterior.update` after every answer, the posterior
  scored after each requested number of answers. ``pref-reference`` is scored with its own
  estimator, the plain maximum-likelihood fit (:func:`~prefchat.elicitation.posterior.ml_fit`,
  ridge 0.001, no prior), as published;
- ``kway``: as ``active`` with k-way questions (:func:`~prefchat.elicitation.selection.active_kway`) of
  the ``form``'s options (:data:`KWAY_OPTIONS` where it asks pairs: ``prefchat eval`` asks a pack's own size);
  ``random-kway``: k-way questions of options at random (:func:`~prefchat.elicitation.selection.random_kway`),
  its reference as ``random`` is ``active``'s;
- ``oracle-questions``: the limit of question choice at each number of clicks, a questioner that
  knows the held-out targets (:func:`oracle_session`): each pair it asks is the one whose answer
  scores best on them, greedily, one click at a time, the answers and the ranking those of
  ``active``;
- ``answerable-oracle``: the limit of answerability, a questioner that knows which items the respondent
  knows (their QUERY half) but not the targets (:func:`answerable_questions`): every question of the
  ``form``'s size shows one item they know, at random, beside items they do not, so every click reveals
  a known item while one is left in the pool;
- ``oracle``: the MAP with the prior on everything the respondent could tell
  (:meth:`~prefchat.elicitation.respondents.Respondent.evidence`), fitted for all tasks at once by
  :func:`~prefchat.elicitation.posterior.batch_map`;
- peers (:mod:`~prefchat.elicitation.peers`, passed as ``peers``): ``ease`` and ``ials`` score the
  catalog from the items the answers of the ``active`` session revealed as known
  (:func:`~prefchat.elicitation.onboarding.known_items`: a pair's winner, both items of a tie, a
  k-way pick), the same session, seed and questions as ``active``'s, so ``active - ease`` is paired
  question for question; ``ease-oracle`` and ``ials-oracle`` are given the whole QUERY half, the
  peers' ceiling beside ``oracle``.

How a posterior scores the items: by its mean utility :math:`\phi^\top m`, or, when
:func:`evaluate` is given base rates (how often the population picks each item at all: the
watch protocol's catalog ranking), by the chance the user picks the item averaged over the
posterior, calibrated so that the prior reproduces the base rates
(:func:`~prefchat.elicitation.posterior.predictive_logits`). ``oracle`` then uses its Laplace
covariance; ``pref-reference`` has no prior and keeps its mean utility.

``population``, ``popularity``, ``recent-popularity``, ``oracle`` and the ``-oracle`` peers do not depend on answers; they report the same value
at every answer count. An answer count counts questions asked, i.e. clicks: a "don't know" is a
click (it adds no likelihood, and the skipped items are not asked again). A session that runs out
of questions keeps its last estimate for the larger counts.

Statistics
----------
A user's value in a cell is the mean over seeds (nan where the metric is undefined for the user,
e.g. all EVAL ratings equal). The cell reports the mean over users and a 95% confidence interval by
the normal approximation, :math:`\bar x \pm 1.96\, s / \sqrt{n}` with :math:`s` the sample standard
deviation over the :math:`n` users with a value (:func:`mean_ci`). A paired difference "a minus b"
is the same statistic of the per-user differences (users with both values). The "don't know" rate
of a cell is the share of all questions asked, up to that count, over all tasks, that got one;
null where no question was asked.

JSON schema (:func:`summarise` gives ``n_test_users``, ``results`` and ``paired``; the command
adds the rest)::

    {"dataset": str, "pack": str, "protocol": "prefer" | "watch" | "simulated", "seeds": int,
     "split": "random" | "time", "cut": float | null, "users_without_both_sides": int,
     "pool_size": int, "n_test_users": int, "through_api": bool, "merged_accounts": bool,
     "answerable": "known" | "on-sight", "seconds": float,
     "results": [{"strategy": str, "answers": int, "metric": str, "mean": float | null,
                  "ci95": [lo, hi] (null when fewer than two users), "dont_know_rate": float | null,
                  "mostly_unanswered": float | null (:func:`mostly_unanswered`)}],
     "paired": [{"a": str, "b": str, "answers": int, "metric": str, "mean_diff": float | null,
                 "ci95": [lo, hi]}]}

Metric names: ``pairwise_accuracy`` and ``auc`` (prefer), ``recall@20``, ``ndcg@20``,
``long_tail_share@20`` and ``tail_recall@20`` (watch, per user), and ``coverage@20`` (watch,
per cell: the share of the catalog in at least one task's top 20; its ``ci95`` is null); with
merged accounts (:func:`shared_account_tasks`, where a "user" is an account of two) also
``weaker_recall@20``, ``stronger_recall@20`` and ``both_hit@20``. The watch protocol's report
also has ``per_person``: the measures of :mod:`~prefchat.elicitation.person`, one row per strategy
and answer count.
``results`` holds one row per strategy x answer count x metric. Given ``cohorts`` (e.g. ``niche``,
the quartile of test users whose items are least popular on average), every metric is repeated for
the cohort's users under the name ``METRIC|COHORT`` (``recall@20|niche``), in ``results`` and
``paired`` alike.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from .onboarding import (
    PLAIN_QUESTIONS,
    CatalogScore,
    Policy,
    QuestionForm,
    Session,
    as_answer,
    known_items,
    question_rng,
    run_session,
)
from .peers import Peer
from .posterior import Comparison, Posterior, batch_map, ml_fit
from .recency import RecentPopularity
from .respondents import (
    RankingTargets,
    RatingsRespondent,
    RatingTargets,
    Respondent,
    SharedAccount,
    SharedAccountTargets,
    Targets,
    head_items,
)
from .selection import STRATEGIES, Question, SelectionState, Strategy, question_strategy

__all__ = [
    "KWAY_SESSIONS",
    "ANSWERABLE_ORACLE",
    "ORACLE_QUESTIONS",
    "PAIRED",
    "SPLITS",
    "STRATEGY_NAMES",
    "Evaluation",
    "Task",
    "answerable_questions",
    "evaluate",
    "mean_ci",
    "mostly_unanswered",
    "oracle_session",
    "per_user",
    "popularity_scores",
    "benchmark_policy",
    "kway_options",
    "catalog_coverage",
    "popularity_bias",
    "rating_tasks",
    "shared_account_tasks",
    "split_at",
    "split_half",
    "split_in_time",
    "summarise",
    "task_seed",
]

log = logging.getLogger(__name__)

KWAY_OPTIONS = 4
"""The options of a ``kway`` question where no pack chose its size (:func:`benchmark_policy`)."""
KWAY_SESSIONS = {"kway": "active", "random-kway": "random"}
"""The benchmark's k-way strategies, by the pair strategy whose k-way form they ask
(:data:`~prefchat.elicitation.selection.KWAY_STRATEGIES`)."""
SESSIONS: dict[str, Strategy] = {**STRATEGIES, **{name: question_strategy(pair, KWAY_OPTIONS) for name, pair in KWAY_SESSIONS.items()}}
ORACLE_QUESTIONS = "oracle-questions"
"""The questioner that knows the held-out targets (:func:`oracle_session`)."""
ANSWERABLE_ORACLE = "answerable-oracle"
"""The questioner that knows which items each respondent knows, not the targets (:func:`answerable_questions`)."""
PEERS = ("ease", "ials")
"""Peers by name (:mod:`~prefchat.elicitation.peers`); each gives a session strategy (fed the
``active`` session's known items) and its ``-oracle`` (fed the whole QUERY half)."""
PEER_SESSION = "active"
FIXED = ("population", "popularity", "recent-popularity", "oracle", *(f"{peer}-oracle" for peer in PEERS))
STRATEGY_NAMES = (*FIXED, *SESSIONS, ORACLE_QUESTIONS, ANSWERABLE_ORACLE, *PEERS)
PAIRED = (("active", "random"), ("active", "population"), ("active", "popularity"), ("kway", "active"), ("kway", "random-kway"),
          (ORACLE_QUESTIONS, "active"), (ORACLE_QUESTIONS, "kway"),
          (ANSWERABLE_ORACLE, "kway"), (ANSWERABLE_ORACLE, "random-kway"), (ANSWERABLE_ORACLE, "random"),
          ("active", "ease"), ("oracle", "ease-oracle"), ("active", "ials"), ("oracle", "ials-oracle"),
          ("active", "recent-popularity"), ("recent-popularity", "popularity"))
SPLITS = ("random", "time")
"""How a user's ratings are split into QUERY and EVAL (module docstring)."""
COVERAGE = "coverage@20"
PREF_RIDGE = 0.001  # the official PReF code's Sigma = 0.001 I + ...
Z95 = 1.959963984540054  # standard normal quantile at 0.975


@dataclass(frozen=True, eq=False)
class Task:
    """One held-out user under one seed: who answers, and what the answers are judged against."""

    user_id: str
    seed: int
    respondent: Respondent
    targets: Targets
    pool: np.ndarray | None = None
    """The items this respondent may be asked about, or None for the shared pool: on-sight
    protocols ask each user only about what they rated (see :func:`rating_tasks`)."""
    as_of: float | None = None
    """When what the respondent knows ends: the latest QUERY timestamp, or the global cut; None
    for undated ratings. ``recent-popularity`` ranks what was popular just before it."""


def split_half(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``0..n-1`` split at random into a QUERY half (``n // 2``) and an EVAL half (the rest).

    Returns
    -------
    query, held_out : sorted int arrays, disjoint, together ``range(n)``
    """
    order = rng.permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def split_in_time(times: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions split in time: the ``n // 2`` earliest ratings are the QUERY half, the later ones the EVAL half.

    Ratings are ordered by ``times``; ratings of one timestamp (a batch rated in one sitting) are
    ordered at random by ``rng``, so only such ties depend on the seed. As :func:`split_half`,
    with every QUERY rating no later than every EVAL one.

    Returns
    -------
    query, held_out : sorted int arrays, disjoint, together ``range(n)``
    """
    times = np.asarray(times, dtype=float)
    order = np.lexsort((rng.permutation(times.size), times))  # the last key sorts first
    return np.sort(order[: times.size // 2]), np.sort(order[times.size // 2 :])


def split_at(times: np.ndarray, cut: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions split by a global cut: QUERY the ratings before ``cut``, EVAL those at or after it.

    Returns
    -------
    query, held_out : sorted int arrays, disjoint, together ``range(n)``; either may be empty
    """
    before = np.asarray(times, dtype=float) < cut
    return np.flatnonzero(before), np.flatnonzero(~before)


def rating_tasks(
    users: Mapping[str, tuple[np.ndarray, np.ndarray]],
    protocol: str,
    seeds: Sequence[int],
    popularity: np.ndarray,
    k: int = 20,
    on_sight: bool = False,
    split: str = "random",
    times: Mapping[str, np.ndarray] | None = None,
    cut: float | None = None,
) -> list[Task]:
    """Tasks of the prefer or watch ratings protocol.

    For each seed and user, the user's ratings are split by ``split`` (:func:`split_half`, or
    :func:`split_in_time`, or :func:`split_at` given ``cut``), seeded by the seed and the user id
    (so a user's split does not depend on the other users). The QUERY half goes to a
    :class:`~prefchat.elicitation.respondents.RatingsRespondent`, the EVAL half to the targets:
    :class:`~prefchat.elicitation.respondents.RatingTargets` (prefer) or
    :class:`~prefchat.elicitation.respondents.RankingTargets` over the catalog without the QUERY
    items, with the head the 20% most popular items (watch).

    Parameters
    ----------
    users : user id -> (items (n,) int array, ratings (n,) array), n >= 2
    protocol : {"prefer", "watch"}
    seeds : the seeds; one task per seed and user, seed-major
    popularity : (n_items,) array, defines the head for the long-tail share
    k : cut-off of the watch metrics
    on_sight : items judged on sight (jokes, dishes, texts: see
        :attr:`~prefchat.reward.pack.Pack.answerable`): a person could answer about any item, a
        simulated one only about the items they rated, so each task's questions come from its
        QUERY items (``Task.pool``; the EVAL half stays hidden from the selector)
    split : one of :data:`SPLITS`
    times : user id -> (n,) timestamps of the user's ratings, in the order of ``users``' items;
        needed by ``split="time"``. Given, each task's :attr:`Task.as_of` is set: the latest
        QUERY timestamp, or ``cut``
    cut : with ``split="time"``, a global cut: users without a rating on both sides of it are
        left out (the caller counts them)
    """
    head = head_items(popularity)
    tasks = []
    for seed in seeds:
        for user_id, (items, ratings) in users.items():
            when = None if times is None else times[user_id]
            respondent, (held_items, held_ratings), as_of = _split(user_id, items, ratings, seed, protocol, split, when, cut)
            if not held_items.size or not respondent.query_items.size:
                continue  # only a global cut leaves a side empty
            targets: Targets
            if protocol == "prefer":
                targets = RatingTargets(held_items, held_ratings)
            else:
                targets = RankingTargets(held_items, respondent.query_items, head, k)
            tasks.append(Task(user_id, seed, respondent, targets, np.sort(respondent.query_items) if on_sight else None,
                              as_of))
    return tasks


def _split(user_id: str, items: np.ndarray, ratings: np.ndarray, seed: int, protocol: str, split: str = "random",
           times: np.ndarray | None = None, cut: float | None = None,
           ) -> tuple[RatingsRespondent, tuple[np.ndarray, np.ndarray], float | None]:
    """A user's QUERY/EVAL split under ``seed`` (see :func:`rating_tasks`): the respondent of the QUERY
    half, the EVAL half's items and ratings, and :attr:`Task.as_of` (None without ``times``)."""
    items, ratings = np.asarray(items, dtype=np.intp), np.asarray(ratings, dtype=float)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    if split == "time" and times is None:
        raise ValueError("the time split needs the ratings' timestamps")
    if cut is not None and split != "time":
        raise ValueError(f"a global cut is a time split; got split {split!r}")
    if items.size < 2:
        raise ValueError(f"user {user_id!r} has {items.size} rating(s); a QUERY/EVAL split needs two")
    rng = np.random.default_rng([seed, _key(user_id)])
    if times is not None and np.shape(times) != items.shape:
        raise ValueError(f"user {user_id!r}: {np.size(times)} timestamps for {items.size} ratings")
    if split == "random":
        query, held_out = split_half(items.size, rng)
    else:
        assert times is not None
        query, held_out = split_in_time(times, rng) if cut is None else split_at(times, cut)
    as_of = None if times is None else float(cut) if cut is not None else float(np.max(times[query]))
    return RatingsRespondent(items[query], ratings[query], protocol), (items[held_out], ratings[held_out]), as_of


def shared_account_tasks(users: Mapping[str, tuple[np.ndarray, np.ndarray]], seeds: Sequence[int],
                         popularity: np.ndarray, k: int = 20, on_sight: bool = False,
                         times: Mapping[str, np.ndarray] | None = None) -> list[Task]:
    """Tasks of the watch protocol with two test users behind each account (``prefchat eval --merged-accounts``).

    For each seed each user's ratings are split as in :func:`rating_tasks` (the same QUERY and EVAL
    halves as their own task under that seed) and the users are paired at random (an odd one out is
    left out). A :class:`~prefchat.elicitation.respondents.SharedAccount` of the two QUERY halves
    answers, a member drawn at random for each question. The account's list leaves out every
    member's QUERY items and is judged by :class:`~prefchat.elicitation.respondents.SharedAccountTargets`.
    A task's user id names both members, ``"a+b"``; ``on_sight`` asks about the members' QUERY items
    only, as in :func:`rating_tasks`.

    Given ``times`` (as :func:`rating_tasks`), a household is of one time: the users are paired in the
    order of their moments (:attr:`Task.as_of`, the random order breaking ties), and the account is
    served at the later of its two members' moments. Paired across decades, a list served at either
    member's moment would be served at the wrong one for the other.
    """
    head = head_items(popularity)
    ids = list(users)
    tasks = []
    for seed in seeds:
        halves = [_split(user_id, *users[user_id], seed, "watch", times=None if times is None else times[user_id])
                  for user_id in ids]
        order = np.random.default_rng([seed, len(ids)]).permutation(len(ids))
        if times is not None:
            order = order[np.argsort([halves[i][2] for i in order], kind="stable")]
        for first, second in zip(order[0::2], order[1::2]):
            pair = (ids[first], ids[second])
            members = (halves[first][0], halves[second][0])
            held = (halves[first][1][0], halves[second][1][0])
            known = np.union1d(*(member.query_items for member in members))
            targets = SharedAccountTargets(np.union1d(*held), known, head, k, members=held)
            account = SharedAccount(members, int(np.random.default_rng([seed, *map(_key, pair)]).integers(2**31)))
            as_of = None if times is None else max(halves[first][2], halves[second][2])
            tasks.append(Task("+".join(pair), seed, account, targets, known if on_sight else None, as_of))
    return tasks


def popularity_scores(protocol: str, popularity: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """The ``popularity`` baseline's item scores.

    Implicit ("would they watch it?"): how many training users rated the item. Explicit ("would
    they like it?"): how well they rated it (the pack's smoothed mean rating).
    """
    return popularity if protocol == "watch" else quality


def task_seed(task: Task, strategy: str) -> int:
    """The session seed of one strategy on one task (see :func:`~prefchat.elicitation.onboarding.question_rng`),
    the same whatever else runs and in whichever order; ``prefchat eval --through-api`` starts
    its sessions with it, so that they meet the questions this benchmark asks."""
    digest = hashlib.sha256(f"{task.seed}/{task.user_id}/{strategy}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def kway_options(size: int) -> int:
    """The options of the benchmark's k-way questions where a pack's questions show ``size``: its own k where it
    chose k-way questions, else :data:`KWAY_OPTIONS`."""
    return size if size > 2 else KWAY_OPTIONS


def benchmark_policy(strategy: str, pool: np.ndarray, n_questions: int, groups: np.ndarray | None = None,
                     familiarity: np.ndarray | None = None, form: QuestionForm = PLAIN_QUESTIONS) -> Policy:
    """The question policy of a benchmark session: ``strategy`` over ``pool``, exactly ``n_questions``
    clicks (no early stop), so that every answer count up to it can be scored from one session, its
    questions of ``form`` (:class:`~prefchat.elicitation.onboarding.QuestionForm`: the taste slot, each
    user's own familiarity in place of ``familiarity``). The strategy decides pairs or k-way questions: a
    k-way one (:data:`KWAY_SESSIONS`) asks :func:`kway_options` of ``form.size``."""
    chosen = (question_strategy(KWAY_SESSIONS[strategy], kway_options(form.size)) if strategy in KWAY_SESSIONS
              else SESSIONS[strategy])
    return Policy(chosen, pool, groups, familiarity, min_questions=n_questions, max_questions=n_questions,
                  tastes=form.tastes, knowing=form.knowing)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Raw results: every metric of every strategy at every answer count, for every task.

    Attributes
    ----------
    strategies, answers, metrics : the axes, as tuples
    user_ids : (n_tasks,) the user of each task
    values : (n_strategies, n_answers, n_metrics, n_tasks) float array, nan where undefined
    asked, dont_know : (n_strategies, n_answers, n_tasks) int arrays, questions asked up to each
        answer count and how many of them got "don't know" (zero for strategies without questions)
    top : (n_strategies, n_answers, n_tasks, k) int array, each task's ranked top k (-1 pads), or
        None where the targets rank no catalog (prefer protocol)
    personas : on the served path, what the served lists say of the users' tastes, one row per
        served strategy and answer count (``prefchat.evaluation.persona_rows``); empty elsewhere
    """

    strategies: tuple[str, ...]
    answers: tuple[int, ...]
    metrics: tuple[str, ...]
    user_ids: np.ndarray
    values: np.ndarray
    asked: np.ndarray
    dont_know: np.ndarray
    top: np.ndarray | None = None
    personas: tuple[dict, ...] = ()


def _check_names(strategies: Sequence[str], answers: Sequence[int]) -> None:
    unknown = [name for name in strategies if name not in STRATEGY_NAMES]
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}; known: {', '.join(STRATEGY_NAMES)}")
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"a strategy is listed twice in {list(strategies)}")
    bad = [n for n in answers if not (isinstance(n, (int, np.integer)) and n >= 0)]
    if bad or not answers:
        raise ValueError(f"answer counts must be non-negative integers, got {bad[0] if bad else 'none'!r}")
    if list(answers) != sorted(set(answers)):
        raise ValueError(f"answer counts must be increasing and distinct, got {list(answers)}")


def _score(targets: Targets, scores: np.ndarray, metrics: tuple[str, ...]) -> np.ndarray:
    result = targets(scores)
    return np.array([result[metric] for metric in metrics])


def _key(name: str) -> int:
    """A stable integer for seeding from a name (Python's ``hash`` of a str is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def _rng(task: Task, strategy: str) -> np.random.Generator:
    """The generator of one strategy on one task, whatever else runs and in whichever order."""
    return np.random.default_rng([task.seed, _key(task.user_id), _key(strategy)])


def evaluate(
    tasks: Sequence[Task],
    features: np.ndarray,
    prior_mean: np.ndarray,
    prior_cov: np.ndarray,
    strategies: Sequence[str],
    answers: Sequence[int],
    pool: np.ndarray,
    popularity: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    familiarity: np.ndarray | None = None,
    score: Callable[[Posterior], np.ndarray] | None = None,
    jobs: int = 1,
    peers: Mapping[str, Peer] | None = None,
    recent: RecentPopularity | None = None,
    form: QuestionForm = PLAIN_QUESTIONS,
) -> Evaluation:
    r"""Run every strategy on every task (see the module docstring).

    Parameters
    ----------
    tasks : the held-out users x seeds; their targets must share one list of metrics
    features : (n_items, n_bases) array
    prior_mean, prior_cov : the population prior
    strategies : names from :data:`STRATEGY_NAMES`
    answers : increasing answer counts (clicks) at which to score
    pool : (n_pool,) int array, the candidate items of the questions
    popularity : (n_items,) item scores of the ``popularity`` strategy (needed only for it)
    groups : (n_items,) int array or None, only items of one group are asked together
    familiarity : (n_items,) array or None, the chance a user knows each item (see
        :class:`~prefchat.elicitation.selection.SelectionState`)
    score : how a posterior scores the items, ``score(posterior) -> (n_items,)``; one with a method
        ``at(as_of)`` (:class:`~prefchat.assistant.recommender.ServedScore`) is served at each task's
        :attr:`Task.as_of` (:func:`served_at`). The objective, as
        the caller serves it (e.g. :class:`~prefchat.elicitation.onboarding.CatalogScore` with a
        base-rate offset, so that ``population`` ranks by base rate; or the app's own scoring,
        summary term included). Default: the mean utility :math:`\phi^\top m`. ``pref-reference``
        has no prior to calibrate against and is always scored by its mean utility.
    jobs : worker processes, each given a contiguous share of the tasks; the results do not
        depend on it (every task's random numbers are its own)
    peers : name in :data:`PEERS` -> fitted :class:`~prefchat.elicitation.peers.Peer`, needed by
        the peer strategies (``ease``, ``ease-oracle``, ...)
    recent : the fitted :class:`~prefchat.elicitation.recency.RecentPopularity` of the
        ``recent-popularity`` strategy (needed only for it, with dated tasks: :attr:`Task.as_of`)
    form : the questions' size, taste slot and reading of each user's own familiarity (:func:`benchmark_policy`)
    """
    _check_names(strategies, answers)
    if not tasks:
        raise ValueError("no tasks to evaluate")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    metrics = tuple(tasks[0].targets.metrics)
    if any(tuple(task.targets.metrics) != metrics for task in tasks):
        raise ValueError("all tasks must be judged by the same metrics")
    if "popularity" in strategies and popularity is None:
        raise ValueError("the popularity strategy needs popularity scores")
    if "recent-popularity" in strategies:
        if recent is None:
            raise ValueError("the recent-popularity strategy needs a fitted RecentPopularity")
        if any(task.as_of is None for task in tasks):
            raise ValueError("the recent-popularity strategy needs dated tasks (rating_tasks given the timestamps)")
    missing = [name for name in strategies if _peer_name(name) and _peer_name(name) not in (peers or {})]
    if missing:
        raise ValueError(f"strategy {missing[0]!r} needs a fitted {_peer_name(missing[0])!r} peer; none was given")
    features = np.asarray(features, dtype=float)
    run = partial(
        _run_tasks, features=features, prior=Posterior.from_prior(prior_mean, prior_cov),
        strategies=tuple(strategies), answers=tuple(answers), metrics=metrics, pool=pool, popularity=popularity,
        groups=groups, familiarity=familiarity, score=CatalogScore(features) if score is None else score,
        peers=dict(peers or {}), recent=recent, form=form,
    )
    if jobs == 1:
        parts = [run(list(tasks))]
    else:
        shares = [list(share) for share in np.array_split(np.array(tasks, dtype=object), jobs) if len(share)]
        with ProcessPoolExecutor(len(shares)) as executor:
            parts = list(executor.map(run, shares))
    fields = list(zip(*parts))
    values, asked, dont_know = (np.concatenate(field, axis=-1) for field in fields[:3])
    top = None if fields[3][0] is None else np.concatenate(fields[3], axis=2)
    user_ids = np.array([task.user_id for task in tasks], dtype=object)
    return Evaluation(tuple(strategies), tuple(answers), metrics, user_ids, values, asked, dont_know, top)


def _peer_name(strategy: str) -> str | None:
    """The peer a strategy scores with (``ease`` for ``ease`` and ``ease-oracle``), None for the others."""
    name = strategy.removesuffix("-oracle")
    return name if name in PEERS else None


def _run_tasks(tasks, features, prior, strategies, answers, metrics, pool, popularity, groups, familiarity, score,
               peers, recent, form):
    """:func:`evaluate` on some tasks: the arrays ``values``, ``asked``, ``dont_know`` and ``top`` of :class:`Evaluation`.

    ``score``: a posterior's item scores (see :func:`evaluate`). A peer fed the ``active`` session
    reuses that session when ``active`` runs too (the session is the same either way).
    """
    shape = (len(strategies), len(answers), len(tasks))
    values = np.full((len(strategies), len(answers), len(metrics), len(tasks)), np.nan)
    asked, dont_know = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    ranks = hasattr(tasks[0].targets, "ranked")
    top = np.full((*shape, tasks[0].targets.k), -1, dtype=np.int64) if ranks else None
    sessions: dict[tuple[str, int], Session] = {}

    def judge(s: int, a: int | slice, t: int, scores: np.ndarray) -> None:
        values[s, a, :, t] = _score(tasks[t].targets, scores, metrics)
        if top is not None:
            ranked = tasks[t].targets.ranked(scores)
            top[s, a, t, :] = -1
            top[s, a, t, : len(ranked)] = ranked

    for s, name in enumerate(strategies):
        start = time.perf_counter()
        if name in FIXED:
            for t, scores in enumerate(_fixed_scores(name, tasks, features, prior, popularity, score, peers, recent)):
                judge(s, slice(None), t, scores)
        else:
            peer = peers.get(name) if _peer_name(name) else None
            session_name = PEER_SESSION if peer is not None else name
            oracle = name == ORACLE_QUESTIONS  # its policy gives the pool, groups and familiarity only
            answerable = name == ANSWERABLE_ORACLE  # its policy too, with its own questions
            shared = benchmark_policy("random" if oracle or answerable else session_name, pool, answers[-1], groups,
                                      familiarity, form)
            for t, task in enumerate(tasks):
                key = (session_name, t)
                policy = shared if task.pool is None else replace(shared, pool=task.pool)
                if answerable:
                    known = frozenset(_query_items(task.respondent, name).tolist())
                    policy = replace(policy, strategy=answerable_questions(known, form.size))
                seed = task_seed(task, session_name)
                session = sessions.get(key) or (oracle_session(features, prior, policy, task, score, seed) if oracle
                                                else run_session(features, prior, policy, task.respondent, seed))
                if session_name == PEER_SESSION:
                    sessions[key] = session
                for a, n in enumerate(answers):
                    reached = min(n, len(session.questions))
                    posterior = session.posteriors[reached]
                    if peer is not None:
                        scores = peer.scores(known_items(posterior.answers))
                    elif name == "pref-reference":
                        scores = features @ ml_fit(features, posterior.answers, ridge=PREF_RIDGE).mean
                    else:
                        scores = served_at(score, task)(posterior)
                    judge(s, a, t, scores)
                    asked[s, a, t], dont_know[s, a, t] = reached, sum(session.dont_know[:reached])
        log.info("%s: %d tasks in %.1f s", name, len(tasks), time.perf_counter() - start)
    return values, asked, dont_know, top


def oracle_session(features: np.ndarray, prior: Posterior, policy: Policy, task: Task,
                   score: Callable[[Posterior], np.ndarray], seed: int) -> Session:
    """The session of a questioner that knows ``task``'s targets: at each click, of the candidate pairs,
    the one whose answer (``task.respondent``'s) makes ``score`` best on the targets' first metric.

    The candidates: each item the policy may ask about (:meth:`~prefchat.elicitation.selection.SelectionState.allowed_pairs`,
    the same rules as every strategy: no pair or shared prompt twice) paired with its foil, the
    allowed partner least likely to be known (lowest ``policy.familiarity``; the last allowed one
    without it), so that an answer reveals about the item what the respondent knows: the limit of
    the watch protocol, where a known item beats an unknown one (in the prefer protocol such a pair
    is mostly a "don't know", and this questioner no limit). A candidate
    answered "don't know" teaches nothing; when every one is, the first is asked. Greedy: one click
    at a time, no look-ahead. ``seed`` orders the cards as any session's (:func:`~prefchat.elicitation.onboarding.question_rng`).
    """
    metric = task.targets.metrics[0]
    posterior, unknown = prior, frozenset[int]()
    questions: list[Question] = []
    posteriors, dont_know = [prior], []
    while len(questions) < policy.max_questions:
        state = SelectionState(features, posterior, policy.pool, policy.groups, unknown, policy.familiarity)
        items, allowed = state.allowed_pairs()
        allowed = allowed | allowed.T
        order = np.argsort(policy.familiarity[items], kind="stable") if policy.familiarity is not None else None
        best: tuple[float, Question, Posterior | None] | None = None
        for i in np.flatnonzero(allowed.any(axis=1)):
            partners = np.flatnonzero(allowed[i]) if order is None else order[allowed[i, order]]
            foil = int(partners[-1] if order is None else partners[0])
            question = Question((int(items[i]), int(items[foil])))
            answer = as_answer(question, task.respondent.answer(question))
            if answer is None or (isinstance(answer, Comparison) and answer.choice == "skip"):
                best = best or (-np.inf, question, None)
                continue
            updated = posterior.update(features, answer)
            value = float(task.targets(score(updated))[metric])
            if best is None or value > best[0]:
                best = (value, question, updated)
        if best is None:
            break
        _, question, answered = best
        shown = Question(tuple(question.items[j] for j in question_rng(seed, len(questions) + 1).permutation(2)))
        if answered is None:
            unknown = unknown.union(question.items)
        else:
            posterior = answered
        questions.append(shown)
        posteriors.append(posterior)
        dont_know.append(answered is None)
    return Session(tuple(questions), tuple(posteriors), tuple(dont_know))


def answerable_questions(known: frozenset[int], size: int) -> Strategy:
    """The questions of a questioner that knows the ``known`` items of its respondent (not the held-out targets).

    Each question shows one allowed item of ``known`` never shown before, at random
    (:meth:`~prefchat.elicitation.selection.SelectionState.allowed_pairs`: the rules of every strategy), and up to
    ``size - 1`` allowed items outside ``known``, at random, so that each answer reveals a new known item: the most a
    question of ``size`` options can tell the known-items model at a click, without a choice among the items known.
    None when no such item is left.
    """
    if size < 2:
        raise ValueError(f"a question shows at least 2 options, got size {size}")

    def strategy(state: SelectionState, rng: np.random.Generator) -> Question | None:
        items, allowed = state.allowed_pairs()
        allowed = allowed | allowed.T
        knows = np.isin(items, list(known))
        first = np.flatnonzero(knows & ~np.isin(items, state.shown_items) & allowed.any(axis=1))
        if not first.size:
            return None
        chosen = [int(rng.choice(first))]
        while len(chosen) < size:
            candidates = np.flatnonzero(allowed[chosen].all(axis=0) & ~knows)
            if not candidates.size:
                break
            chosen.append(int(rng.choice(candidates)))
        if len(chosen) < 2:
            return None
        return Question(tuple(int(items[i]) for i in rng.permutation(chosen)))

    return strategy


def _query_items(respondent: Respondent, strategy: str) -> np.ndarray:
    """The items ``respondent`` knows, its ``query_items`` (a :class:`~prefchat.elicitation.respondents.RatingsRespondent`'s
    QUERY half): what the strategies told them are given (the peers' ceilings, :data:`ANSWERABLE_ORACLE`)."""
    items = getattr(respondent, "query_items", None)
    if items is None:
        raise ValueError(f"strategy {strategy!r} needs respondents with QUERY items (the ratings protocols); "
                         f"a {type(respondent).__name__} has none")
    return np.asarray(items)


def _fixed_scores(name, tasks, features, prior: Posterior, popularity, score, peers, recent):
    """Item scores of a strategy that does not depend on answers, one array per task."""
    if _peer_name(name):
        query = [_query_items(task.respondent, name) for task in tasks]
        return [peers[_peer_name(name)].scores(items) for items in query]
    if name == "population":
        return [served_at(score, task)(prior) for task in tasks]
    if name == "popularity":
        return [np.asarray(popularity, dtype=float)] * len(tasks)
    if name == "recent-popularity":
        return [recent.scores(task.as_of) for task in tasks]
    evidence = [task.respondent.evidence(len(features), _rng(task, name)) for task in tasks]
    users = np.concatenate([np.full(len(labels), t) for t, (_, _, labels) in enumerate(evidence)])
    items_a, items_b, labels = (np.concatenate(column) for column in zip(*evidence))
    coef, cov = batch_map(features, users, items_a, items_b, labels, prior.prior_mean, prior.prior_cov,
                          n_users=len(tasks), return_cov=True)
    # Each posterior holds the answers it is conditioned on, so that a score reading them (the items a
    # known-items model is given, :class:`~prefchat.elicitation.known.KnownItemsScore`) sees them all.
    answered = [tuple(Comparison(int(a), int(b), {1.0: "a", 0.0: "b", 0.5: "tie"}[float(y)]) for a, b, y in zip(*part))
                for part in evidence]
    return [served_at(score, tasks[t])(Posterior(coef[t], cov[t], prior.prior_mean, prior.prior_cov, answered[t]))
            for t in range(len(tasks))]


def served_at(score: Callable[[Posterior], np.ndarray], task: Task) -> Callable[[Posterior], np.ndarray]:
    """``score`` served at the moment ``task`` is (:attr:`Task.as_of`) where it reads one (has ``at(as_of)``), else ``score``."""
    at = getattr(score, "at", None)
    return score if at is None else at(task.as_of)


# --------------------------------------------------------------------------- statistics


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    r"""Mean and 95% normal-approximation confidence interval, ignoring nan.

    .. math:: \bar x \pm z_{0.975}\, \frac{s}{\sqrt n}, \qquad s^2 = \frac{1}{n - 1} \sum_i (x_i - \bar x)^2

    Returns
    -------
    mean, lo, hi : floats; all nan without values, lo and hi nan with a single value
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(values.mean())
    if values.size < 2:
        return (mean, np.nan, np.nan)
    half = Z95 * float(values.std(ddof=1)) / np.sqrt(values.size)
    return (mean, mean - half, mean + half)


def mostly_unanswered(asked: np.ndarray, dont_know: np.ndarray, user_ids: np.ndarray) -> float | None:
    """The share of users who could answer at most half of what they were asked: their "don't know" clicks,
    averaged over their tasks, at least half of their clicks. A rate over all clicks hides the person who
    knew none of the films shown; None where nothing was asked.

    Parameters
    ----------
    asked, dont_know : (n_tasks,) clicks and "don't know" clicks of each task
    user_ids : (n_tasks,) the user of each task
    """
    if not np.sum(asked):
        return None
    clicks, unknown = per_user(np.stack([asked, dont_know]).astype(float), user_ids)
    return float(np.mean(unknown >= 0.5 * clicks))


def per_user(values: np.ndarray, user_ids: np.ndarray) -> np.ndarray:
    """Average the last axis (tasks) within each user, ignoring nan.

    Parameters
    ----------
    values : (..., n_tasks) array
    user_ids : (n_tasks,) the user of each task

    Returns
    -------
    (..., n_users) array, users in sorted order; nan where a user has no value
    """
    _, user = np.unique(user_ids, return_inverse=True)
    incidence = np.eye(user.max() + 1)[user]  # (n_tasks, n_users)
    finite = ~np.isnan(values)
    sums = np.where(finite, values, 0.0) @ incidence
    counts = finite @ incidence
    return np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _interval(lo: float, hi: float) -> list[float | None]:
    return [_number(lo), _number(hi)]


def summarise(evaluation: Evaluation, paired: Sequence[tuple[str, str]] = PAIRED,
              cohorts: Mapping[str, Collection[str]] | None = None, n_items: int | None = None) -> dict:
    """The ``n_test_users``, ``results`` and ``paired`` entries of the JSON report (module docstring).

    ``paired`` lists the differences "a minus b" to report; those naming a strategy that was not
    run are left out. ``cohorts`` (name -> user ids) repeats every metric for those users as
    ``METRIC|NAME``. ``n_items`` (the catalog size) adds ``coverage@20`` where the evaluation
    kept each task's top list. Undefined numbers are None, so the report is valid JSON.
    """
    ev = evaluation
    users = per_user(ev.values, ev.user_ids)
    order = np.unique(ev.user_ids)
    metrics, columns = list(ev.metrics), [users]
    for cohort, members in (cohorts or {}).items():
        outside = ~np.isin(order, np.asarray(list(members), dtype=object))
        masked = users.copy()
        masked[..., outside] = np.nan
        metrics += [f"{metric}|{cohort}" for metric in ev.metrics]
        columns.append(masked)
    users = np.concatenate(columns, axis=2)
    coverage: dict[str, np.ndarray] = {}
    if ev.top is not None and n_items:
        coverage[COVERAGE] = catalog_coverage(ev.top, n_items)
        for cohort, members in (cohorts or {}).items():
            coverage[f"{COVERAGE}|{cohort}"] = catalog_coverage(ev.top[:, :, np.isin(ev.user_ids, list(members))], n_items)
    results = []
    for s, strategy in enumerate(ev.strategies):
        for a, answers in enumerate(ev.answers):
            n_asked = int(ev.asked[s, a].sum())
            rate = ev.dont_know[s, a].sum() / n_asked if n_asked else None
            clicks = {"dont_know_rate": None if rate is None else float(rate),
                      "mostly_unanswered": mostly_unanswered(ev.asked[s, a], ev.dont_know[s, a], ev.user_ids)}
            for m, metric in enumerate(metrics):
                mean, lo, hi = mean_ci(users[s, a, m])
                results.append({"strategy": strategy, "answers": answers, "metric": metric,
                                "mean": _number(mean), "ci95": _interval(lo, hi), **clicks})
            for metric, share in coverage.items():
                results.append({"strategy": strategy, "answers": answers, "metric": metric,
                                "mean": _number(share[s, a]), "ci95": [None, None], **clicks})
    differences = []
    for first, second in paired:
        if first not in ev.strategies or second not in ev.strategies:
            continue
        i, j = ev.strategies.index(first), ev.strategies.index(second)
        for a, answers in enumerate(ev.answers):
            for m, metric in enumerate(metrics):
                mean, lo, hi = mean_ci(users[i, a, m] - users[j, a, m])
                differences.append({
                    "a": first, "b": second, "answers": answers, "metric": metric,
                    "mean_diff": _number(mean), "ci95": _interval(lo, hi),
                })
    return {"n_test_users": int(users.shape[-1]), "results": results, "paired": differences}


def catalog_coverage(top: np.ndarray, n_items: int) -> np.ndarray:
    r"""Share of the catalog in at least one task's top list, per strategy and answer count.

    .. math:: \mathrm{Coverage@}k = \frac{|\bigcup_t \mathrm{top}_k(t)|}{n_{\mathrm{items}}}

    Parameters
    ----------
    top : (n_strategies, n_answers, n_tasks, k) int array, -1 pads
    n_items : catalog size

    Returns
    -------
    (n_strategies, n_answers) float array; nan without tasks
    """
    shares = np.full(top.shape[:2], np.nan)
    if top.shape[2] == 0:
        return shares
    for s in range(top.shape[0]):
        for a in range(top.shape[1]):
            items = top[s, a].reshape(-1)
            shares[s, a] = np.unique(items[items >= 0]).size / n_items
    return shares


POPULARITY_DECILES = 10


def popularity_bias(evaluation: Evaluation, popularity: np.ndarray, relevant: Sequence[np.ndarray],
                    answers: Sequence[int] | None = None) -> dict:
    """Exposure by popularity decile, against the users' own items: the data of a popularity-bias plot.

    The catalog is cut into :data:`POPULARITY_DECILES` equal-sized deciles by training popularity
    (decile 1 the most popular tenth, ties by lower index). For each strategy and answer count,
    the share of all top-list slots (over every task) that fall in each decile; ``users`` is the
    same share of the test users' own held-out items (``relevant``, one array per task). A
    ranking without popularity bias follows ``users``; one that shows only the head piles into
    decile 1.

    Returns
    -------
    ``{"deciles": [1..10], "users": [10 shares], "exposure": [{"strategy", "answers", "shares"}]}``
    """
    if evaluation.top is None:
        raise ValueError("popularity_bias needs an evaluation that kept its top lists (the watch protocol)")
    order = np.argsort(-np.asarray(popularity, dtype=float), kind="stable")
    decile = np.empty(len(order), dtype=np.int64)
    decile[order] = np.arange(len(order)) * POPULARITY_DECILES // len(order)

    def shares(items: np.ndarray) -> list[float]:
        counts = np.bincount(decile[items[items >= 0]], minlength=POPULARITY_DECILES).astype(float)
        return (counts / max(counts.sum(), 1.0)).tolist()

    own = shares(np.concatenate([np.asarray(r, dtype=np.int64) for r in relevant])) if len(relevant) else []
    rows = []
    for s, strategy in enumerate(evaluation.strategies):
        for a, n in enumerate(evaluation.answers):
            if answers is None or n in answers:
                rows.append({"strategy": strategy, "answers": n, "shares": shares(evaluation.top[s, a].reshape(-1))})
    return {"deciles": list(range(1, POPULARITY_DECILES + 1)), "users": own, "exposure": rows}
