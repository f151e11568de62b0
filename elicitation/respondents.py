r"""Simulated respondents and the targets their answers are judged against.

The benchmark (:mod:`~prefchat.elicitation.evaluate`) runs an onboarding session against a
:class:`Respondent`, which answers questions the way a real user would, then scores the resulting
item scores against :class:`Targets` the respondent never saw. A new evaluation protocol plugs in
by adding a respondent and its targets; the session loop stays the same.

Held-out ratings give the two protocols here. A test user's rated items are split into a QUERY
half, the only ratings :class:`RatingsRespondent` knows, and an EVAL half held by the targets:

- ``prefer`` ("which do you prefer?"): of two items the higher-rated wins, equal ratings are a
  tie, and an item without a QUERY rating makes the question a "don't know";
- ``watch`` ("which would you rather watch?"): as ``prefer``, except that a rated item beats an
  unrated one ("I would rather watch the one I have seen"); two unrated items are a "don't know".

They are named as the session objectives they simulate (:data:`prefchat.reward.serving.OBJECTIVES`,
which this layer cannot import): "explicit" and "implicit" are the command line's old names for
them (``prefchat eval --protocol``), accepted as aliases there only.

An EVAL item asked about is unrated to the respondent, so the EVAL half stays hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .metrics import ndcg_at_k, pairwise_accuracy, pairwise_auc, recall_at_k, top_k
from .posterior import KWayChoice
from .selection import Question

__all__ = [
    "PROTOCOLS",
    "DescriptorRespondent",
    "RandomRespondent",
    "RankingTargets",
    "RatingTargets",
    "RatingsRespondent",
    "Respondent",
    "SharedAccount",
    "SharedAccountTargets",
    "Targets",
    "head_items",
    "most_popular",
]

PROTOCOLS = ("prefer", "watch")
"""The ratings protocols, named as the objectives whose answers they simulate (module docstring)."""


class Respondent(Protocol):
    """Who answers an evaluation session."""

    def answer(self, question: Question) -> str | int | KWayChoice | None:
        """"a", "b", "tie" or "skip" for a pair; for k options, the item picked (or the k-way answer
        itself, when it compares fewer options than were shown), or None for "don't know"."""

    def evidence(self, n_items: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everything the respondent could tell, as pairwise answers ``(items_a, items_b, labels)``.

        The ``oracle`` strategy fits these all at once: the ceiling of what questions could learn.
        """


class Targets(Protocol):
    """What a session's item scores are judged against: the names of the metrics, and a scorer."""

    @property
    def metrics(self) -> tuple[str, ...]:
        """The names of the metrics, the keys of what a call returns (read-only: frozen dataclasses hold it)."""

    def __call__(self, scores: np.ndarray) -> dict[str, float]:
        """Metric values for item ``scores`` of shape (n_items,); nan where a metric is undefined."""


