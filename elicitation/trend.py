r"""Item base rates that drift: what is popular at the moment of a session, in the served "watch" score.

A pack's "watch" score :math:`c(i)` (:mod:`~prefchat.reward.scoring`) knows how often the training
users ever rated an item, not when. As in timeSVD++'s drifting item biases (Koren, KDD 2009), the
served score adds an item term of the session's moment :math:`t`,

.. math:: \mathrm{score}_t(i) = c(i) + \beta\, b_i(t), \qquad
          b_i(t) = \frac{z_i(t) - \bar z(t)}{\operatorname{sd} z(t)}, \quad z_i(t) = \log(1 + s_i(t)),

with :math:`s_i(t)` the :class:`~prefchat.elicitation.recency.RecentPopularity` score of the
training ratings in the window :math:`w` before :math:`t` (all-time counts up to :math:`t` break
the ties), so :math:`b(t)` is unit-free: the catalog's spread of log recent counts, standardised.
A moment after the training data's end (any live session) reads the last window the pack knows:
:math:`t \mapsto \min(t, t_\text{end})`. :math:`\beta = 0` is the score without time.

The window and :math:`\beta` are chosen by code (:func:`choose_trend`) on validation users' served
sessions, each ranked at the end of that user's known part; :math:`\beta` is tried as multiples
(:data:`TREND_WEIGHTS`) of the validation scores' own spread, so the grid fits any score's scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .calibrated import standardised
from .metrics import recall_at_k, top_k
from .recency import RecentPopularity, windows

__all__ = ["TREND_WEIGHTS", "ItemTrend", "TrendUser", "base_rate_term", "choose_trend"]

TREND_WEIGHTS = (0.0, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0, 4.0, 8.0, 16.0)
""":math:`\\beta` tried by :func:`choose_trend`, in units of the validation scores' median standard deviation:
from none to a term that orders the catalog by itself, the scores only breaking its ties (a score's
spread is one unit, the standardised :math:`b(t)`'s too). Ciao chose the old grid's end, 2."""


def base_rate_term(recent: np.ndarray) -> np.ndarray:
    r""":math:`b(t)` of the module docstring from :math:`s(t)`, ``recent`` (n_items,) >= 0: the
    :func:`~prefchat.elicitation.calibrated.standardised` :math:`\log(1 + s_i)`; zeros where every item has the same count."""
    return standardised(np.log1p(np.asarray(recent, dtype=float)))


@dataclass(frozen=True, eq=False)
class ItemTrend:
    """The drifting item term of a pack's served "watch" score: :math:`\\beta\\, b_i(t)` (module docstring).

    Attributes
    ----------
    recent : the training ratings' items and times and the window :math:`w`
    beta : :math:`\\beta`, on the served score's scale; 0 serves the score without time
    """

    recent: RecentPopularity
    beta: float

    @property
    def end(self) -> float:
        """:math:`t_\\text{end}`: the latest training rating's time (-inf with none)."""
        return float(self.recent.times[-1]) if self.recent.times.size else -np.inf

    def term(self, as_of: float | None = None) -> np.ndarray:
        """(n_items,) :math:`\\beta\\, b(\\min(t, t_\\text{end}))` at ``t = as_of``; None: at :math:`t_\\text{end}`."""
        moment = self.end if as_of is None else min(float(as_of), self.end)
        return self.beta * base_rate_term(self.recent.scores(moment))


@dataclass(frozen=True, eq=False)
class TrendUser:
    """A validation session's ranking: its served ``scores`` (n_items,) without time, the moment
    ``as_of`` it is served at, the items it leaves out and the held-out ``relevant`` ones."""

    as_of: float
    scores: np.ndarray
    exclude: np.ndarray
    relevant: np.ndarray


def choose_trend(items: np.ndarray, times: np.ndarray, n_items: int, users: Sequence[TrendUser],
                 k: int = 20) -> tuple[ItemTrend, list[dict]]:
    """The :class:`ItemTrend` whose window (of :func:`~prefchat.elicitation.recency.windows`) and
    :math:`\\beta` (:data:`TREND_WEIGHTS` times the median standard deviation of the users' scores)
    give the best mean Recall@k on ``users``; the smaller weight, then the shorter window, among equals.

    Parameters
    ----------
    items, times : the training ratings' items and timestamps
    n_items : catalog size
    users : the validation sessions' rankings
    k : the cut-off

    Returns
    -------
    the chosen trend, and one ``{"window", "weight", "beta", "recall@k"}`` per setting tried
    """
    if not users:
        raise ValueError("choose_trend needs validation users")
    spread = float(np.median([np.std(user.scores[np.isfinite(user.scores)]) for user in users]))
    table: list[dict] = []
    trends, weights = [], []
    for window in windows(times):
        recent = RecentPopularity.fit(items, times, n_items, window)
        terms = [base_rate_term(recent.scores(user.as_of)) for user in users]
        for weight in TREND_WEIGHTS:
            beta = weight * spread
            recalls = [recall_at_k(top_k(user.scores + beta * term, k, exclude=user.exclude), user.relevant, k)
                       for user, term in zip(users, terms)]
            table.append({"window": window if np.isfinite(window) else None, "weight": weight, "beta": beta,
                          f"recall@{k}": float(np.nanmean(recalls))})
            trends.append(ItemTrend(recent, beta))
            weights.append(weight)
    best = max(range(len(table)), key=lambda c: (table[c][f"recall@{k}"], -weights[c], -c))
    return trends[best], table
