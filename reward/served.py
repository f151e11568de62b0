r"""The served "watch" score's settings, chosen together on validation users' served sessions.

A pack whose items must be known serves (:mod:`~prefchat.reward.scoring`)

.. math:: s_j = \log \phi_j^\top m + \frac{c}{c + n} \big(\log f_j - \log \phi_j^\top \mu\big)
          - \gamma \operatorname{logit} f_j + \beta\, b_j(t) - \delta\, o_j,

the known-items model with its fading base-rate bias (:mod:`~prefchat.elicitation.known`, :math:`c`),
the exposure discount :math:`\gamma`, the item trend (:mod:`~prefchat.elicitation.trend`, window
:math:`w` and :math:`\beta`) and the passed-over term (:mod:`~prefchat.elicitation.passed`, :math:`\delta`).
Chosen one at a time, each given only the earlier ones, the pieces pull against each other: the
base-rate bias, chosen before the trend existed, brings back all-time popularity that the trend
replaces with what is popular now. :func:`choose_served_score` makes the choices by coordinate
ascent instead: each setting re-chosen given all the others, round after round, until a round changes
nothing (at most :data:`SERVED_ROUNDS`).

- :math:`c`, :math:`(w, \beta)` and :math:`\delta` maximise the mean Recall@20 of the validation
  sessions (:func:`~prefchat.reward.build.validation_sessions`: split at random and, on dated data,
  in time) ranked after each of :data:`SERVED_ANSWERS` answers at the end of the user's known part;
  among equals the smaller weight (0 first), so a term that does not help is not served.
- The trend serves both splits or neither: a :math:`(w, \beta)` whose Recall@20 on either split's
  sessions falls more than ``trend_tolerance`` below the same score without the trend is not tried.
  A mean over both splits would otherwise buy the time split's gain with the random split's loss:
  on a catalog whose users rate over years (Ciao), what was popular in the months before a
  user's last known rating predicts their next ratings and misses the earlier half of their history.
- :math:`\gamma` keeps its own rule (:func:`~prefchat.reward.serving.strongest_discount`): the lists
  with the least of the catalog's head (its 100 most popular items, what a person sees as "what
  everyone has seen") that keep all but :data:`~prefchat.reward.build.RECALL_TOLERANCE`'s share of
  the best Recall@20 the search has found (:func:`~prefchat.elicitation.metrics.recall_floor`: a
  tolerance relative to the recall at stake, the same rule on a catalog whose lists hit a tenth as
  often). Read against the recall without a discount given the others, the tolerance
  was spent again every round: the trend grew to make up for a stronger discount, and the next round
  allowed a stronger one still (on Ciao the discount climbed to the grid's end, 1.5, and validation
  recall fell from 0.0945 to 0.0867, eight tenths of a point past the absolute 0.01 then allowed once).

:math:`\beta` and :math:`\delta` are tried as multiples of the validation scores' median standard
deviation (as :func:`~prefchat.elicitation.trend.choose_trend` does), so the grids fit any score's scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from ..elicitation.evaluate import Task
from ..elicitation.known import KnownModel
from ..elicitation.metrics import recall_at_k, recall_floor, top_k
from ..elicitation.onboarding import Session, known_items
from ..elicitation.passed import passed_over
from ..elicitation.recency import RecentPopularity, windows
from ..elicitation.respondents import RankingTargets
from ..elicitation.trend import TREND_WEIGHTS, ItemTrend, base_rate_term
from .pack import Pack
from .serving import strongest_discount

__all__ = ["PASSED_OVER_WEIGHTS", "SERVED_ANSWERS", "SERVED_ROUNDS", "ServedRows", "ServedSettings", "TrendTerms",
           "choose_served_score", "served_pack"]

SERVED_ANSWERS = (0, 5, 10)
"""The answer counts a validation session is ranked at: none (the catalog as a new user first sees
it) and the served stop rule's range."""
SERVED_ROUNDS = 4
"""At most this many rounds of coordinate ascent."""
PASSED_OVER_WEIGHTS = (0.0, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0)
""":math:`\\delta` tried, in units of the validation scores' median standard deviation."""