@dataclass(frozen=True, eq=False)
class RatingsRespondent:
    """A user who answers from their QUERY ratings only.

    Parameters
    ----------
    query_items : (n,) int array, distinct item indices
    query_ratings : (n,) float array, their ratings; higher is better
    protocol : {"prefer", "watch"}, what an unrated item means (see the module docstring)
    max_pairs : int, cap on the explicit pairs :meth:`evidence` returns
    """

    query_items: np.ndarray
    query_ratings: np.ndarray
    protocol: str
    max_pairs: int = 3000
    _rating: dict[int, float] = field(init=False, repr=False)

    def __post_init__(self):
        items = np.asarray(self.query_items, dtype=np.intp)
        ratings = np.asarray(self.query_ratings, dtype=float)
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if items.ndim != 1 or items.shape != ratings.shape:
            raise ValueError(f"query_items {items.shape} and query_ratings {ratings.shape} must be 1-D of one length")
        if np.unique(items).size != items.size:
            raise ValueError("query_items lists an item more than once")
        object.__setattr__(self, "query_items", items)
        object.__setattr__(self, "query_ratings", ratings)
        object.__setattr__(self, "_rating", dict(zip(items.tolist(), ratings.tolist())))

    def rating(self, item: int) -> float | None:
        """The QUERY rating of ``item``, None if the respondent has not rated it."""
        return self._rating.get(item)

    def answer(self, question: Question) -> str | int | KWayChoice | None:
        """Answer a pair by :meth:`prefer`; k options by the highest rated (first shown among equals).

        A k-way question with no rated option is a "don't know" (None) in both protocols. With some
        rated, the best of them is picked: in the watch protocol it also beats every unrated
        one (the item id); in the prefer protocol it beats the rated options only, so the
        answer is the :class:`~prefchat.elicitation.posterior.KWayChoice` among them (None when
        just one is rated: nothing is compared).
        """
        if question.is_pair:
            return self.prefer(*question.items)
        ratings = [self.rating(item) for item in question.items]
        rated = [(item, rating) for item, rating in zip(question.items, ratings) if rating is not None]
        if not rated:
            return None
        best = question.items[ratings.index(max(rating for _, rating in rated))]
        if self.protocol == "watch":
            return best
        return KWayChoice(tuple(item for item, _ in rated), best) if len(rated) > 1 else None

    def prefer(self, item_a: int, item_b: int) -> str:
        """"a", "b", "tie" or "skip" for the pair (item_a, item_b)."""
        a, b = self.rating(item_a), self.rating(item_b)
        if a is None and b is None:
            return "skip"
        if a is None or b is None:
            if self.protocol == "prefer":
                return "skip"
            return "b" if a is None else "a"
        return "a" if a > b else "b" if b > a else "tie"

    def evidence(self, n_items: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All the QUERY information as pairs won by ``items_a`` (every label is 1).

        Explicit: every unequally rated QUERY pair, higher-rated first, at most ``max_pairs`` of
        them drawn at random. Implicit: each QUERY item against one distinct item drawn from those
        without a QUERY rating (fewer when the catalog runs out).
        """
        if self.protocol == "prefer":
            winner, loser = np.nonzero(self.query_ratings[:, None] > self.query_ratings[None, :])
            if winner.size > self.max_pairs:
                keep = rng.choice(winner.size, self.max_pairs, replace=False)
                winner, loser = winner[keep], loser[keep]
            items_a, items_b = self.query_items[winner], self.query_items[loser]
        else:
            unrated = np.setdiff1d(np.arange(n_items), self.query_items)
            items_b = rng.choice(unrated, min(unrated.size, self.query_items.size), replace=False)
            items_a = rng.permutation(self.query_items)[: items_b.size]
        return items_a, items_b, np.ones(items_a.size)


@dataclass(frozen=True, eq=False)
class RandomRespondent:
    """Someone who answers at random: either item of a pair, any option of k, each equally likely.

    Parameters
    ----------
    rng : the generator of the answers
    """

    rng: np.random.Generator

    def answer(self, question: Question) -> str | int:
        if question.is_pair:
            return "a" if self.rng.random() < 0.5 else "b"
        return int(question.items[self.rng.integers(len(question.items))])


@dataclass(frozen=True, eq=False)
class DescriptorRespondent:
    """Someone who goes by descriptors, in order: the most (``sign`` +1) or least (-1) of the first;
    where the options are level on it, of the second; and so on.

    Parameters
    ----------
    association : (n_items, r) array, the descriptors' associations with each item, in order
    signs : (r,) array of +1 or -1
    """

    association: np.ndarray
    signs: np.ndarray

    def __post_init__(self):
        association, signs = np.asarray(self.association, dtype=float), np.asarray(self.signs)
        if association.ndim != 2 or signs.shape != association.shape[1:] or not np.isin(signs, (1, -1)).all():
            raise ValueError(f"association must be (n_items, r) and signs r values of +1 or -1, got {association.shape} and {signs}")
        object.__setattr__(self, "association", association)
        object.__setattr__(self, "signs", signs)

    def answer(self, question: Question) -> str | int:
        """A pair: the item the first descriptor that tells them apart favours, "tie" when none does;
        k options: the first of those the descriptors, in order, rank highest."""
        values = self.signs * self.association[list(question.items)]  # (k, r)
        best = np.lexsort(-values.T[::-1])[0]  # the first key sorts last in lexsort
        if question.is_pair:
            return "tie" if (values[0] == values[1]).all() else "ab"[best]
        return int(question.items[best])


def head_items(popularity: np.ndarray, share: float = 0.2) -> np.ndarray:
    """Boolean mask of the ``ceil(share * n_items)`` most popular items (:func:`most_popular`).

    Parameters
    ----------
    popularity : (n_items,) array, larger is more popular
    share : float in [0, 1]

    Returns
    -------
    (n_items,) bool array
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must lie in [0, 1], got {share!r}")
    return most_popular(popularity, int(np.ceil(share * np.size(popularity))))


def most_popular(popularity: np.ndarray, n: int) -> np.ndarray:
    """(n_items,) bool: the ``n`` most popular items (ties by lower index); all of them when ``n`` exceeds the catalog."""
    popularity = np.asarray(popularity, dtype=float)
    head = np.zeros(popularity.size, dtype=bool)
    head[np.argsort(-popularity, kind="stable")[:n]] = True
    return head


@dataclass(frozen=True, eq=False)
class RatingTargets:
    """The EVAL ratings of the prefer protocol: how well scores order them.

    ``pairwise_accuracy`` (threshold 0) and ``auc`` (:func:`~prefchat.elicitation.metrics.pairwise_auc`)
    over every unequally rated pair of EVAL items; nan when all EVAL ratings are equal.
    """

    items: np.ndarray
    ratings: np.ndarray
    metrics: tuple[str, ...] = ("pairwise_accuracy", "auc")

    def __call__(self, scores: np.ndarray) -> dict[str, float]:
        mine = scores[self.items]
        return {"pairwise_accuracy": pairwise_accuracy(mine, self.ratings), "auc": pairwise_auc(mine, self.ratings)}


@dataclass(frozen=True, eq=False)
class RankingTargets:
    r"""The EVAL items of the watch protocol: are they at the top of the catalog?

    The catalog is ranked by score without the QUERY items (``exclude``; items asked about stay
    in), and the top ``k`` judged by

    - ``recall@k`` and ``ndcg@k`` with the EVAL items (``relevant``) as the relevant ones;
    - ``long_tail_share@k``: the share of the top ``k`` outside the ``head`` (see :func:`head_items`),

      .. math:: \mathrm{LT@}k = \frac{1}{k} \sum_{j=1}^{k} \mathbb{1}(\mathrm{ranked}_j \notin H);

    - ``tail_recall@k``: ``recall@k`` of the EVAL items outside the head only (the ranked list is
      the same; nan for a user with no EVAL item in the tail),

      .. math:: \mathrm{TR@}k = \frac{|\mathrm{top}_k \cap E \setminus H|}{\min(|E \setminus H|, k)}.
    """

    relevant: np.ndarray
    exclude: np.ndarray
    head: np.ndarray
    k: int = 20
    metrics: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "metrics", (f"recall@{self.k}", f"ndcg@{self.k}", f"long_tail_share@{self.k}",
                                             f"tail_recall@{self.k}"))

    def ranked(self, scores: np.ndarray) -> np.ndarray:
        """The top ``k`` items of ``scores`` without the QUERY items, best first."""
        return top_k(scores, self.k, exclude=self.exclude)

    def __call__(self, scores: np.ndarray) -> dict[str, float]:
        return self.judged(self.ranked(scores))

    def judged(self, ranked: np.ndarray) -> dict[str, float]:
        """The metrics of a ranked top ``k`` (:meth:`ranked`)."""
        recall, ndcg, long_tail, tail_recall = self.metrics[:4]
        relevant = np.asarray(self.relevant, dtype=np.intp)
        return {
            recall: recall_at_k(ranked, relevant, self.k),
            ndcg: ndcg_at_k(ranked, relevant, self.k),
            long_tail: float(np.mean(~self.head[ranked])),
            tail_recall: recall_at_k(ranked, relevant[~self.head[relevant]], self.k),
        }


