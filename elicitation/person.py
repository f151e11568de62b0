r"""Measures that see a person: what each user's own list looks like, then averaged over users.

Recall@20 averaged over users rewards a list of the head, where most held-out items are; these
measures read each list against its own user (Steck, "Calibrated recommendations", RecSys 2018;
the "personalisation" of Kaminskas and Bridge, TiiS 2016):

- **genre miscalibration** :func:`miscalibration`: how far the list's genre mix is from the mix of
  the user's own held-out items;
- **popularity lift** :func:`popularity_lift`: how much more popular the list is than those items;
- **head share** :func:`head_share`: the share of the list from the catalog's most popular items;
- **personalisation** :func:`personalisation`: how different two users' lists are.

The first three are per user (:func:`person_measures`), the last per pair of users; all four are
reported per strategy and answer count by :func:`person_report`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .evaluate import mean_ci, per_user
from .respondents import most_popular

__all__ = ["CALIBRATION_MIX", "HEAD_ITEMS", "PERSON_MEASURES", "genre_mix", "head_share",
           "miscalibration", "person_measures", "person_report", "personalisation", "popularity_lift"]

CALIBRATION_MIX = 0.01
"""The :math:`a` of :func:`miscalibration`: Steck's smoothing of the list's mix by the user's, so that a genre the list lacks costs a finite amount."""
HEAD_ITEMS = 100
"""The head of a catalog: its this many most popular items (:func:`~prefchat.elicitation.respondents.most_popular`)."""
PERSON_MEASURES = ("miscalibration", "popularity_lift", "head_share")
"""The per-user measures of :func:`person_measures`, in the order it returns them."""


def genre_mix(items: np.ndarray, genres: np.ndarray) -> np.ndarray:
    r"""The genre mix of a list of items, each item's genres sharing its weight equally.

    .. math:: p(g) = \frac{1}{|L|} \sum_{i \in L} \frac{G_{ig}}{\sum_{g'} G_{ig'}}

    over the items :math:`i` of the list :math:`L` that carry at least one genre (an item with none
    tells nothing about the mix).

    Parameters
    ----------
    items : (n,) catalog indices; negative entries (padding) are left out
    genres : (n_items, n_genres) bool or 0/1, :math:`G_{ig}` item i carries genre g

    Returns
    -------
    (n_genres,) summing to 1, or all zeros when no item carries a genre
    """
    items = np.asarray(items, dtype=np.int64)
    rows = np.asarray(genres, dtype=np.float64)[items[items >= 0]]
    counts = rows.sum(axis=1)
    rows = rows[counts > 0] / counts[counts > 0, None]
    return rows.mean(axis=0) if len(rows) else np.zeros(np.shape(genres)[1])


def miscalibration(p: np.ndarray, q: np.ndarray, a: float = CALIBRATION_MIX) -> float:
    r"""Steck's miscalibration of a list's mix ``q`` against the user's ``p`` (RecSys 2018, eq. 5):

    .. math:: C_{KL}(p, q) = \sum_g p(g) \log \frac{p(g)}{(1 - a)\, q(g) + a\, p(g)}

    0 when the list has the user's mix; at most :math:`\log(1/a)`. Genres with :math:`p(g) = 0`
    add nothing.
    """
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if not 0.0 < a <= 1.0:
        raise ValueError(f"the smoothing a must be in (0, 1], got {a!r}")
    if p.shape != q.shape:
        raise ValueError(f"the two mixes differ in shape: {p.shape} and {q.shape}")
    held = p > 0
    return float(np.sum(p[held] * np.log(p[held] / ((1.0 - a) * q[held] + a * p[held]))))


def popularity_lift(items: np.ndarray, own: np.ndarray, popularity: np.ndarray) -> float:
    r"""How much more popular a list is than the user's own items:

    .. math:: \mathrm{lift} = \frac{\overline{n}(L)}{\overline{n}(H)} - 1

    with :math:`\overline{n}` the mean popularity (training count) over the list :math:`L` and over
    the user's held-out items :math:`H`; nan when those have no popularity at all.
    """
    items, own = np.asarray(items, dtype=np.int64), np.asarray(own, dtype=np.int64)
    popularity = np.asarray(popularity, dtype=np.float64)
    base = popularity[own].mean() if len(own) else np.nan
    if not base > 0:
        return float("nan")
    return float(popularity[items[items >= 0]].mean() / base - 1.0)