@dataclass(frozen=True)
class ServedSettings:
    """One point of the search: :math:`c`, the window :math:`w` (inf: all time; None: no trend), :math:`\\beta`,
    :math:`\\gamma` and :math:`\\delta` of the module docstring."""

    calibration: float
    window: float | None
    beta: float
    discount: float
    delta: float


@dataclass(frozen=True, eq=False)
class ServedRows:
    r"""The validation rankings the settings are scored on, each piece of the score kept apart.

    Attributes
    ----------
    model : (n_rows, n_items) :math:`\log \phi^\top m` of each row (the known-items model without its bias)
    bias : (n_items,) :math:`\log f - \log \phi^\top \mu`
    counts : (n_rows,) :math:`n`, the items each row's answers show the user knows
    logit : (n_items,) :math:`\operatorname{logit} f`
    passed : per row, the (items, times) passed over
    tasks : per row, the index of its task; ``as_of`` per task (None: undated)
    exclude, relevant : per row, what the ranking leaves out and the held-out items
    head : (n_items,) bool, the catalog's 20% most popular items (long-tail share)
    popular : (n_items,) bool, its 100 most popular (:attr:`~prefchat.reward.serving.Serving.head`: head share)
    splits : (n_rows,) the index of each row's split in ``split_names`` (how its task's ratings were split)
    """

    model: np.ndarray
    bias: np.ndarray
    counts: np.ndarray
    logit: np.ndarray
    passed: list[tuple[np.ndarray, np.ndarray]]
    tasks: np.ndarray
    as_of: list[float | None]
    exclude: list[np.ndarray]
    relevant: list[np.ndarray]
    head: np.ndarray
    popular: np.ndarray
    splits: np.ndarray
    split_names: tuple[str, ...] = ("random",)

    @classmethod
    def of(cls, model: KnownModel, base_rates: np.ndarray, sessions: Sequence[tuple[Task, Session]], popular: np.ndarray,
           splits: Sequence[str] | None = None, answers: Sequence[int] = SERVED_ANSWERS) -> ServedRows:
        """Each of ``sessions`` after each of ``answers`` clicks (fewer where the session asked fewer);
        ``popular`` the catalog's head whose share of a list is read; ``splits`` each session's split
        (default: all "random")."""
        plain = replace(model, base_rates=base_rates, calibration=0.0)
        split_of = ["random"] * len(sessions) if splits is None else list(splits)
        assert len(split_of) == len(sessions), "one split per session"
        names = tuple(dict.fromkeys(split_of))
        sets, passed, tasks, exclude, relevant, row_splits = [], [], [], [], [], []
        head = None
        for t, (task, session) in enumerate(sessions):
            assert isinstance(task.targets, RankingTargets), "watch tasks only"
            head = task.targets.head
            for n in answers:
                given = session.posteriors[min(n, len(session.questions))].answers
                counts = passed_over(given, len(base_rates))
                sets.append(known_items(given))
                passed.append((np.flatnonzero(counts), counts[counts > 0]))
                tasks.append(t)
                exclude.append(np.asarray(task.targets.exclude, dtype=np.intp))
                relevant.append(np.asarray(task.targets.relevant, dtype=np.intp))
                row_splits.append(names.index(split_of[t]))
        rates = np.asarray(base_rates, dtype=np.float64)
        with threadpool_limits(limits=1):
            scores = plain.scores_of(sets)
        calibrated = replace(model, base_rates=rates, calibration=1.0)
        return cls(scores, calibrated._base_rate_bias, np.array([len(s) for s in sets], dtype=float),
                   np.log(rates) - np.log1p(-rates), passed, np.array(tasks, dtype=np.intp),
                   [task.as_of for task, _ in sessions], exclude, relevant,
                   np.zeros(len(rates), bool) if head is None else np.asarray(head, dtype=bool),
                   np.asarray(popular, dtype=bool), np.array(row_splits, dtype=np.intp), names or ("random",))

    def spread(self, calibration: float) -> float:
        """The median over rows of the standard deviation of the finite scores without time (at ``calibration``)."""
        weights = calibration / (calibration + self.counts) if calibration else np.zeros(len(self.counts))
        spreads = []
        for r in range(len(self.counts)):
            row = self.model[r] + weights[r] * self.bias
            spreads.append(np.std(row[np.isfinite(row)]))
        return float(np.median(spreads))

    def score(self, r: int, settings: ServedSettings, trend: np.ndarray | None) -> np.ndarray:
        """(n_items,) row ``r``'s served score at ``settings``, ``trend`` its :math:`b(t)` (None: no trend)."""
        c = settings.calibration
        row = self.model[r].astype(np.float64)
        if c:
            row = row + (c / (c + self.counts[r])) * self.bias
        if settings.discount:
            row = row - settings.discount * self.logit
        if trend is not None and settings.beta:
            row = row + settings.beta * trend
        if settings.delta:
            items, times = self.passed[r]
            row[items] -= settings.delta * times
        return row

    def judged(self, settings: ServedSettings, trends: TrendTerms | None, k: int = 20) -> Judgement:
        """Mean Recall@k, long-tail share@k and head share@k over the rows at ``settings``, and the mean
        Recall@k of each split's rows; ``trends``: :math:`b(t)` by window."""
        recalls, tails, heads = [], [], []
        terms = None if trends is None or settings.window is None else trends[settings.window]
        for r in range(len(self.counts)):
            ranked = top_k(self.score(r, settings, None if terms is None else terms[self.tasks[r]]), k, self.exclude[r])
            recalls.append(recall_at_k(ranked, self.relevant[r], k))
            tails.append(float(np.mean(~self.head[ranked])) if len(ranked) else np.nan)
            heads.append(float(np.mean(self.popular[ranked])) if len(ranked) else np.nan)
        by_split = tuple(float(np.nanmean(np.asarray(recalls)[self.splits == s])) for s in range(len(self.split_names)))
        return Judgement(float(np.nanmean(recalls)), float(np.nanmean(tails)), float(np.nanmean(heads)), by_split)


