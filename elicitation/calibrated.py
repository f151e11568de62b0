r"""Calibrated lists: a top k whose genre mix is the person's own (Steck, "Calibrated recommendations", RecSys 2018).

A list ranked by relevance alone fills with the head, where most of everyone's items are, and
with the genre a user's answers lean to most. Steck's greedy re-ranking trades relevance against
the list's miscalibration to the user's genre mix :math:`p` (:func:`~prefchat.elicitation.person.miscalibration`):

.. math:: L^* = \arg\max_{L,\ |L| = n}\ (1 - \lambda) \sum_{i \in L} r_i \;-\; \lambda\, C_{KL}\big(p, q(L)\big)

built one item at a time (:func:`calibrated_order`); :math:`q(L)` is the list's
:func:`~prefchat.elicitation.person.genre_mix`. :math:`\lambda = 0` is the ranking by relevance.
The served list re-orders only its :data:`CALIBRATED_DEPTH` best candidates
(:func:`calibrated_scores`), so that the order is the same whatever k a caller asks for. Ten
answers are a noisy picture of a person: the mix :math:`p` is read from the scores' many best
items (their horizon), not from the handful of items the answers picked; and the relevance
:math:`r_i` carries a popularity de-biasing term, so that a list need not fill with the head.
"""

from __future__ import annotations

import numpy as np

from .metrics import top_k
from .person import CALIBRATION_MIX, genre_mix
from .personas import allotted_order

__all__ = ["CALIBRATED_DEPTH", "CALIBRATION_HORIZON", "KEPT_WITHIN", "calibrated_order", "calibrated_scores", "dealt",
           "kept_likes", "standardised"]

CALIBRATED_DEPTH = 300
"""How many of the best-scored candidates a calibrated list re-orders."""
CALIBRATION_HORIZON = 200
"""How many best-scored items the user's genre mix is read from, where the pack validated none."""
KEPT_WITHIN = 10
"""The first screen of picks (a list's default length): each like a summary names is carried by one of
them (:func:`kept_likes`)."""


def standardised(scores: np.ndarray) -> np.ndarray:
    r"""Relevance on a scale that does not depend on the scorer: :math:`r_i = (s_i - \bar s) / \sigma_s`
    over the candidates (0 where every score is equal), so that one :math:`\lambda` means the same on any pack."""
    scores = np.asarray(scores, dtype=np.float64)
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)


