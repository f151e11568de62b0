"""Build a pack from a data set: embed, split users, choose hyperparameters, fit, name, save.

Every hyperparameter (K, L2, implicit-pair weight, population-coordinate boosts, the width
of each prior, the "watch" one by onboarding sessions, pairs or k-way questions by onboarding
sessions, the weights the served ranking gives the summary, :func:`~prefchat.reward.calibration.calibrate`, and
on a "watch" pack the calibrated list's, :func:`choose_calibration`)
is chosen by code on validation users carved from the training users, and recorded in the manifest with the
score of every setting tried. Test users are never looked at until the final report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..elicitation.evaluate import (
    Task,
    benchmark_policy,
    evaluate,
    mean_ci,
    per_user,
    rating_tasks,
    task_seed,
)
from ..elicitation.known import KnownItemsScore, KnownModel, components, population, spectral_bases
from ..elicitation.metrics import pairwise_accuracy, recall_floor
from ..elicitation.onboarding import CatalogScore, QuestionForm, Session, known_items, run_session
from ..elicitation.peers import EASE_L2_GRID, implicit_matrix
from ..elicitation.person import genre_mix, head_share, miscalibration
from ..elicitation.posterior import base_rate_offset
from ..elicitation.respondents import RankingTargets, RatingsRespondent
from .calibration import calibrate
from .checkin import choose_checkin
from .confidence import choose_confidence
from .data import Dataset, train_val_test_users
from .featurize import embed_texts, model_checksum, model_name
from .friends import Friends
from .manifest import MAX_QUESTION_SIZE
from .naming import descriptor_matrix, frequent_tags, name_axes, read_vocabulary
from .pack import Item, Pack, save_pack
from .personas import choose_personas, merged_validation_sessions
from .scoring import Scorer, served_taste
from .served import ServedRows, ServedSettings, TrendTerms, choose_served_score, served_pack
from .serving import LESS_OBVIOUS_RECALL_KEPT, SERVED_POOL_SIZE, strongest_discount
from .social import choose_social_prior, served_without_friends
from .train import (
    MIN_VALIDATION_EVIDENCE,
    FitResult,
    Hyperparameters,
    Interactions,
    fit,
    make_validation_users,
    population_coordinates,
    population_prior,
    validation_parts,
    validation_score,
    variance_rotation,
)
from .trend import choose_item_trend

log = logging.getLogger(__name__)

BASES_GRID = (4, 8, 16, 32)
L2_GRID = (1e-4, 1e-3, 1e-2)
IMPLICIT_GRID = (0.25, 0.5, 1.0, 2.0)
PRIOR_SCALE_GRID = (0.25, 0.5, 1.0, 2.0, 4.0)
WATCH_SCALE_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
VALIDATION_STRATEGY = "active"
"""The questions the watch prior and the known-items model are chosen by, before the question size is:
pairs; what is served on top of them is chosen on sessions of the size served (:func:`served_strategy`)."""
KWAY_SIZES = (4, MAX_QUESTION_SIZE)
"""The k-way sizes :func:`choose_question_size` tries beside pairs: four, and the most a chat question shows."""
VALIDATION_SESSION_ANSWERS = (5, 10)  # the served stop rule ends a session between these (should_stop)
VALIDATION_SEEDS = 2
BOOST_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
DISCOUNT_GRID = tuple(step / 10 for step in range(16))
"""The exposure discounts :func:`choose_exposure_discount` tries: 0 to 1.5 by 0.1."""
RECALL_TOLERANCE = {"exposure_discount": 0.03, "less_obvious_discount": 0.09, "calibration_weight": 0.03,
                    "question_tastes": 0.03, "question_knowing": 0.03}
"""The recall constraints of what serves a person rather than the mean, as shares of the recall at
stake (:func:`~prefchat.elicitation.metrics.recall_floor`): the exposure control, the calibrated
list, the questions' taste slot and their reading of each user's own familiarity may each lose at most
3% of the validation hits of the best found without them, the "less obvious picks" setting at most 9%."""
TREND_TOLERANCE = 0.015
"""The share of validation Recall@20 the item trend may cost either split (at random, in time) against the
served score without it: the trend is served only where it serves both (:func:`~prefchat.reward.served.choose_served_score`)."""
CALIBRATION_GRID = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
r"""The calibration weights :math:`\lambda` :func:`choose_calibration` tries."""
CALIBRATION_POPULARITY_GRID = (0.0, 0.25, 0.5)
r"""The popularity de-biasing weights :math:`\mu` it tries with each."""
CALIBRATION_HORIZON_GRID = (200, 500)
"""The horizons (how many best-scored items the user's genre mix is read from) it tries with each."""
VALIDATION_ANSWERS = 10


def interactions_of(dataset: Dataset) -> Interactions:
    empty_i, empty_f = np.empty(0, np.int64), np.empty(0)
    r, p = dataset.ratings, dataset.pairs
    return Interactions(
        n_users=dataset.n_users,
        n_items=dataset.items.n_items,
        rating_user=r.user if r else empty_i,
        rating_item=r.item if r else empty_i,
        rating_value=r.rating if r else empty_f,
        pair_user=p.user if p else empty_i,
        pair_a=p.item_a if p else empty_i,
        pair_b=p.item_b if p else empty_i,
        pair_label=p.label if p else empty_f,
    )


def choose_hyperparameters(search: Callable[[Hyperparameters], FitResult], fixed_bases: int | None,
                           has_ratings: bool) -> tuple[FitResult, Hyperparameters, list[dict[str, object]]]:
    """Coordinate search: K first, then L2, then (for ratings) the implicit weight.

    ``search(hyper) -> FitResult`` fits one setting; returns the best result, its
    hyperparameters and every trial as ``{"hyperparameters", "validation", "epochs"}``.
    """
    trials: dict[Hyperparameters, FitResult] = {}

    def run(hyper: Hyperparameters) -> float:
        if hyper not in trials:
            trials[hyper] = search(hyper)
        return trials[hyper].validation

    best = Hyperparameters(n_bases=fixed_bases or 8)
    if fixed_bases is None:
        best = max((replace(best, n_bases=k) for k in BASES_GRID), key=run)
    best = max((replace(best, l2=l2) for l2 in L2_GRID), key=run)
    if has_ratings:
        best = max((replace(best, implicit_weight=weight) for weight in IMPLICIT_GRID), key=run)
    table = [{"hyperparameters": asdict(h), "validation": r.validation, "epochs": r.epochs} for h, r in trials.items()]
    return trials[best], best, table


def choose_boosts(features, prior_mean, prior_cov, exposure, validation, coordinates: list[str], n_learned: int):
    """Weights of the population coordinates in the two priors, chosen on validation users.

    The training users' mean coefficient and the exposure offset are fitted to every pair
    alike, while a new user is judged by what comes first: the top of a catalog ranking leans
    further on popularity, the order of what they would rate on quality. Two boosts ``t`` from
    :data:`BOOST_GRID`, each the best :func:`validation_score`:

    - ``quality_boost``: the "prefer" prior mean moves by ``t`` along the quality coordinate and
      the exposure offset by ``-t``, so the "watch" prior (their sum) stays where it was;
    - ``popularity_boost``: the exposure offset moves by ``t`` along popularity ("watch" only).

    Returns the new prior mean and exposure, the chosen boosts and every score tried.
    """
    boosts, tables = {}, {}
    # (coordinate, how the boost moves the prior mean, how it moves the exposure offset)
    for name, on_mean, on_exposure in (("quality", 1.0, -1.0), ("popularity", 0.0, 1.0)):
        if name not in coordinates:
            continue
        along = np.eye(len(exposure))[n_learned + coordinates.index(name)]
        scores = {t: validation_score(features, prior_mean + on_mean * t * along, prior_cov, validation,
                                      exposure + on_exposure * t * along) for t in BOOST_GRID}
        best = max(scores, key=lambda t: scores[t])
        prior_mean = prior_mean + on_mean * best * along
        exposure = exposure + on_exposure * best * along
        boosts[f"{name}_boost"], tables[name] = best, {str(t): v for t, v in scores.items()}
    return prior_mean, exposure, boosts, tables


def choose_watch_scale(pack: Pack, users: dict[str, tuple[np.ndarray, np.ndarray]], seed: int) -> tuple[float, dict]:
    """Width of the "watch" prior, chosen by onboarding sessions on validation users.

    Each validation user answers questions of the served strategy (:data:`VALIDATION_STRATEGY`,
    over the served candidate pool, weighed by the pack's familiarity) in the benchmark's
    watch protocol (:func:`~prefchat.elicitation.evaluate.rating_tasks`,
    :data:`VALIDATION_SEEDS` splits per user), the catalog ranked as the benchmark ranks it (the
    chance of a pick calibrated to the familiarity as base rate). The width of :data:`WATCH_SCALE_GRID` with the
    best mean Recall@20 after :data:`VALIDATION_SESSION_ANSWERS` answers wins: the served stop
    rule ends a session anywhere between them.

    Why sessions and not the random answers of :func:`validation_parts`: actively chosen
    questions are about popular items, mostly answered "the one I know", and how far such
    answers should move the catalog ranking is a property of the prior that random pairs of a
    rated and an unrated item measure badly (on MovieLens they chose a width of 1, sessions 8).

    Returns the chosen scale and ``{scale: recall}`` for every scale tried. A pack without
    :attr:`~prefchat.reward.pack.Pack.familiarity` (pairwise data, items judged on sight) has no
    "watch" sessions to validate: a ValueError.
    """
    familiarity = pack.familiarity
    if familiarity is None:
        raise ValueError(f"choose_watch_scale needs a pack of rating data whose items must be known, got {pack.name!r}")
    tasks = rating_tasks(users, "watch", range(seed, seed + VALIDATION_SEEDS), pack.popularity)
    pool = pack.serving.pool(SERVED_POOL_SIZE)
    watch_mean = pack.prior_mean + pack.exposure
    scores = {}
    with threadpool_limits(limits=1):  # thousands of tiny matrix products: BLAS threads only contend
        for scale in WATCH_SCALE_GRID:
            offset = base_rate_offset(pack.features, watch_mean, scale * pack.prior_cov, familiarity)
            result = evaluate(tasks, pack.features, watch_mean, scale * pack.prior_cov, strategies=(VALIDATION_STRATEGY,),
                              answers=VALIDATION_SESSION_ANSWERS, pool=pool, familiarity=familiarity,
                              score=CatalogScore(pack.features, offset))
            scores[scale] = float(np.nanmean(result.values[0, :, result.metrics.index("recall@20")]))
    best = max(scores, key=lambda scale: scores[scale])
    return best, {str(scale): score for scale, score in scores.items()}


ANSWERABLE_GINI = 0.5
"""Gini coefficient of the items' rating counts from which ``auto`` deems items must be known."""


def rating_gini(counts: np.ndarray) -> float:
    r"""Gini coefficient of how often each item was rated: 0 when every item was rated as often,
    near 1 when a few items take all the ratings.

    .. math:: G = \frac{\sum_{i=1}^{n} (2i - n - 1)\, c_{(i)}}{n \sum_{i=1}^{n} c_i}

    with :math:`c_{(1)} \le \dots \le c_{(n)}` the counts sorted.
    """
    counts = np.sort(np.asarray(counts, dtype=float))
    n, total = counts.size, counts.sum()
    if n == 0 or total <= 0:
        return 0.0
    return float(((2 * np.arange(1, n + 1) - n - 1) * counts).sum() / (n * total))


def infer_answerable(requested: str, has_ratings: bool, counts: np.ndarray) -> tuple[str, dict]:
    """How the pack's items can be judged (see :attr:`~prefchat.reward.pack.Pack.answerable`), and why.

    ``requested`` "known" or "on-sight" is taken as it is. ``auto``: data of pairwise choices
    only are "on-sight" (people compared what they read); ratings are "known" when they
    concentrate on a few items (:func:`rating_gini` of the training users' counts at least
    :data:`ANSWERABLE_GINI`: people rate what they have met, as with films, where the head takes
    most ratings and the tail almost none) and "on-sight" when spread evenly over the catalog (items
    handed out to be rated, as jokes or dishes in a study, where everyone can judge anything
    shown). Returns the choice and ``{"requested", "gini", "threshold"}`` for the manifest.
    """
    gini = rating_gini(counts) if has_ratings else None
    if requested in ("known", "on-sight"):
        chosen = requested
    elif requested == "auto":
        chosen = "known" if gini is not None and gini >= ANSWERABLE_GINI else "on-sight"
    else:
        raise ValueError(f"answerable must be 'auto', 'known' or 'on-sight', got {requested!r}")
    return chosen, {"requested": requested, "gini": gini, "threshold": ANSWERABLE_GINI}


def choose_question_size(pack: Pack, users: dict[str, tuple[np.ndarray, np.ndarray]], seed: int) -> tuple[dict, dict]:
    """Pairs or "which of these k would you pick?" for k in :data:`KWAY_SIZES`, and on a tags pack whether a
    k-way question's last option is its taste slot, chosen by onboarding sessions on validation users at
    equal clicks.

    The served policy (``active``, the served pool and familiarity, the session prior and catalog
    score of the pack's objective) asks pairs, then k-way questions of each size, then on a tags pack
    questions of the best k-way size with the taste slot (:func:`~prefchat.elicitation.selection.active_kway`),
    in the protocol of the pack's items: "would rather watch" answers (watch, Recall@20) where items must
    be known, answers about the items each user rated (prefer, on sight, pairwise accuracy) where
    they are judged on sight. The size of the best mean score after :data:`VALIDATION_SESSION_ANSWERS`
    clicks wins (ties go to the smaller, which takes less reading). A k-way size serves the taste slot where
    its score keeps all but :data:`RECALL_TOLERANCE`'s share of that best: like the exposure control,
    the slot serves the person whose taste the head does not show, at a bounded cost to the mean.
    Returns ``{"question_size", "question_tastes"}`` and ``{"2": score, "4": score, "6": score, "6+tastes": score}``
    (the slot's score at the best k-way size).
    """
    known = pack.answerable == "known"
    protocol, metric = ("watch", "recall@20") if known else ("prefer", "pairwise_accuracy")
    tasks = rating_tasks(users, protocol, range(seed, seed + VALIDATION_SEEDS), pack.popularity, on_sight=not known)
    prior = pack.serving.session_prior(pack.objective)
    scores: dict[tuple[int, bool], float] = {}  # (size, taste slot) -> mean score

    def run(size: int, tastes: np.ndarray | None) -> None:
        result = evaluate(tasks, pack.features, prior.prior_mean, prior.prior_cov,
                          strategies=("active" if size == 2 else "kway",), answers=VALIDATION_SESSION_ANSWERS,
                          pool=pack.serving.pool(SERVED_POOL_SIZE), familiarity=pack.familiarity,
                          score=pack.serving.objective(pack.objective).catalog_score, form=QuestionForm(size, tastes))
        scores[size, tastes is not None] = float(np.nanmean(result.values[0, :, result.metrics.index(metric)]))

    with threadpool_limits(limits=1):  # thousands of tiny matrix products: BLAS threads only contend
        for size in (2, *KWAY_SIZES):
            run(size, None)
        kway = max(KWAY_SIZES, key=lambda k: (scores[k, False], -k))
        if pack.serving.tastes is not None:
            run(kway, pack.serving.tastes)
    size = max((k for k, served in scores if not served), key=lambda k: (scores[k, False], -k))
    best = scores[size, False]
    slot = size > 2 and scores.get((size, True), -np.inf) >= recall_floor(best, RECALL_TOLERANCE["question_tastes"])
    return ({"question_size": size, "question_tastes": int(slot)},
            {f"{k}{'+tastes' if served else ''}": score for (k, served), score in scores.items()})


def choose_question_knowing(pack: Pack, users: dict[str, tuple[np.ndarray, np.ndarray]], seed: int) -> tuple[int, dict]:
    """Whether the questions read each user's own chance of knowing an item (the known-items model's, given their
    answers so far: :meth:`~prefchat.elicitation.known.KnownItemsScore.knowing`) in place of the population's
    familiarity, chosen by onboarding sessions of the questions served on validation users.

    A question nobody in front of the screen knows costs a click and teaches nothing: where the user's own
    familiarity asks fewer of them ("don't know" per session) and keeps all but :data:`RECALL_TOLERANCE`'s share
    of the validation Recall@20, it is served. Packs without the known-items model keep the population's.
    Returns 1 or 0, and ``{"population"|"own": {"recall@20", "dont_know"}}`` (means per session).
    """
    score = pack.serving.watch.catalog_score
    if not isinstance(score, KnownItemsScore):
        return 0, {}
    tasks = rating_tasks(users, "watch", range(seed, seed + VALIDATION_SEEDS), pack.popularity)
    prior, strategy = pack.serving.session_prior("watch"), served_strategy(pack)
    record = {}
    with threadpool_limits(limits=1):  # thousands of tiny matrix products: BLAS threads only contend
        for name, knowing in (("population", None), ("own", score.knowing)):
            result = evaluate(tasks, pack.features, prior.prior_mean, prior.prior_cov, strategies=(strategy,),
                              answers=VALIDATION_SESSION_ANSWERS[-1:], pool=pack.serving.pool(SERVED_POOL_SIZE),
                              familiarity=pack.familiarity, score=score, form=replace(pack.serving.questions, knowing=knowing))
            record[name] = {"recall@20": float(np.nanmean(result.values[0, 0, result.metrics.index("recall@20")])),
                            "dont_know": float(result.dont_know[0, 0].mean())}
    plain, own = record["population"], record["own"]
    kept = own["recall@20"] >= recall_floor(plain["recall@20"], RECALL_TOLERANCE["question_knowing"])
    return int(kept and own["dont_know"] < plain["dont_know"]), record


def served_strategy(pack: Pack) -> str:
    """The benchmark strategy of the questions ``pack`` serves: ``kway`` where it chose k-way questions
    (with its taste slot, :func:`validation_sessions`), else :data:`VALIDATION_STRATEGY`'s pairs."""
    return "kway" if pack.question_size > 2 else VALIDATION_STRATEGY


def validation_sessions(pack: Pack, users: dict[str, tuple[np.ndarray, np.ndarray]], seed: int, split: str = "random",
                        times: dict[str, np.ndarray] | None = None, strategy: str = VALIDATION_STRATEGY,
                        ) -> list[tuple[Task, Session]]:
    """The onboarding sessions of validation users that the "watch" settings are chosen by (split by
    ``split``, dated by ``times`` where given: :func:`~prefchat.elicitation.evaluate.rating_tasks`).

    ``strategy`` (:data:`VALIDATION_STRATEGY` until the question size is chosen, then the served
    one, :func:`served_strategy`, with the pack's taste slot where it serves one) over the served
    pool, weighed by the pack's familiarity, with its "watch" session prior, in the benchmark's
    watch protocol (:func:`~prefchat.elicitation.evaluate.rating_tasks`, :data:`VALIDATION_SEEDS`
    splits per user), :data:`VALIDATION_SESSION_ANSWERS` questions at most: one ``(task, session)`` per task.
    """
    tasks = rating_tasks(users, "watch", range(seed, seed + VALIDATION_SEEDS), pack.popularity, split=split, times=times)
    prior = pack.serving.session_prior("watch")
    policy = benchmark_policy(strategy, pack.serving.pool(SERVED_POOL_SIZE), max(VALIDATION_SESSION_ANSWERS),
                              familiarity=pack.familiarity, form=pack.serving.questions)
    with threadpool_limits(limits=1):  # thousands of tiny matrix products: BLAS threads only contend
        return [(task, run_session(pack.features, prior, policy, task.respondent, task_seed(task, strategy)))
                for task in tasks]


def choose_exposure_discount(pack: Pack, sessions: list[tuple[Task, Session]]) -> tuple[dict, dict]:
    """The exposure control's settings, chosen by onboarding sessions on validation users under a recall constraint.

    The :func:`validation_sessions` of the pack's final "watch" prior, each posterior after
    :data:`VALIDATION_SESSION_ANSWERS` answers ranking the
    catalog with every discount of :data:`DISCOUNT_GRID`
    (:meth:`~prefchat.reward.serving.ObjectiveServing.discounted`). For the served discount and the "less obvious picks" one (their :data:`RECALL_TOLERANCE`),
    the discount whose lists hold the least of the catalog's head (its mean head share, the 100 most
    popular items) whose mean Recall@20 is within the tolerance of the undiscounted ranking's (the
    smaller discount among equals), and ``less_obvious_limit``,
    the same keeping :data:`~prefchat.reward.serving.LESS_OBVIOUS_RECALL_KEPT` of it (:func:`~prefchat.reward.serving.strongest_discount`).

    Returns ``({name: discount}, {"grid": [{"discount", "recall@20", "long_tail_share@20", "head_share@20"}], name: tolerance ...})``.
    """
    # A discount only subtracts its gamma logit f from the undiscounted score (CatalogScore.penalty).
    watch = pack.serving.objective("watch")
    base, penalties = watch.catalog_score, [watch.discounted(discount).penalty() for discount in DISCOUNT_GRID]
    popular = pack.serving.head
    values = np.full((len(DISCOUNT_GRID), 3, len(sessions) * len(VALIDATION_SESSION_ANSWERS)), np.nan)
    with threadpool_limits(limits=1):
        column = 0
        for task, session in sessions:
            assert isinstance(task.targets, RankingTargets)  # the watch protocol's
            for n in VALIDATION_SESSION_ANSWERS:
                posterior = session.posteriors[min(n, len(session.questions))]
                scores = base(posterior)
                for d, penalty in enumerate(penalties):
                    ranked = task.targets.ranked(scores - penalty)
                    result = task.targets.judged(ranked)
                    values[d, :, column] = result["recall@20"], result["long_tail_share@20"], head_share(ranked, popular)
                column += 1
    means = np.nanmean(values, axis=2)
    grid = [{"discount": d, "recall@20": float(r), "long_tail_share@20": float(t), "head_share@20": float(h)}
            for d, (r, t, h) in zip(DISCOUNT_GRID, means)]
    chosen = {name: strongest_discount(grid, recall_floor(grid[0]["recall@20"], RECALL_TOLERANCE[name]))
              for name in ("exposure_discount", "less_obvious_discount")}
    chosen["less_obvious_limit"] = strongest_discount(grid, LESS_OBVIOUS_RECALL_KEPT * grid[0]["recall@20"])
    return chosen, {"grid": grid, "recall_tolerance": dict(RECALL_TOLERANCE), "less_obvious_recall_kept": LESS_OBVIOUS_RECALL_KEPT}


def dated_sessions(pack: Pack, users: dict[str, tuple[np.ndarray, np.ndarray]], times: dict[str, np.ndarray],
                   seed: int) -> dict[str, list[tuple[Task, Session]]]:
    """The served :func:`validation_sessions` (:func:`served_strategy`) of ``users`` split at random and in
    time (by split), dated by their ratings' timestamps ``times`` (:func:`user_times`)."""
    return {split: validation_sessions(pack, users, seed, split, times, served_strategy(pack)) for split in ("random", "time")}


def user_times(dataset: Dataset, users: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """The timestamps of each of ``users``' ratings, in the order of their items (a dated pack)."""
    ratings = dataset.ratings
    assert ratings is not None and ratings.timestamp is not None  # a dated pack
    index = {str(u): n for n, u in enumerate(ratings.user_ids.tolist())}
    return {u: ratings.timestamp[ratings.user == index[u]] for u in users}


def training_times(dataset: Dataset, train_users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training users' rated items and the ratings' timestamps (a dated pack)."""
    ratings = dataset.ratings
    assert ratings is not None and ratings.timestamp is not None
    train = np.isin(ratings.user, train_users)
    return ratings.item[train], ratings.timestamp[train]


def with_item_trend(pack: Pack, dataset: Dataset, train_users: np.ndarray, sessions: list[tuple[Task, Session]]) -> tuple[Pack, dict]:
    """``pack`` with its item trend (:func:`~prefchat.reward.trend.choose_item_trend`): the training users'
    dated ratings, chosen on the :func:`dated_sessions` ``sessions``."""
    trend, record = choose_item_trend(pack, *training_times(dataset, train_users), sessions)
    return replace(pack, trend=trend), record


def with_served_score(pack: Pack, sessions: dict[str, list[tuple[Task, Session]]],
                      trend_data: tuple[np.ndarray, np.ndarray] | None) -> tuple[Pack, dict, dict]:
    """``pack`` with the settings of its served "watch" score chosen together (:mod:`~prefchat.reward.served`):
    the known-items calibration, the item trend (with ``trend_data``, the training ratings' items and
    times; within :data:`TREND_TOLERANCE` of none on each split), the passed-over weight and the
    exposure discount, by coordinate ascent from the ones chosen one at a time, on ``sessions`` (by split).

    Returns the pack, its hyperparameters (``known_calibration``, ``passed_over_weight``,
    ``exposure_discount``, ``less_obvious_discount``, ``less_obvious_limit``) and the record of the search.
    """
    known, rates = pack.known, pack.familiarity
    assert known is not None and rates is not None  # a known-items pack
    every = [pair for split in sessions.values() for pair in split]
    trends = None if trend_data is None else TrendTerms(*trend_data, pack.n_items, [task.as_of for task, _ in every])
    trend = pack.trend
    start = ServedSettings(known.calibration, None if trends is None or trend is None else trend.recent.window,
                           0.0 if trend is None else trend.beta, pack.exposure_discount, pack.passed_over_weight)
    rows = ServedRows.of(known, rates, every, pack.serving.head, [split for split, pairs in sessions.items() for _ in pairs])
    chosen, record = choose_served_score(rows, start, KNOWN_CALIBRATION_GRID, DISCOUNT_GRID,
                                         RECALL_TOLERANCE["exposure_discount"], trends, TREND_TOLERANCE)
    grid = record["discount_grid"]
    hyper = {"known_calibration": chosen.calibration, "passed_over_weight": chosen.delta,
             "exposure_discount": chosen.discount,
             "less_obvious_discount": strongest_discount(grid, recall_floor(grid[0]["recall@20"],
                                                                            RECALL_TOLERANCE["less_obvious_discount"])),
             "less_obvious_limit": strongest_discount(grid, LESS_OBVIOUS_RECALL_KEPT * grid[0]["recall@20"])}
    return served_pack(pack, chosen, trends), hyper, record


def choose_calibration(pack: Pack, sessions: list[tuple[Task, Session]]) -> tuple[dict, dict]:
    r"""The calibrated list's settings (:mod:`~prefchat.elicitation.calibrated`), chosen by onboarding
    sessions on validation users under a recall constraint.

    Each posterior of the :func:`validation_sessions` after :data:`VALIDATION_SESSION_ANSWERS`
    answers scores the catalog as served (:meth:`~prefchat.reward.scoring.Scorer.scores` of its
    :func:`~prefchat.reward.scoring.served_taste`), and every setting of :data:`CALIBRATION_GRID`
    (:math:`\lambda`) x :data:`CALIBRATION_POPULARITY_GRID` (:math:`\mu`) x :data:`CALIBRATION_HORIZON_GRID`
    calibrates that list (:meth:`~prefchat.reward.scoring.Scorer.calibrated`, built only as far as the top 20
    can reach: 20 positions more than the QUERY half has items). Each top 20 (QUERY half left out) is read against the user's held-out items: Recall@20, genre miscalibration and head share
    (:mod:`~prefchat.elicitation.person`). Among the settings that cost at most :data:`RECALL_TOLERANCE`'s
    share of its Recall@20 against the uncalibrated list with 95% confidence (the low end of the interval of the
    paired change per user, :func:`~prefchat.elicitation.evaluate.mean_ci`: of some 35 settings, the one
    that looks cheapest on 60 users is likely to cost more on others), the chosen one has the list
    closest to the person: the lowest sum of its mean miscalibration and mean head share, each
    relative to the uncalibrated list's (the weaker setting among equals).

    Returns ``{"calibration_weight", "calibration_popularity", "calibration_horizon"}`` and
    ``{"grid": [{"weight", "popularity", "horizon", "recall@20", "recall_change_low", "miscalibration", "head_share"}], "recall_tolerance"}``.
    """
    scorer, genres = Scorer(pack), pack.serving.descriptors.carried
    head = pack.serving.head
    settings = [(w, mu, h) for w in CALIBRATION_GRID for mu in CALIBRATION_POPULARITY_GRID for h in CALIBRATION_HORIZON_GRID
                if (w or mu) or h == CALIBRATION_HORIZON_GRID[0]]  # the horizon means nothing uncalibrated
    values = np.full((len(settings), 3, len(sessions) * len(VALIDATION_SESSION_ANSWERS)), np.nan)
    users = np.repeat([task.user_id for task, _ in sessions], len(VALIDATION_SESSION_ANSWERS))
    with threadpool_limits(limits=1):
        column = 0
        for task, session in sessions:
            assert isinstance(task.targets, RankingTargets)
            own = genre_mix(task.targets.relevant, genres)
            reach = task.targets.k + len(task.targets.exclude)  # the top k left out of the QUERY half lies within it
            for n in VALIDATION_SESSION_ANSWERS:
                posterior = session.posteriors[min(n, len(session.questions))]
                taste = served_taste(pack, posterior, task.as_of)
                scores = scorer.scores(taste)
                for row, (weight, popularity_weight, horizon) in enumerate(settings):
                    served = scorer.calibrated(taste, scores, weight, popularity_weight, horizon, reach)
                    top = task.targets.ranked(served)[: task.targets.k]
                    values[row, :, column] = (task.targets(served)["recall@20"], miscalibration(own, genre_mix(top, genres)),
                                              head_share(top, head))
                column += 1
    means = np.nanmean(values, axis=2)
    # The paired change of Recall@20 against the uncalibrated list, per user, and its 95% interval's low end.
    lows = [mean_ci(per_user(values[row, 0] - values[0, 0], users))[1] for row in range(len(settings))]
    grid = [{"weight": w, "popularity": mu, "horizon": h, "recall@20": float(r), "recall_change_low": float(np.nan_to_num(low)),
             "miscalibration": float(c), "head_share": float(s)}
            for (w, mu, h), (r, c, s), low in zip(settings, means, lows)]
    plain = grid[0]
    allowed = [row for row in grid
               if row["recall_change_low"] >= recall_floor(plain["recall@20"], RECALL_TOLERANCE["calibration_weight"]) - plain["recall@20"]]
    best = min(allowed, key=lambda row: (row["miscalibration"] / plain["miscalibration"] + row["head_share"] / plain["head_share"],
                                         row["weight"], row["popularity"], row["horizon"]))
    chosen = {"calibration_weight": float(best["weight"]), "calibration_popularity": float(best["popularity"]),
              "calibration_horizon": int(best["horizon"])}
    return chosen, {"grid": grid, "recall_tolerance": RECALL_TOLERANCE["calibration_weight"]}


KNOWN_L2_GRID = EASE_L2_GRID
KNOWN_BASES_GRID = (64, 128, 256, 512)
KNOWN_TAU_GRID = (0.25, 0.5, 1.0, 2.0)
KnownTrial = TypedDict("KnownTrial", {"bases": int, "tau": float, "recall@20": float})
"""A row of :func:`choose_known_model`'s grid: the number of bases and the width tried, and the score."""


def choose_known_model(pack: Pack, matrix, sessions: list[tuple[Task, Session]]) -> tuple[KnownModel, dict, dict]:
    """The "watch" catalog model (:mod:`~prefchat.elicitation.known`), its settings chosen on validation users.

    The :func:`validation_sessions` give each validation task the items its answers after each of
    :data:`VALIDATION_SESSION_ANSWERS` clicks show the user knows
    (:func:`~prefchat.elicitation.onboarding.known_items`); the whole QUERY half is the ceiling as
    evidence grows. A setting's score is the mean Recall@20 over those evidence sets. EASE's L2
    first, over :data:`KNOWN_L2_GRID` with every component and :math:`\\tau = 1`, on the QUERY
    halves (as EASE's own is chosen, :func:`~prefchat.elicitation.peers.choose_peer`); then the number
    of bases of :data:`KNOWN_BASES_GRID` (at most the rank of ``matrix``) with the width
    :math:`\\tau` of :data:`KNOWN_TAU_GRID` together; the fewer bases among equals.

    ``matrix``: the training users' 0/1 matrix. Returns the model, its hyperparameters
    ``{"known_l2", "known_bases", "known_tau"}`` and the score of every setting tried.
    """
    evidence = []
    for task, session in sessions:
        assert isinstance(task.respondent, RatingsRespondent)
        sets = [known_items(session.posteriors[min(n, len(session.questions))].answers) for n in VALIDATION_SESSION_ANSWERS]
        evidence += [(task, known) for known in (*sets, frozenset(task.respondent.query_items.tolist()))]
    populations: dict[tuple, tuple[np.ndarray, ...]] = {}
    with threadpool_limits(limits=1):
        def score(model: KnownModel, sets=evidence) -> float:
            scores = model.scores_of([known for _, known in sets])
            return float(np.nanmean([task.targets(row)["recall@20"] for (task, _), row in zip(sets, scores)]))

        def make(l2: float, k: int | None, tau: float) -> KnownModel:
            if (l2, k) not in populations:
                emission, features = spectral_bases(values, vectors, l2)
                emission, features = emission[:, :k], features[:, :k]
                populations[l2, k] = (features, emission, *population(matrix, emission))
            features, emission, mean, cov, within = populations[l2, k]
            return KnownModel(features, emission, mean, cov, within, tau)

        values, vectors = components(matrix, max(KNOWN_BASES_GRID))
        ceiling = evidence[len(VALIDATION_SESSION_ANSWERS)::len(VALIDATION_SESSION_ANSWERS) + 1]
        l2_scores = {l2: score(make(l2, None, 1.0), ceiling) for l2 in KNOWN_L2_GRID}
        l2 = max(l2_scores, key=lambda value: (l2_scores[value], -value))
        rank = len(values)
        grid: list[KnownTrial] = []
        for k in sorted({min(k, rank) for k in KNOWN_BASES_GRID}):
            for tau in KNOWN_TAU_GRID:
                grid.append({"bases": k, "tau": tau, "recall@20": score(make(l2, k, tau))})
    best = max(grid, key=lambda row: (row["recall@20"], -row["bases"], -abs(np.log(row["tau"]))))
    chosen = {"known_l2": l2, "known_bases": best["bases"], "known_tau": best["tau"]}
    table = {"l2": {str(value): result for value, result in l2_scores.items()}, "grid": grid,
             "evidence": [*(f"{n} answers" for n in VALIDATION_SESSION_ANSWERS), "query half"]}
    return make(l2, best["bases"], best["tau"]), chosen, table


KNOWN_CALIBRATION_GRID = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0)
"""The calibration counts :func:`choose_known_calibration` tries (0: no base-rate bias)."""


def choose_known_calibration(model: KnownModel, base_rates: np.ndarray,
                             sessions: list[tuple[Task, Session]]) -> tuple[KnownModel, float, dict]:
    """The known-items model calibrated to the population's ``base_rates`` (:mod:`~prefchat.elicitation.known`,
    "Calibration to base rates"), its count :math:`c` chosen on validation users.

    Each of :data:`KNOWN_CALIBRATION_GRID` ranks the catalog for the items the :func:`validation_sessions`
    show the user knows after 0 and after each of :data:`VALIDATION_SESSION_ANSWERS` clicks; the best
    mean Recall@20 over all of them wins, the smaller count among equals (0 keeps the model as it
    was). Returns the calibrated model, :math:`c`, and ``{c: recall}`` for every count tried.
    """
    evidence = [(task, known_items(session.posteriors[min(n, len(session.questions))].answers))
                for task, session in sessions for n in (0, *VALIDATION_SESSION_ANSWERS)]
    scores = {}
    with threadpool_limits(limits=1):
        for count in KNOWN_CALIBRATION_GRID:
            candidate = replace(model, base_rates=base_rates, calibration=count)
            rows = candidate.scores_of([known for _, known in evidence])
            scores[count] = float(np.nanmean([task.targets(row)["recall@20"] for (task, _), row in zip(evidence, rows)]))
    best = max(scores, key=lambda count: (scores[count], -count))
    return replace(model, base_rates=base_rates, calibration=best), best, {str(c): v for c, v in scores.items()}


def test_report(features, prior_mean, quality, popularity, data: Interactions, test_users) -> dict:
    """Zero-answer pairwise accuracy on test users' ratings: population model vs popularity.

    Also the paired per-user difference (population model minus mean-rating baseline) with
    a 95% normal-approximation confidence interval.
    """
    population, by_mean, by_count = [], [], []
    population_scores = features @ prior_mean
    for u in test_users:
        mask = data.rating_user == u
        items, values = data.rating_item[mask], data.rating_value[mask]
        if len(np.unique(values)) < 2:
            continue
        population.append(pairwise_accuracy(population_scores[items], values))
        by_mean.append(pairwise_accuracy(quality[items], values))
        by_count.append(pairwise_accuracy(popularity[items], values))
    if not population:
        return {"n_test_users": 0}
    diff = np.array(population) - np.array(by_mean)
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    return {
        "n_test_users": len(population),
        "pairwise_accuracy_population_model": float(np.mean(population)),
        "pairwise_accuracy_mean_rating": float(np.mean(by_mean)),
        "pairwise_accuracy_popularity_count": float(np.mean(by_count)),
        "population_minus_mean_rating": {"mean_diff": float(diff.mean()), "ci95": [float(diff.mean() - half), float(diff.mean() + half)]},
    }


def build_pack(
    dataset: Dataset,
    out: str | Path,
    model: str,
    cache_dir: str | Path | None,
    name: str,
    n_bases: int | None = None,
    seed: int = 0,
    holdout_users: float = 0.2,
    validation_users: float = 0.1,
    vocabulary: str = "styles",
    answerable: str = "auto",
    provenance: dict | None = None,
    progress: bool = False,
    friends: Friends | None = None,
) -> Pack:
    """Train a pack on ``dataset`` and save it to ``out``; see the module docstring.

    Last, the served ranking's summary weights are chosen on the same validation users
    (:func:`~prefchat.reward.calibration.calibrate`) and merged into the manifest before it is saved.

    ``friends``: a friends graph; on a pack with a known-items model it gives new users a social
    prior (:func:`~prefchat.reward.social.choose_social_prior`, chosen on validation users with friends).
    """
    started = time.perf_counter()
    items = [Item(str(i), str(t), str(x), tuple(g)) for i, t, x, g in zip(
        dataset.items.item_ids.tolist(), dataset.items.titles.tolist(), dataset.items.texts.tolist(), dataset.items.tags)]
    embeddings = embed_texts([item.text for item in items], model, cache_dir=cache_dir, progress=progress)
    embedded = time.perf_counter()
    data = interactions_of(dataset)

    ids = np.asarray(dataset.user_ids.tolist())
    train_ids, val_ids, test_ids = train_val_test_users(ids, holdout_users, validation_users, seed)
    position = {u: i for i, u in enumerate(ids.tolist())}
    train_users, val_users, test_users = (np.array([position[u] for u in part.tolist()], np.int64) for part in (train_ids, val_ids, test_ids))
    train = data.subset(train_users)

    if data.has_ratings:
        population, popularity, quality = population_coordinates(train.rating_item, train.rating_value, data.n_items)
        coordinates = ["popularity", "quality"]
    else:
        population = np.zeros((data.n_items, 0))
        popularity = np.bincount(np.concatenate([train.pair_a, train.pair_b]), minlength=data.n_items).astype(float)
        quality = np.zeros(data.n_items)
        coordinates = []
    validation = make_validation_users(data, val_users, VALIDATION_ANSWERS, seed)
    answerable, answerable_evidence = infer_answerable(answerable, data.has_ratings, popularity)
    # The long steps after the embedding, one progress bar in the embedding bar's style, each step
    # named while it runs: fitting, the prior, axes, the test report; on ratings the question size
    # (on items that must be known, after the watch prior and the known-items model, and then the
    # exposure discount, with dated ratings the item trend, and the served score's settings chosen
    # again together on sessions of the questions served; with friends, then the social prior
    # against that score); then the confidence
    # thresholds; then the summary weights; on items that must be known, the calibration weight and last the personas.
    dated = dataset.ratings is not None and dataset.ratings.timestamp is not None
    n_steps = 6 + int(data.has_ratings) * (1 + (6 + (friends is not None) + 2 * dated) * (answerable == "known"))
    bar = tqdm(total=n_steps, desc="training", unit="step", disable=not progress)

    @contextmanager
    def step(name: str) -> Iterator[None]:
        bar.set_description_str(name)
        yield
        bar.update()

    def search(hyper: Hyperparameters) -> FitResult:
        bar.set_postfix_str(f"K={hyper.n_bases} l2={hyper.l2:g} implicit={hyper.implicit_weight:g}")
        result = fit(data, embeddings, population, train_users, validation, hyper, seed=seed)
        log.info("%s: validation %.4f after %d epochs", hyper, result.validation, result.epochs)
        return result

    with step("fitting base rewards"):
        result, hyper, trials = choose_hyperparameters(search, n_bases, data.has_ratings)
    bar.set_postfix_str("")
    k = result.head_weight.shape[1]

    # Rotate learned axes to a diagonal coefficient covariance, by decreasing variance, and
    # centre the learned features over the catalog (pairwise models cannot see an offset): the
    # content head's bias is that centring, so texts outside the catalog land in the same frame.
    coef = result.coef[train_users]
    q = variance_rotation(coef[:, :k])
    features = result.features.copy()
    features[:, :k] = features[:, :k] @ q
    offset = features[:, :k].mean(0)
    features[:, :k] -= offset
    coef[:, :k] = coef[:, :k] @ q
    exposure = result.exposure.copy()
    exposure[:k] = exposure[:k] @ q
    head_weight, head_bias = result.head_weight @ q, -offset
    prior_mean, prior_cov = population_prior(coef)

    with step("choosing the prior"):
        prior_mean, exposure, boosts, boost_tables = choose_boosts(features, prior_mean, prior_cov, exposure, validation,
                                                                   coordinates, k)
        # Each prior gets the width that serves its own evidence best: "prefer" answers here, "watch"
        # answers by onboarding sessions once the pack exists (choose_watch_scale).
        scale_scores = {s: validation_parts(features, prior_mean, s * prior_cov, validation)["prefer"] for s in PRIOR_SCALE_GRID}
        prior_scale = max(scale_scores, key=lambda scale: scale_scores[scale])

    definitions: dict[str, str] = {}
    if any(item.tags for item in items):
        source, descriptors = "tags", frequent_tags(items)
        descriptor_embeddings = embed_texts(descriptors, model, cache_dir=cache_dir) if descriptors else np.zeros((0, embeddings.shape[1]), np.float32)
    else:
        (descriptors, definitions), source = read_vocabulary(vocabulary), "vocabulary"
        descriptor_embeddings = embed_texts(descriptors, model, cache_dir=cache_dir)
    with step("naming axes"):
        matrix = descriptor_matrix(source, items, descriptors, embeddings, descriptor_embeddings, definitions)
        axes = name_axes(features[:, :k], matrix, descriptors, titles=[item.title for item in items])

    with step("testing on held-out users"):
        report = test_report(features, prior_mean, quality, popularity, data, test_users) if data.has_ratings else {}
    hyperparameters: dict[str, object] = {**asdict(hyper), "prior_scale": prior_scale, "watch_prior_scale": prior_scale,
                                          **boosts, "validation_answers": VALIDATION_ANSWERS}
    selection: dict[str, object] = {"answerable": answerable_evidence, "trials": trials,
                                    "prior_scale": {str(s): v for s, v in scale_scores.items()}, "boosts": boost_tables}
    metrics: dict[str, object] = {
        "validation": result.validation,
        "epochs": result.epochs,
        "history": result.history,
        "test_zero_answers": report,
        "seconds_embedding": round(embedded - started, 2),
    }
    manifest: dict[str, object] = {
        "name": name,
        "version": datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding_model": {"name": model_name(model), "path": model, "checksum": model_checksum(model)},
        "population_coordinates": coordinates,
        "descriptor_source": source,
        "answerable": answerable,
        "descriptor_definitions": definitions,
        "groups": None if dataset.items.groups is None else dataset.items.groups.tolist(),
        "group_names": list(dataset.items.group_names),
        "hyperparameters": hyperparameters,
        "selection": selection,
        "metrics": metrics,
        "split": {
            "seed": seed,
            "holdout_users": holdout_users,
            "validation_users": validation_users,
            "train": train_ids.tolist(),
            "validation": val_ids.tolist(),
            "test": test_ids.tolist(),
        },
        "data": {**(provenance or {}), "n_users": dataset.n_users, "skipped": dataset.skipped,
                 "n_ratings": int(len(data.rating_user)), "n_pairs": int(len(data.pair_user))},
    }
    pack = Pack(
        items=items,
        embeddings=embeddings.astype(np.float32),
        features=features,
        head_weight=head_weight,
        head_bias=head_bias,
        new_item_population=population.mean(0) if population.shape[1] else np.zeros(0),
        prior_mean=prior_mean,
        prior_cov=prior_cov,
        exposure=exposure,
        popularity=popularity,
        quality=quality,
        descriptors=descriptors,
        descriptor_embeddings=np.asarray(descriptor_embeddings, np.float32),
        axes=axes,
        manifest=manifest,
    )
    sessions: list[tuple[Task, Session]] = []
    if data.has_ratings:

        def choose_size() -> None:
            nonlocal pack
            with step("choosing the question size"):
                chosen, selection["question_size"] = choose_question_size(pack, session_users, seed)
                hyperparameters.update(chosen)
                pack = replace(pack)  # serving derived again: the questions just changed
                hyperparameters["question_knowing"], selection["question_knowing"] = choose_question_knowing(
                    pack, session_users, seed)
                pack = replace(pack)

        session_users = {}
        for u in val_users.tolist():
            rows = data.rating_user == u
            if rows.sum() >= MIN_VALIDATION_EVIDENCE:
                session_users[str(ids[u])] = (data.rating_item[rows], data.rating_value[rows])
        session_times = user_times(dataset, session_users) if dated else None  # their ratings' timestamps, read once
        if answerable == "known":  # the "watch" prior serves sessions of items that must be known
            with step("choosing the watch prior"):
                watch_scale, selection["watch_prior_scale"] = choose_watch_scale(pack, session_users, seed)
                hyperparameters["watch_prior_scale"] = watch_scale
                pack = replace(pack)  # a pack whose serving is derived again: the "watch" prior just changed
                sessions = validation_sessions(pack, session_users, seed)
            with step("choosing the known-items model"):
                matrix = implicit_matrix(train.rating_user, train.rating_item, data.n_users, data.n_items)[train_users]
                known, chosen, selection["known_model"] = choose_known_model(pack, matrix, sessions)
                assert pack.familiarity is not None  # items that must be known, rated: base rates
                known, hyperparameters["known_calibration"], selection["known_calibration"] = choose_known_calibration(
                    known, pack.familiarity, sessions)
                pack = replace(pack, known=known)  # "watch" now ranks by the known-items model
                hyperparameters.update(chosen)
            choose_size()
            # what is served on top of the model is chosen on sessions of the questions served
            sessions = validation_sessions(pack, session_users, seed, strategy=served_strategy(pack))
            with step("choosing the exposure discount"):
                discounts, selection["exposure_discount"] = choose_exposure_discount(pack, sessions)
                hyperparameters.update(discounts)
                pack = replace(pack)
            served_sessions = {"random": sessions}
            if session_times is not None:  # dated ratings
                with step("choosing the item trend"):
                    served_sessions = dated_sessions(pack, session_users, session_times, seed)
                    pack, selection["item_trend"] = with_item_trend(pack, dataset, train_users,
                                                                    served_sessions["random"] + served_sessions["time"])
                    sessions = served_sessions["random"]  # the same sessions, each served at the end of its known part
            with step("choosing the served score"):  # the settings above, each chosen again given the others
                pack, chosen, record = with_served_score(pack, served_sessions,
                                                         training_times(dataset, train_users) if dated else None)
                selection["served_score"] = record
                hyperparameters.update(chosen)
                discount_record = selection["exposure_discount"]
                assert isinstance(discount_record, dict)  # what "less obvious picks" reads: the final grid
                discount_record["grid"] = record["discount_grid"]
                pack = replace(pack)
            if friends is not None:  # chosen against the served score, the terms friends compete with in place
                with step("choosing the social prior"):
                    served_known = pack.known_model
                    assert served_known is not None  # the served score's model, its base-rate bias re-chosen
                    social, chosen, selection["social_prior"] = choose_social_prior(
                        served_known, matrix, train_ids.tolist(), friends, sessions, served_without_friends(pack))
                    pack = replace(pack, social=social)
                    hyperparameters.update(chosen)
        else:
            choose_size()
    with step("choosing the confidence thresholds"):
        thresholds, selection["confidence"] = choose_confidence(pack, validation, seed)
        hyperparameters["confidence"] = thresholds.to_dict()
    with step("choosing the summary weights"):
        chosen, table = calibrate(pack, validation)
        hyperparameters.update(chosen)
        selection.update(table)
    if sessions:  # a "watch" list calibrated to its genres (on a tags pack: elsewhere every weight serves the same list)
        with step("choosing the calibration weight"):
            pack = replace(pack)  # serving derived again: the summary weights just changed
            chosen, selection["calibration"] = choose_calibration(pack, sessions)
            hyperparameters.update(chosen)
        with step("choosing the personas"):  # several tastes per user (prefchat.reward.personas)
            pack = replace(pack)
            merged = merged_validation_sessions(pack, session_users, seed, served_strategy(pack), max(VALIDATION_SESSION_ANSWERS),
                                                VALIDATION_SEEDS, session_times)
            personas, selection["personas"] = choose_personas(pack, sessions, merged, max(VALIDATION_SESSION_ANSWERS))
            assert pack.known is not None  # sessions are run on items that must be known, which have the model
            pack = replace(pack, known=replace(pack.known, personas=personas))
            hyperparameters.update(persona_max=personas.max_personas, persona_penalty=personas.penalty,
                                   persona_temperature=personas.temperature, persona_dimensions=personas.dimensions)
        if session_times is not None:  # returning users: when to check in, and how far contradicting answers widen the old profile
            with step("choosing the returning users' check-in"):
                pack = replace(pack)  # serving derived again: the personas just changed
                chosen, selection["checkin"] = choose_checkin(pack, session_users, session_times,
                                                              range(seed, seed + VALIDATION_SEEDS))
                hyperparameters.update(chosen)
    bar.close()
    metrics["seconds_total"] = round(time.perf_counter() - started, 2)
    save_pack(pack, out)
    return pack