def head_share(items: np.ndarray, head: np.ndarray) -> float:
    """The share of a list's items in the ``head`` (a bool mask over the catalog); nan for an empty list."""
    items = np.asarray(items, dtype=np.int64)
    items = items[items >= 0]
    return float(np.asarray(head)[items].mean()) if len(items) else float("nan")


def personalisation(lists: np.ndarray) -> float:
    r"""How different the users' lists are: one minus the mean Jaccard overlap over pairs of users,

    .. math:: P = 1 - \frac{2}{U (U - 1)} \sum_{u < v} \frac{|L_u \cap L_v|}{|L_u \cup L_v|}

    1 when no two lists share an item, 0 when everyone gets the same list; nan below two users.

    Parameters
    ----------
    lists : (n_users, k) catalog indices, negative entries (padding) left out
    """
    lists = np.asarray(lists, dtype=np.int64)
    if len(lists) < 2:
        return float("nan")
    n_items = int(lists.max()) + 1 if lists.size else 1
    member = np.zeros((len(lists), max(n_items, 1)))
    for u, items in enumerate(lists):
        member[u, items[items >= 0]] = 1.0
    shared = member @ member.T
    sizes = member.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - shared
    upper = np.triu_indices(len(lists), k=1)
    jaccard = np.divide(shared[upper], union[upper], out=np.zeros(len(upper[0])), where=union[upper] > 0)
    return float(1.0 - jaccard.mean())


def person_measures(items: np.ndarray, own: np.ndarray, genres: np.ndarray, popularity: np.ndarray,
                    head: np.ndarray) -> np.ndarray:
    """(3,) the :data:`PERSON_MEASURES` of one user's list ``items`` against their held-out ``own`` items:
    miscalibration of the genre mixes, popularity lift, head share."""
    return np.array([
        miscalibration(genre_mix(own, genres), genre_mix(items, genres)),
        popularity_lift(items, own, popularity),
        head_share(items, head),
    ])


def person_report(top: np.ndarray, strategies: Sequence[str], answers: Sequence[int], user_ids: np.ndarray,
                  own: Sequence[np.ndarray], genres: np.ndarray, popularity: np.ndarray,
                  n_head: int = HEAD_ITEMS) -> list[dict]:
    """Every measure of this module per strategy and answer count, each per user first.

    A user with several tasks (seeds) counts once: their measures are averaged over their tasks,
    then over users; personalisation is taken over the users' lists within each seed's set of
    tasks (a user's lists of two seeds are not two users) and averaged over those sets.

    Parameters
    ----------
    top : (n_strategies, n_answers, n_tasks, k) the ranked lists, -1 pads
    user_ids : (n_tasks,) the user of each task
    own : one array per task, the user's held-out items
    n_head : how many of the most popular items are the head

    Returns
    -------
    one ``{"strategy", "answers", measure: value ...}`` per strategy and answer count, values
    ``None`` where undefined
    """
    user_ids = np.asarray(user_ids)
    head = most_popular(popularity, n_head)
    users, task_user = np.unique(user_ids, return_inverse=True)
    # The n-th task of each user forms the n-th set of distinct users.
    occurrence = np.zeros(len(user_ids), dtype=np.int64)
    for u in range(len(users)):
        tasks = np.flatnonzero(task_user == u)
        occurrence[tasks] = np.arange(len(tasks))
    rows = []
    for s, strategy in enumerate(strategies):
        for a, n in enumerate(answers):
            lists = top[s, a]
            per_task = np.array([person_measures(lists[t], own[t], genres, popularity, head) for t in range(len(lists))])
            apart = np.array([personalisation(lists[occurrence == n_set]) for n_set in np.unique(occurrence)])
            measures = per_user(per_task.T, user_ids) if len(per_task) else np.full((len(PERSON_MEASURES), 0), np.nan)
            values = [*(mean_ci(row)[0] for row in measures), mean_ci(apart)[0]]
            rows.append({"strategy": strategy, "answers": int(n), "users": len(users),
                         **{name: (None if np.isnan(v) else round(float(v), 4))
                            for name, v in zip((*PERSON_MEASURES, "personalisation"), values)}})
    return rows