def calibrated_order(relevance: np.ndarray, genres: np.ndarray, target: np.ndarray, weight: float,
                     a: float = CALIBRATION_MIX, length: int | None = None) -> np.ndarray:
    r"""Steck's greedy calibrated list of all the candidates (RecSys 2018, eq. 6): each step adds

    .. math:: i^* = \arg\max_{i \notin L}\ (1 - \lambda)\, r_i - \lambda\, C_{KL}\big(p, q(L \cup \{i\})\big)

    with :math:`q` the :func:`~prefchat.elicitation.person.genre_mix` of the list (an item's genres
    sharing its weight equally; an item with none leaves the mix as it is) and :math:`C_{KL}` the
    :func:`~prefchat.elicitation.person.miscalibration` smoothed by :math:`a`. The sum of relevance
    over :math:`L` is the same for every candidate of a step, so it drops out. Ties go to the
    lower position. Greedy, so the first n of the order are the greedy list of n: a caller's k
    never changes what comes first.

    Candidates of one kind (the same genre row over the genres :math:`p` holds, and the same "carries
    a genre") make the same :math:`q(L \cup \{i\})`, so a step computes :math:`C_{KL}` once per kind
    (:func:`kinds_of`), not once per candidate, and a kind offers only its free candidates of the
    highest :math:`(1 - \lambda) r_i`: the same arithmetic on the same rows as the full argmax, hence the
    same order (``tests/elicitation/test_calibrated.py`` holds it to the straightforward step).

    Parameters
    ----------
    relevance : (n,) :math:`r_i` of the candidates
    genres : (n, n_genres) bool or 0/1, candidate i carries genre g
    target : (n_genres,) the user's mix :math:`p`, summing to 1 (all zeros: no mix known, the
        order is by relevance)
    weight : :math:`\lambda \in [0, 1]`
    length : how many of the list's first positions to build (default all): the greedy list of that length

    Returns
    -------
    (length,) positions into the candidates, in list order
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
    length = len(relevance) if length is None else min(length, len(relevance))
    if weight == 0.0 or not held.any():
        return np.argsort(-relevance, kind="stable")[:length]
    p, rows = p[held], rows[:, held]
    value = (1.0 - weight) * relevance
    kind_rows, kind_carries, kind_of, members = kinds_of(rows, carries, value)
    head = [0] * len(members)  # where each kind's free members start
    head_value = np.array([value[m[0]] for m in members])
    total, n_carrying = np.zeros(len(p)), 0
    free = np.ones(len(relevance), dtype=bool)
    order = np.empty(length, dtype=np.intp)
    for step in range(length):
        size = n_carrying + kind_carries  # (kinds,) the genre-carrying items of L + {i}
        q = np.divide(total + kind_rows, size[:, None], out=np.zeros_like(kind_rows), where=size[:, None] > 0)
        cost = weight * np.sum(p * np.log(p / ((1.0 - a) * q + a * p)), axis=1)  # Steck eq. 5, for every kind's L + {i}
        gain = head_value - cost
        top = gain.max()
        best = min(tied_member(members[u], head[u], value, free, cost[u], top) for u in np.flatnonzero(gain == top))
        order[step], free[best] = best, False
        kind = kind_of[best]
        while head[kind] < len(members[kind]) and not free[members[kind][head[kind]]]:
            head[kind] += 1
        head_value[kind] = value[members[kind][head[kind]]] if head[kind] < len(members[kind]) else -np.inf
        total += rows[best]
        n_carrying += int(carries[best])
    return order


def kinds_of(rows: np.ndarray, carries: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[int]]]:
    """The candidates by kind: the same genre row and the same "carries a genre", hence the same mix for any list.

    Returns the kinds' rows (kinds, n_genres) and carries (kinds,), each candidate's kind (n,), and each
    kind's candidates (positions) by ``value`` highest first, the lower position first among equal values.
    """
    kinds, kind_of = np.unique(np.column_stack([rows, carries]), axis=0, return_inverse=True)
    kind_of = kind_of.reshape(-1)
    by_value = np.argsort(-value, kind="stable")
    members: list[list[int]] = [[] for _ in range(len(kinds))]
    for i in by_value.tolist():
        members[kind_of[i]].append(i)
    return kinds[:, :-1], kinds[:, -1] > 0, kind_of, members


def tied_member(members: list[int], start: int, value: np.ndarray, free: np.ndarray, cost: float, top: float) -> int:
    r"""The lowest position among the free ``members[start:]`` (of one kind, by value highest first) whose gain
    :math:`v_i - \text{cost}` is ``top``: a run from the first free one, as the gain rises with :math:`v_i`."""
    tied = []
    for i in members[start:]:
        if free[i]:
            if value[i] - cost != top:
                break
            tied.append(i)
    return min(tied, default=len(value))


def calibrated_scores(scores: np.ndarray, genres: np.ndarray, popularity: np.ndarray, weight: float,
                      popularity_weight: float = 0.0, horizon: int = CALIBRATION_HORIZON, exclude: np.ndarray | None = None,
                      depth: int = CALIBRATED_DEPTH, personas: tuple[np.ndarray, np.ndarray] | None = None,
                      length: int | None = None) -> np.ndarray:
    r"""``scores`` with its ``depth`` best (outside ``exclude``) re-ordered into their :func:`calibrated_order`.

    The user's mix :math:`p` is the :func:`~prefchat.elicitation.person.genre_mix` of the ``horizon``
    best-scored items (outside ``exclude``): what the scores believe of the person over many more items
    than a list shows, where the best 20 alone crowd into the genres the answers lean to most. The
    relevance of candidate i is its :func:`standardised` score less :math:`\mu` times its standardised
    log popularity (a popularity de-biasing term, :math:`\mu` = ``popularity_weight``),

    .. math:: r_i = z(s_i) - \mu\, z\big(\log(1 + n_i)\big).

    The candidates' own scores are dealt out again in the calibrated order, the highest to the
    first (each a hair below the one before where two are equal), so that every candidate still
    scores above every other item and any top k of the result is the calibrated list's first k; the
    rest of the catalog keeps its scores. With ``personas``, the user's several tastes
    (:mod:`~prefchat.elicitation.personas`), the calibrated order is then
    :func:`~prefchat.elicitation.personas.allotted_order`: each taste gets its share of every top k.
    :math:`\lambda = \mu = 0` and one taste return ``scores`` unchanged. A caller that reads no further
    than a top ``length`` (one taste) may have only the calibrated list's first ``length`` built: the other
    candidates follow them in score order, and any top k up to ``length`` is the same as with every position.

    Parameters
    ----------
    scores : (n_items,)
    genres : (n_items, n_genres) the catalog's genres
    popularity : (n_items,) :math:`n_i`, e.g. training rating counts
    weight : :math:`\lambda`
    exclude : items never recommended (what the user knows): neither candidates nor in the mix
    personas : None (one taste), or the persona each item serves (n_items,) and the personas' shares (P,)
    """
    scores = np.asarray(scores, dtype=np.float64)
    if weight == 0.0 and popularity_weight == 0.0 and personas is None:
        return scores
    candidates = top_k(scores, depth, exclude)
    target = genre_mix(top_k(scores, horizon, exclude), genres)
    relevance = standardised(scores[candidates]) - popularity_weight * standardised(np.log1p(np.asarray(popularity)[candidates]))
    if personas is not None:  # the tastes' shares are dealt over the whole calibrated order
        length = None
    order = candidates[calibrated_order(relevance, np.asarray(genres)[candidates], target, weight, length=length)]
    order = np.concatenate([order, candidates[~np.isin(candidates, order)]])  # with every position: no change
    if personas is not None:
        labels, shares = personas
        order = allotted_order(order, np.asarray(labels)[order], shares)
    served = scores.copy()
    served[order] = dealt(scores[candidates].tolist())  # top_k is best first: the j-th best score to the j-th of the order
    return served


def dealt(values: list[float]) -> list[float]:
    """``values``, best first, made strictly decreasing: one equal to or above the one before it is put a hair
    below it, so that items dealt them keep the order they are dealt in."""
    values = list(values)
    for j in range(1, len(values)):
        if values[j] >= values[j - 1]:
            values[j] = float(np.nextafter(values[j - 1], -np.inf))
    return values


def kept_likes(scores: np.ndarray, carriers: np.ndarray, within: int = KEPT_WITHIN,
               exclude: np.ndarray | None = None) -> np.ndarray:
    r"""``scores`` re-dealt so that each like a summary names has a carrier among the first ``within`` items.

    ``carriers`` (n_items, L): item i carries the l-th like, strongest first. For each like in turn whose
    carriers all lie below the first ``within`` items (outside ``exclude``), its best-scored carrier takes
    the last of those places whose item is not the only carrier of a like kept so far (those the first
    items held from the start among them), and that item
    moves to just below them (one moved down for an earlier like comes back when it is a later like's only
    carrier); the rest of the order is unchanged. So any top k from ``within`` on holds a
    carrier of every like that has one, an order that already does is returned as it is, and a like
    without a carrier, or without a place left, is passed over. "Enjoys: horror" over a list without
    a horror film would be a word the list does not keep.
    """
    scores = np.asarray(scores, dtype=np.float64)
    carriers = np.asarray(carriers, dtype=bool)
    free = np.ones(len(scores), dtype=bool)
    if exclude is not None:
        free[np.asarray(exclude, dtype=np.intp)] = False
    first = [int(i) for i in top_k(scores, within, exclude)]
    moved_down: list[int] = []
    kept = [like for like in range(carriers.shape[1]) if carriers[first, like].any()]  # held already: never given up
    for like in (like for like in range(carriers.shape[1]) if like not in kept):
        if carriers[first, like].any():  # brought in by an earlier like's carrier
            kept.append(like)
            continue
        found = np.flatnonzero(carriers[:, like] & free)
        places = [p for p in range(len(first) - 1, -1, -1)
                  if all(carriers[[i for q, i in enumerate(first) if q != p], other].any() for other in kept)]
        if not found.size or not places:
            continue
        best = int(found[np.argmax(scores[found])])
        moved_down.append(first.pop(places[0]))
        if best in moved_down:  # moved down for an earlier like, and the only carrier of this one: back on screen
            moved_down.remove(best)
        first.append(best)
        kept.append(like)
    if not moved_down:
        return scores
    old = top_k(scores, within, exclude)
    served = scores.copy()
    served[first + moved_down] = dealt(scores[old].tolist() + [float(scores[old[-1]])] * len(moved_down))
    return served
