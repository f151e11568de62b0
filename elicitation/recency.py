r"""Recent popularity: the items rated most in a window of time before a moment, the benchmark's time-aware peer.

``popularity`` ranks by how many training users ever rated an item, the future included; a
person's future is better foreseen by what people were rating just before it. Given the
training ratings' items and timestamps, the score of item :math:`i` at the moment :math:`t`
(the end of what a test user has told, see :attr:`~prefchat.elicitation.evaluate.Task.as_of`) is

.. math:: s_i(t) = \#\{r : i_r = i,\ t - w < t_r \le t\}
          + \frac{\#\{r : i_r = i,\ t_r \le t\}}{1 + \#\{r : t_r \le t\}},

the ratings of the window :math:`w` before :math:`t`, ties (items no one rated in the window)
broken by the count of all ratings up to :math:`t` (the second term is below 1, so it only
orders items level on the first). Nothing rated after :math:`t` counts. :math:`w = \infty` is
the popularity known at :math:`t`.

The window is chosen by code: :func:`choose_window` tries fractions of the training ratings'
time span (:data:`WINDOW_FRACTIONS`, unit-free, so any timestamp unit works) on validation users
split as the test users are, and keeps the best Recall@k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .metrics import recall_at_k, top_k

__all__ = ["WINDOW_FRACTIONS", "RecentPopularity", "choose_window", "windows"]

WINDOW_FRACTIONS = (*(2.0**-j for j in range(10, 0, -1)), np.inf)
"""The windows :func:`windows` offers, as fractions of the training ratings' time span: 1/1024 of it
(about 8 days of ml-latest-small's 22 years) up to half of it, and all time (:math:`w = \\infty`)."""


@dataclass(frozen=True, eq=False)
class RecentPopularity:
    """Training ratings' items in time order, and the window :math:`w` (module docstring).

    Attributes
    ----------
    items : (n_ratings,) int array, the rated items, ordered by ``times``
    times : (n_ratings,) float array, ascending
    n_items : catalog size
    window : :math:`w`, in the timestamps' unit; ``inf`` for all time
    """

    items: np.ndarray
    times: np.ndarray
    n_items: int
    window: float

    @classmethod
    def fit(cls, items: np.ndarray, times: np.ndarray, n_items: int, window: float) -> RecentPopularity:
        """From ratings in any order: ``items`` and ``times`` (n_ratings,) arrays of one length."""
        items, times = np.asarray(items, dtype=np.intp), np.asarray(times, dtype=float)
        if items.shape != times.shape or items.ndim != 1:
            raise ValueError(f"items {items.shape} and times {times.shape} must be 1-D of one length")
        if not window > 0:
            raise ValueError(f"the window must be positive, got {window!r}")
        if items.size and (items.min() < 0 or items.max() >= n_items):
            raise ValueError(f"an item index is outside 0..{n_items - 1}")
        order = np.argsort(times, kind="stable")
        return cls(items[order], times[order], int(n_items), float(window))

    def scores(self, as_of: float) -> np.ndarray:
        """:math:`s(t)` at ``t = as_of`` (module docstring): (n_items,) float array."""
        end = int(np.searchsorted(self.times, as_of, side="right"))
        start = int(np.searchsorted(self.times, as_of - self.window, side="right")) if np.isfinite(self.window) else 0
        recent = np.bincount(self.items[start:end], minlength=self.n_items).astype(float)
        known = np.bincount(self.items[:end], minlength=self.n_items)
        return recent + known / (1.0 + end)


def windows(times: np.ndarray) -> list[float]:
    """The windows to try: :data:`WINDOW_FRACTIONS` of the span of ``times`` (max - min); all time only when it is 0."""
    span = float(np.ptp(times)) if np.size(times) else 0.0
    return [span * fraction if np.isfinite(fraction) else np.inf for fraction in WINDOW_FRACTIONS
            if span > 0 or not np.isfinite(fraction)]


def choose_window(items: np.ndarray, times: np.ndarray, n_items: int,
                  users: Sequence[tuple[float, np.ndarray, np.ndarray]], k: int = 20) -> tuple[RecentPopularity, list[dict]]:
    """The :class:`RecentPopularity` of the window (of :func:`windows`) with the best mean Recall@k on ``users``.

    Parameters
    ----------
    items, times : the training ratings
    n_items : catalog size
    users : (as_of, query items, eval items) of each validation user; the catalog is ranked at
        ``as_of`` without the query items
    k : the cut-off

    Returns
    -------
    the chosen model (the shortest window among equals), and one ``{"window", "recall@k"}`` per window tried
    """
    if not users:
        raise ValueError("choose_window needs validation users")
    table, models = [], []
    for window in windows(times):
        model = RecentPopularity.fit(items, times, n_items, window)
        recalls = [recall_at_k(top_k(model.scores(as_of), k, exclude=query), held_out, k) for as_of, query, held_out in users]
        table.append({"window": window if np.isfinite(window) else None, f"recall@{k}": float(np.nanmean(recalls))})
        models.append(model)
    best = max(range(len(table)), key=lambda c: (table[c][f"recall@{k}"], -c))
    return models[best], table
