r"""Calibrated lists: a top k whose genre mix is the person's own (Steck, "Calibrated recommendations", RecSys 2018).

A list ranked by relevance alone fills with the head, where most of everyone's items are, and
with the genre a user's answers lean to most. Steck's greedy re-ranking trades relevance against
the list's miscalibration to the user's genre mix :math:`p` (:func:`~prefchat.elicitation.person.miscalibration`):

.. math:: L^* = \arg\max_{L,\ |L| = n}\ (1 - \lambda) \sum_{i \in L} r_i \;-\; \lambda\, C_{KL}\big(p, q(L)\big)

built one item at a time (:func:`calibrated_order`); :math:`q(L)` is the list's
:func:`~prefchat.elicitation.person.genre_mix`. :math:`\lambda = 0` is the ranking by relevance.
The served list re-orders only its :data:`CALIBRATED_DEPTH` best candidates
(:func:`calibrated_scores`), so that the order is the same whatever k a caller asks for.
"""

from __future__ import annotations

import numpy as np

from .metrics import top_k
from .person import CALIBRATION_MIX

__all__ = ["CALIBRATED_DEPTH", "calibrated_order", "calibrated_scores", "standardised"]

CALIBRATED_DEPTH = 100
"""How many of the best-scored candidates a calibrated list re-orders (Steck re-ranks the top 100)."""


def standardised(scores: np.ndarray) -> np.ndarray:
    r"""Relevance on a scale that does not depend on the scorer: :math:`r_i = (s_i - \bar s) / \sigma_s`
    over the candidates (0 where every score is equal), so that one :math:`\lambda` means the same on any pack."""
    scores = np.asarray(scores, dtype=np.float64)
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)


def calibrated_order(relevance: np.ndarray, genres: np.ndarray, target: np.ndarray, weight: float,
                     a: float = CALIBRATION_MIX) -> np.ndarray:
    r"""Steck's greedy calibrated list of all the candidates (RecSys 2018, eq. 6): each step adds

    .. math:: i^* = \arg\max_{i \notin L}\ (1 - \lambda)\, r_i - \lambda\, C_{KL}\big(p, q(L \cup \{i\})\big)

    with :math:`q` the :func:`~prefchat.elicitation.person.genre_mix` of the list (an item's genres
    sharing its weight equally; an item with none leaves the mix as it is) and :math:`C_{KL}` the
    :func:`~prefchat.elicitation.person.miscalibration` smoothed by :math:`a`. The sum of relevance
    over :math:`L` is the same for every candidate of a step, so it drops out. Ties go to the
    lower position. Greedy, so the first n of the order are the greedy list of n: a caller's k
    never changes what comes first.

    Parameters
    ----------
    relevance : (n,) :math:`r_i` of the candidates
    genres : (n, n_genres) bool or 0/1, candidate i carries genre g
    target : (n_genres,) the user's mix :math:`p`, summing to 1 (all zeros: no mix known, the
        order is by relevance)
    weight : :math:`\lambda \in [0, 1]`

    Returns
    -------
    (n,) positions into the candidates, in list order
    """
    relevance = np.asarray(relevance, dtype=np.float64)
    p = np.asarray(target, dtype=np.float64)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"the calibration weight must be in [0, 1], got {weight!r}")
    if not 0.0 < a <= 1.0:
        raise ValueError(f"the smoothing a must be in (0, 1], got {a!r}")
    rows = np.asarray(genres, dtype=np.float64)
    if rows.shape != (len(relevance), len(p)):
        raise ValueError(f"genres of shape {rows.shape}, need ({len(relevance)}, {len(p)}): one row per candidate")
    counts = rows.sum(axis=1)
    carries = counts > 0
    rows = np.divide(rows, counts[:, None], out=np.zeros_like(rows), where=carries[:, None])
    held = p > 0
    if weight == 0.0 or not held.any():
        return np.argsort(-relevance, kind="stable")
    p, rows = p[held], rows[:, held]
    total, n_carrying = np.zeros(len(p)), 0
    value = (1.0 - weight) * relevance
    free = np.ones(len(relevance), dtype=bool)
    order = np.empty(len(relevance), dtype=np.intp)
    for step in range(len(relevance)):
        size = n_carrying + carries  # (n,) the genre-carrying items of L + {i}
        q = np.divide(total + rows, size[:, None], out=np.zeros_like(rows), where=size[:, None] > 0)
        kl = np.sum(p * np.log(p / ((1.0 - a) * q + a * p)), axis=1)  # Steck eq. 5, for every L + {i}
        gain = np.where(free, value - weight * kl, -np.inf)
        best = int(np.argmax(gain))
        order[step], free[best] = best, False
        total += rows[best]
        n_carrying += int(carries[best])
    return order


def calibrated_scores(scores: np.ndarray, genres: np.ndarray, target: np.ndarray, weight: float,
                      exclude: np.ndarray | None = None, depth: int = CALIBRATED_DEPTH) -> np.ndarray:
    r"""``scores`` with its ``depth`` best (outside ``exclude``) re-ordered into their :func:`calibrated_order`.

    The candidates' own scores are dealt out again in the calibrated order, the highest to the
    first, so that every candidate still scores above every other item and any top k of the result
    is the calibrated list's first k; the rest of the catalog keeps its scores. Relevance is the
    candidates' :func:`standardised` score. :math:`\lambda = 0` returns ``scores`` unchanged.

    Parameters
    ----------
    scores : (n_items,)
    genres : (n_items, n_genres) the catalog's genres
    target : (n_genres,) the user's mix
    weight : :math:`\lambda`
    exclude : items never recommended (what the user knows): not candidates, and not in the mix
    """
    scores = np.asarray(scores, dtype=np.float64)
    if weight == 0.0:
        return scores
    candidates = top_k(scores, depth, exclude)
    order = candidates[calibrated_order(standardised(scores[candidates]), np.asarray(genres)[candidates], target, weight)]
    served = scores.copy()
    served[order] = scores[candidates]  # top_k is best first: the j-th best score to the j-th of the order
    return served