@dataclass(frozen=True, eq=False)
class SharedAccount:
    """Several people behind one account: each question is answered by one member, drawn at random.

    The draw is a function of the question (its items) and ``seed`` alone, so that every strategy
    that asks the same question hears the same member, whatever it asked before.
    """

    members: tuple[RatingsRespondent, ...]
    seed: int

    def member(self, question: Question) -> int:
        """The index of the member who answers ``question``."""
        items = sorted(int(item) for item in question.items)
        return int(np.random.default_rng([self.seed, *items]).integers(len(self.members)))

    def answer(self, question: Question) -> str | int | KWayChoice | None:
        return self.members[self.member(question)].answer(question)

    def evidence(self, n_items: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every member's evidence together: what the account as a whole could tell."""
        items_a, items_b, labels = zip(*(member.evidence(n_items, rng) for member in self.members))
        return np.concatenate(items_a), np.concatenate(items_b), np.concatenate(labels)


@dataclass(frozen=True, eq=False)
class SharedAccountTargets(RankingTargets):
    r"""The watch protocol's targets for a :class:`SharedAccount`: the account's list is judged
    against every member's EVAL items together (the :class:`RankingTargets` metrics, ``relevant``
    their union), and against each member's own, which gives

    - ``weaker_recall@k`` and ``stronger_recall@k``: the lower and the higher of the members'
      :math:`\mathrm{Recall@}k` of their own EVAL items;
    - ``both_hit@k``: 1 when every member has at least one of their EVAL items in the top ``k``, else 0.
    """

    members: tuple[np.ndarray, ...] = ()

    def __post_init__(self):
        if len(self.members) < 2:
            raise ValueError(f"a shared account has at least two members, got {len(self.members)}")
        object.__setattr__(self, "metrics", (f"recall@{self.k}", f"ndcg@{self.k}", f"long_tail_share@{self.k}",
                                             f"tail_recall@{self.k}", f"weaker_recall@{self.k}",
                                             f"stronger_recall@{self.k}", f"both_hit@{self.k}"))

    def judged(self, ranked: np.ndarray) -> dict[str, float]:
        recalls = [recall_at_k(ranked, np.asarray(own, dtype=np.intp), self.k) for own in self.members]
        hits = [np.isin(np.asarray(own, dtype=np.intp), ranked).any() for own in self.members]
        weaker, stronger, both = self.metrics[4:]
        return {**super().judged(ranked), weaker: min(recalls), stronger: max(recalls), both: float(all(hits))}
