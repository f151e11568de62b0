"""Ranking metrics of the benchmark: pure functions on arrays.

Every metric takes a user's scores over items and what the user really did, and returns one
number; averaging over users (and confidence intervals) is the evaluation protocol's job.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def pairwise_accuracy(scores: np.ndarray, ratings: np.ndarray) -> float:
    """Share of unequally rated pairs that ``scores`` order like ``ratings``, at threshold 0.

    .. math:: \\mathrm{acc} = \\frac{1}{|P|} \\sum_{(a,b) \\in P,\\ r_a > r_b}
              \\big[\\mathbb{1}(s_a > s_b) + \\tfrac12 \\mathbb{1}(s_a = s_b)\\big]

    Parameters
    ----------
    scores, ratings : (n,) arrays over the same items

    Returns
    -------
    float in [0, 1], or nan when every rating is equal
    """
    scores, ratings = np.asarray(scores, dtype=float), np.asarray(ratings, dtype=float)
    rated_higher = ratings[:, None] > ratings[None, :]
    n_pairs = rated_higher.sum()
    if n_pairs == 0:
        return float("nan")
    diff = scores[:, None] - scores[None, :]
    agree = (diff > 0) + 0.5 * (diff == 0)
    return float(agree[rated_higher].sum() / n_pairs)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney statistic with average ranks for ties.

    .. math:: \\mathrm{AUC} = \\frac{\\sum_{i: y_i = 1} \\mathrm{rank}(s_i) - n_+(n_+ + 1)/2}{n_+ n_-}

    Returns nan when one class is empty.
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pairwise_auc(scores: np.ndarray, ratings: np.ndarray) -> float:
    """ROC AUC of score differences over all unequally rated pairs, in both orientations.

    Each pair with :math:`r_a > r_b` contributes the positive :math:`s_a - s_b` and the
    negative :math:`s_b - s_a`; the AUC is that of :func:`roc_auc` on these differences.
    """
    scores, ratings = np.asarray(scores, dtype=float), np.asarray(ratings, dtype=float)
    a, b = np.nonzero(ratings[:, None] > ratings[None, :])
    if len(a) == 0:
        return float("nan")
    diff = scores[a] - scores[b]
    return roc_auc(np.concatenate([diff, -diff]), np.concatenate([np.ones(len(a)), np.zeros(len(a))]))


SAMPLE_STRIDE = 64
""":func:`top_k` over more than ``SAMPLE_STRIDE * k`` scores first keeps those at or above the
``k``-th best of every ``SAMPLE_STRIDE``-th score."""


def top_k(scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first, ties broken by lower index.

    ``exclude`` (indices) are never returned, nor are scores that are not finite. Over a long
    catalog the ranking reads only the scores at or above a cut :math:`t`, the ``k``-th best of
    a strided sample: at least ``k`` scores reach :math:`t`, so the top ``k`` and every score tied
    with the ``k``-th are among them and the result is the full ranking's.
    """
    cost = np.negative(np.asarray(scores, dtype=float))  # a copy, lowest first
    if exclude is not None and len(exclude):
        cost[np.asarray(exclude)] = np.inf
    cost[np.isnan(cost)] = np.inf
    index = None
    if k >= 1 and len(cost) > SAMPLE_STRIDE * k:
        sample = cost[::SAMPLE_STRIDE]
        cut = np.partition(sample, k - 1)[k - 1]
        if np.isfinite(cut):
            index = np.flatnonzero(cost <= cut)
            cost = cost[index]
    k = min(k, int(np.isfinite(cost).sum()))
    if k < 1:
        return np.empty(0, dtype=np.intp)
    if k < len(cost):
        # argpartition splits ties at the k-th score arbitrarily: keep every item above it and the
        # lowest-indexed of those equal to it, so that the result never depends on what lies below.
        threshold = cost[np.argpartition(cost, k - 1)[k - 1]]
        above = np.flatnonzero(cost < threshold)
        candidates = np.concatenate([above, np.flatnonzero(cost == threshold)[: k - above.size]])
    else:
        candidates = np.arange(len(cost))
    best = candidates[np.lexsort((candidates, cost[candidates]))][:k]
    return best if index is None else index[best]


def recall_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Share of ``relevant`` items among the first ``k`` of ``ranked``.

    .. math:: \\mathrm{Recall@}k = |\\mathrm{top}_k \\cap R| / \\min(|R|, k)

    The denominator is capped at ``k`` so a perfect ranking scores 1 even when the user has
    more than ``k`` relevant items. Returns nan when nothing is relevant.
    """
    relevant = np.asarray(relevant)
    if len(relevant) == 0:
        return float("nan")
    hits = np.isin(np.asarray(ranked)[:k], relevant).sum()
    return float(hits / min(len(relevant), k))


def recall_floor(reference: float, share: float) -> float:
    r"""The least mean Recall@k a setting may reach when it may lose at most ``share`` of ``reference``'s hits.

    .. math:: \text{floor} = (1 - \text{share}) \cdot \text{reference}

    A tolerance relative to the recall at stake means the same on any catalog: an absolute 0.01 is
    3% of a MovieLens list's hits and 11% of a Ciao list's.
    """
    return (1.0 - share) * reference


def ndcg_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Normalised discounted cumulative gain with binary relevance.

    .. math:: \\mathrm{NDCG@}k = \\frac{\\sum_{j=1}^{k} \\mathbb{1}(\\mathrm{ranked}_j \\in R) / \\log_2(j + 1)}
              {\\sum_{j=1}^{\\min(|R|, k)} 1 / \\log_2(j + 1)}
    """
    relevant = np.asarray(relevant)
    if len(relevant) == 0:
        return float("nan")
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    gains = np.isin(np.asarray(ranked)[:k], relevant)
    ideal = discounts[: min(len(relevant), k)].sum()
    return float((gains * discounts[: len(gains)]).sum() / ideal)