class Judgement(NamedTuple):
    """What :meth:`ServedRows.judged` reads of a setting's lists: its means over all rows, and its
    Recall@20 on each split's rows (in :attr:`ServedRows.split_names` order)."""

    recall: float
    tail: float
    head: float
    by_split: tuple[float, ...]


class TrendTerms:
    """:math:`b(t)` of each window of :func:`~prefchat.elicitation.recency.windows` at each task's moment,
    (n_tasks, n_items) per window, the last window asked for kept (the search asks window by window)."""

    def __init__(self, items: np.ndarray, times: np.ndarray, n_items: int, as_of: Sequence[float | None]):
        self.end = float(np.max(times))
        self.as_of = as_of
        self.fits = {window: RecentPopularity.fit(items, times, n_items, window) for window in windows(times)}
        self._kept: tuple[float, np.ndarray] | None = None

    def __getitem__(self, window: float) -> np.ndarray:
        if self._kept is None or self._kept[0] != window:
            recent = self.fits[window]
            terms = np.stack([base_rate_term(recent.scores(self.end if t is None else min(float(t), self.end)))
                              for t in self.as_of]).astype(np.float32)
            self._kept = (window, terms)
        return self._kept[1]

    def __iter__(self):
        return iter(self.fits)


def choose_served_score(rows: ServedRows, start: ServedSettings, calibration_grid: Sequence[float],
                        discount_grid: Sequence[float], tolerance: float,
                        trends: TrendTerms | None = None, trend_tolerance: float = 0.0) -> tuple[ServedSettings, dict]:
    """Coordinate ascent over the served score's settings from ``start`` (module docstring).

    Parameters
    ----------
    rows : the validation rankings
    start : the settings chosen one at a time (the first point; its window None where there is no trend)
    calibration_grid : the counts :math:`c` to try
    discount_grid : the discounts :math:`\\gamma` to try (the first: none)
    tolerance : the share of the best Recall@20 the search has found that the discount may cost
        (:func:`~prefchat.elicitation.metrics.recall_floor`)
    trends : the trend's terms, or None: no trend
    trend_tolerance : the share of its Recall@20 the trend may cost any one split against no trend

    Returns
    -------
    the settings chosen, and the record: ``{"start", "chosen", "spread", "rounds": [{coordinate: grid}], "recall@20", ...}``
    """
    spread = rows.spread(start.calibration)
    cache: dict[ServedSettings, Judgement] = {}

    def judged(settings: ServedSettings) -> Judgement:
        if settings not in cache:
            cache[settings] = rows.judged(settings, trends)
        return cache[settings]

    def best_of(candidates: list[tuple[ServedSettings, float]]) -> ServedSettings:
        """The best recall; the smaller weight, then the earlier candidate, among equals."""
        return max(enumerate(candidates), key=lambda c: (judged(c[1][0]).recall, -c[1][1], -c[0]))[1][0]

    def serves_every_split(settings: ServedSettings, timeless: ServedSettings) -> bool:
        """Whether ``settings`` keeps each split's Recall@20 within ``trend_tolerance``'s share of ``timeless``'s."""
        floors = judged(timeless).by_split
        return all(r >= recall_floor(floor, trend_tolerance) for r, floor in zip(judged(settings).by_split, floors))

    def row(settings: ServedSettings, **extra) -> dict:
        found = judged(settings)
        window = settings.window
        return {**extra, "window": None if window is None or not np.isfinite(window) else window,
                "recall@20": found.recall, "long_tail_share@20": found.tail, "head_share@20": found.head,
                "recall@20_by_split": dict(zip(rows.split_names, found.by_split))}

    current, rounds = start, []
    with threadpool_limits(limits=1):
        for _ in range(SERVED_ROUNDS):
            before = current
            record: dict[str, Any] = {}
            if trends is not None:
                timeless = replace(current, window=None, beta=0.0)
                options = [(replace(current, window=w, beta=weight * spread), weight) for w in trends for weight in TREND_WEIGHTS]
                current = best_of([(s, w) for s, w in options if serves_every_split(s, timeless)] or [(timeless, 0.0)])
                record["trend"] = [row(s, weight=weight, beta=s.beta, serves_every_split=serves_every_split(s, timeless))
                                   for s, weight in options]
            options = [(replace(current, calibration=float(c)), float(c)) for c in calibration_grid]
            current = best_of(options)
            record["calibration"] = [row(s, calibration=s.calibration) for s, _ in options]
            options = [(replace(current, delta=weight * spread), weight) for weight in PASSED_OVER_WEIGHTS]
            current = best_of(options)
            record["passed_over"] = [row(s, weight=weight, delta=s.delta) for s, weight in options]
            grid = []
            for d in discount_grid:
                found = judged(replace(current, discount=float(d)))
                grid.append({"discount": float(d), "recall@20": found.recall, "long_tail_share@20": found.tail,
                             "head_share@20": found.head})
            floor = recall_floor(max(found.recall for found in cache.values()), tolerance)  # the best found: never spent twice
            current = replace(current, discount=strongest_discount(grid, floor))
            record["discount"] = grid
            record["recall_floor"] = floor
            rounds.append(record)
            if current == before:
                break

    def named(settings: ServedSettings) -> dict:
        return row(settings, known_calibration=settings.calibration, beta=settings.beta, exposure_discount=settings.discount,
                   passed_over_weight=settings.delta)

    return current, {"start": named(start), "chosen": named(current), "spread": spread, "answers": list(SERVED_ANSWERS),
                     "rows": len(rows.counts), "trend_tolerance": trend_tolerance, "rounds": rounds,
                     "discount_grid": rounds[-1]["discount"]}


def served_pack(pack: Pack, settings: ServedSettings, trends: TrendTerms | None) -> Pack:
    """``pack`` serving ``settings``: its known-items model's :math:`c` and its item trend (none without
    ``trends``); :math:`\\gamma` and :math:`\\delta` are hyperparameters the caller records."""
    assert pack.known is not None
    known = replace(pack.known, calibration=settings.calibration)
    trend = None if trends is None or settings.window is None else ItemTrend(trends.fits[settings.window], settings.beta)
    return replace(pack, known=known, trend=trend)
