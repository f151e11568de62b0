r"""Friends as a prior: a new user's known-items coefficients start near their friends'.

The known-items model (:mod:`~prefchat.elicitation.known`) reads a user's coefficient
:math:`\theta` from the items they are known to know, each a draw :math:`\Pi_i \sim N(\theta, \tau\Psi)`.
A friend :math:`f` is a coefficient :math:`\theta_f` (a training user's :math:`x_f^\top \Pi / n_f`, or
a stored profile's posterior mean). The social prior treats the friends' weighted mean as
:math:`c` pseudo-items, conjugate to the same likelihood (:func:`social_evidence`):

.. math:: \bar\theta_F = \frac{\sum_f w_f \theta_f}{\sum_f w_f}, \qquad
          c = \alpha \Big(\sum_f w_f\Big)^{\rho},

so that with the items :math:`R` the user's answers reveal the posterior is
(:meth:`~prefchat.elicitation.known.KnownModel.posterior`)

.. math:: S^{-1} = \Sigma^{-1} + \tfrac{|R| + c}{\tau} \Psi^{-1}, \qquad
          m = S \big(\Sigma^{-1} \mu + \tfrac{1}{\tau} \Psi^{-1} (\textstyle\sum_{i \in R} \Pi_i + c\, \bar\theta_F)\big).

Before any answer the mean moves from the population's :math:`\mu` towards :math:`\bar\theta_F` and
the covariance shrinks with :math:`c`; each revealed item then weighs as one of :math:`c`, so the
user's own answers take over as they come. :math:`\alpha` (how much a friend is trusted) and
:math:`\rho` (how many friends add up: 0, a fixed trust whatever their number; 1, each friend
counts) are chosen on validation users with friends when a pack is built. A user without friends
has :math:`c = 0`: exactly the population prior, computed by the same code as before.

Friends also say which items they know, not only their mean taste: the *friends' items* term adds
to the known-items score of each item :math:`j` (:meth:`~prefchat.elicitation.known.KnownModel.scores`)

.. math:: s_j \mathrel{+}= \gamma \log(1 + v_j), \qquad
          v_j = \frac{\sum_f w_f x_{fj}}{\big(\sum_f w_f\big)^{\eta}}

(:func:`friends_votes`, :func:`friends_term`), :math:`x_{fj} = 1` when friend :math:`f` knows
:math:`j` (a training user rated it; a stored user's answers reveal it). The scores are logs of a
chance, so the term multiplies the chance by :math:`(1 + v_j)^\gamma`: a list that may lean on what
friends rated when the data support it. :math:`\gamma \ge 0` (``item_weight``) and :math:`\eta \in
[0, 1]` (``item_spread``: 0, the number of friends who know :math:`j`; 1, their share) are chosen
beside :math:`\alpha` and :math:`\rho`; :math:`\gamma = 0` is the prior alone, exactly.

A *discovery slot* (:func:`discovery_item`, at a position validated on the same users) shows an
item that the friend whose taste differs most from the user's (:func:`different_friend`) loves
and that the user's own posterior leaves uncertain rather than disliked: "loved by someone you
follow, outside your usual picks", never naming the friend.

The benchmark's peer ``friends-items`` (:func:`friends_items`) and its "anomalous recall"
(:func:`anomalous_items`, after Chaney, Blei & Eliassi-Rad, RecSys 2015: friends matter most
through the choices a person's own taste would not predict) are here too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

__all__ = ["DISCOVERY_DOUBT", "SocialEvidence", "SocialModel", "anomalous_items", "different_friend", "discovery_item",
           "friends_items", "friends_mean", "friends_term", "friends_votes", "item_lists", "social_count", "social_evidence",
           "with_discovery"]

DISCOVERY_DOUBT = 1.0
"""An item the user's posterior puts more than this many standard deviations below the population is
disliked, not uncertain: never the discovery slot's (:func:`discovery_item`)."""


@dataclass(frozen=True, eq=False)
class SocialEvidence:
    r"""Friends as :math:`c` pseudo-items of mean :math:`\bar\theta_F` (module docstring); ``friends``
    (n_friends, K) their coefficients one by one, for the discovery slot (:func:`different_friend`);
    ``items`` and ``votes`` the items friends know with their :math:`v_j` (:func:`friends_votes`),
    added to the scores with weight :math:`\gamma` ``item_weight`` (:func:`friends_term`)."""

    count: float
    mean: np.ndarray
    friends: np.ndarray | None = None
    items: np.ndarray | None = None
    votes: np.ndarray | None = None
    item_weight: float = 0.0

    def __post_init__(self):
        if not (np.isfinite(self.count) and self.count >= 0):
            raise ValueError(f"social evidence: count must be finite and >= 0, got {self.count!r}")
        if not np.isfinite(self.mean).all():
            raise ValueError("social evidence: the friends' mean coefficient is not finite")
        if not (np.isfinite(self.item_weight) and self.item_weight >= 0):
            raise ValueError(f"social evidence: item_weight must be finite and >= 0, got {self.item_weight!r}")
        if (self.items is None) != (self.votes is None) or (self.items is not None and np.shape(self.items) != np.shape(self.votes)):
            raise ValueError("social evidence: items and votes go together, one vote per item")

    def term(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The friends' items and what :func:`friends_term` adds to their scores; None when it adds nothing."""
        if not self.item_weight or self.items is None or self.votes is None or not len(self.items):
            return None
        return self.items, friends_term(self.votes, self.item_weight)


def friends_mean(coefficients: np.ndarray, weights: np.ndarray) -> np.ndarray:
    r""":math:`\bar\theta_F = \sum_f w_f \theta_f / \sum_f w_f` of ``coefficients`` (n_friends, K) and ``weights`` (n_friends,) > 0."""
    weights = np.asarray(weights, dtype=np.float64)
    return (weights @ np.asarray(coefficients, dtype=np.float64)) / weights.sum()


def social_count(trust: float, spread: float, total_weight: float) -> float:
    r""":math:`c = \alpha (\sum_f w_f)^\rho`: the pseudo-items friends of total weight ``total_weight`` are worth."""
    return float(trust * total_weight**spread)


def friends_votes(lists: Sequence[np.ndarray], weights: Sequence[float] | np.ndarray, spread: float,
                  ) -> tuple[np.ndarray, np.ndarray]:
    r"""The items friends know and their :math:`v_j = \sum_f w_f x_{fj} / (\sum_f w_f)^\eta` (module docstring).

    ``lists``: each friend's known items (a repeat counts once); ``weights``: their :math:`w_f > 0`;
    ``spread``: :math:`\eta`. Returns the items (sorted) and their votes, both empty without any.
    """
    sizes = [len(items) for items in lists]
    if not sum(sizes):
        return np.empty(0, dtype=np.intp), np.empty(0)
    w = np.asarray(weights, dtype=np.float64)
    flat = np.concatenate([np.asarray(items, dtype=np.int64).ravel() for items in lists])
    owner = np.repeat(np.arange(len(lists)), sizes)
    _, first = np.unique(owner * (int(flat.max()) + 1) + flat, return_index=True)  # each friend's item once
    items, where = np.unique(flat[first], return_inverse=True)
    votes = np.bincount(where, w[owner[first]], minlength=len(items))
    return items.astype(np.intp), votes / w.sum() ** spread


def friends_term(votes: np.ndarray, item_weight: float) -> np.ndarray:
    r""":math:`\gamma \log(1 + v_j)`: what the friends' items add to the (log) scores of the items of ``votes``."""
    return item_weight * np.log1p(np.asarray(votes, dtype=np.float64))


def social_evidence(coefficients: np.ndarray, weights: np.ndarray, trust: float, spread: float,
                    lists: Sequence[np.ndarray] | None = None, item_weight: float = 0.0, item_spread: float = 0.0,
                    ) -> SocialEvidence | None:
    """The friends' pseudo-items (:func:`friends_mean`, :func:`social_count`) and, with ``lists`` (each
    friend's known items) and an ``item_weight``, their items (:func:`friends_votes`); None without
    friends, or without trust and item weight."""
    weights = np.asarray(weights, dtype=np.float64)
    if not weights.size or not (trust > 0 or item_weight > 0):
        return None
    items = votes = None
    if item_weight > 0 and lists is not None:
        items, votes = friends_votes(lists, weights, item_spread)
    return SocialEvidence(social_count(trust, spread, float(weights.sum())), friends_mean(coefficients, weights),
                          np.asarray(coefficients, dtype=np.float64), items, votes, float(item_weight))


def item_lists(matrix) -> tuple[np.ndarray, np.ndarray]:
    """The known items of each row of the 0/1 ``matrix`` as CSR ``(indptr, indices)`` arrays (int64, int32)."""
    x = sparse.csr_matrix(matrix)
    x.eliminate_zeros()
    x.sort_indices()
    return x.indptr.astype(np.int64), x.indices.astype(np.int32)


@dataclass(frozen=True, eq=False)
class SocialModel:
    r"""A pack's social prior: the coefficients a friend may be read from, and the validated
    :math:`\alpha` (``trust``) and :math:`\rho` (``spread``) of the module docstring.

    Attributes
    ----------
    members : the ids of the users whose coefficients the pack holds (its training users)
    coefficients : (n_members, K) their :math:`\theta_f`, single precision
    trust, spread : :math:`\alpha \ge 0` and :math:`\rho \in [0, 1]`
    item_indptr, item_indices : the members' known items, CSR (:func:`item_lists`); None: no lists
        (a pack written before them), and no friends' items term
    item_weight, item_spread : :math:`\gamma \ge 0` and :math:`\eta \in [0, 1]` of the friends' items
        term (module docstring); 0: none
    """

    members: tuple[str, ...]
    coefficients: np.ndarray
    trust: float
    spread: float
    item_indptr: np.ndarray | None = None
    item_indices: np.ndarray | None = None
    item_weight: float = 0.0
    item_spread: float = 0.0

    def __post_init__(self):
        if np.shape(self.coefficients)[0] != len(self.members) or np.ndim(self.coefficients) != 2:
            raise ValueError(f"social model: coefficients of shape {np.shape(self.coefficients)} for {len(self.members)} members")
        if not (np.isfinite(self.trust) and self.trust >= 0 and 0 <= self.spread <= 1):
            raise ValueError(f"social model: trust must be >= 0 and spread in [0, 1], got {self.trust!r}, {self.spread!r}")
        if not (np.isfinite(self.item_weight) and self.item_weight >= 0 and 0 <= self.item_spread <= 1):
            raise ValueError(f"social model: item_weight must be >= 0 and item_spread in [0, 1], got {self.item_weight!r}, "
                             f"{self.item_spread!r}")
        if (self.item_indptr is None) != (self.item_indices is None):
            raise ValueError("social model: item_indptr and item_indices go together")
        if self.item_indptr is not None:
            indptr = np.asarray(self.item_indptr, dtype=np.int64)
            if indptr.shape != (len(self.members) + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0) \
                    or indptr[-1] != len(self.item_indices):
                raise ValueError(f"social model: item lists of {np.shape(self.item_indptr)} offsets for {len(self.members)} "
                                 f"members and {len(self.item_indices)} items")
            object.__setattr__(self, "item_indptr", indptr)
            object.__setattr__(self, "item_indices", np.asarray(self.item_indices, dtype=np.int32))
        elif self.item_weight:
            raise ValueError("social model: a friends' items term needs the members' item lists")
        object.__setattr__(self, "coefficients", np.ascontiguousarray(self.coefficients, dtype=np.float32))

    def items_of(self, row: int) -> np.ndarray:
        """The known items of the member of ``row`` (empty without item lists)."""
        if self.item_indptr is None or self.item_indices is None:
            return np.empty(0, dtype=np.int32)
        return self.item_indices[self.item_indptr[row] : self.item_indptr[row + 1]]

    @cached_property
    def row(self) -> dict[str, int]:
        """Member id -> row of :attr:`coefficients`."""
        return {member: r for r, member in enumerate(self.members)}

    def evidence(self, friends: Mapping[str, float], profiles: Mapping[str, np.ndarray] | None = None,
                 revealed: Mapping[str, Collection[int]] | None = None) -> tuple[SocialEvidence | None, int]:
        """The social evidence of a user with ``friends`` (id -> weight), and how many were unknown.

        A friend is read from the members' coefficients and item lists, else from ``profiles`` (id ->
        a stored profile's known-items posterior mean) and ``revealed`` (id -> the items their answers
        reveal); a friend in neither is left out and counted.
        """
        rows, weights, extra, extra_weights, extra_lists = [], [], [], [], []
        for friend, weight in friends.items():
            r = self.row.get(friend)
            if r is not None:
                rows.append(r)
                weights.append(weight)
            elif profiles is not None and friend in profiles:
                extra.append(np.asarray(profiles[friend], dtype=np.float64))
                extra_weights.append(weight)
                extra_lists.append(np.fromiter((int(i) for i in (revealed or {}).get(friend, ())), dtype=np.intp))
        coefficients = np.concatenate([self.coefficients[rows].astype(np.float64),
                                       np.reshape(extra, (len(extra), self.coefficients.shape[1]))])
        unknown = len(friends) - len(rows) - len(extra)
        lists = [self.items_of(r) for r in rows] + extra_lists if self.item_weight else None
        return social_evidence(coefficients, np.asarray(weights + extra_weights), self.trust, self.spread,
                               lists, self.item_weight, self.item_spread), unknown


def different_friend(friends: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> int:
    r"""The row of the friend whose taste differs most from the user's posterior mean :math:`m`:
    :math:`\arg\max_f \sum_k (\theta_{fk} - m_k)^2 / \sigma_k^2`, :math:`\sigma_k^2` the prior's variances ``scale``."""
    return int(np.argmax((((np.asarray(friends) - mean) ** 2) / scale).sum(1)))


def discovery_item(friend_lift: np.ndarray, doubt: np.ndarray, excluded: np.ndarray, max_doubt: float = DISCOVERY_DOUBT,
                   ) -> int | None:
    r"""The discovery slot's item: one the different friend loves and the user's posterior leaves uncertain.

    .. math:: j^* = \arg\max_{j \notin E,\ \ell_j > 0,\ z_j \ge -z_\text{max}} \ell_j

    with :math:`\ell_j` (``friend_lift``) how much more the friend's taste favours :math:`j` than the
    population's, and :math:`z_j` (``doubt``) how far the user's own posterior puts :math:`j` above the
    population's in posterior standard deviations (:meth:`~prefchat.elicitation.known.KnownModel.doubt`):
    an item the posterior confidently places below (:math:`z_j < -z_\text{max}`) is disliked, not
    uncertain. None when no item qualifies.
    """
    allowed = (friend_lift > 0) & (doubt >= -max_doubt)
    allowed[np.asarray(excluded, dtype=np.intp)] = False
    if not allowed.any():
        return None
    return int(np.argmax(np.where(allowed, friend_lift, -np.inf)))


def with_discovery(ranked: Sequence[int] | np.ndarray, item: int | None, slot: int) -> list[int]:
    """``ranked`` with ``item`` at the 1-based ``slot``, the items from there on moved down one and the
    last dropped (the list keeps its length); unchanged without an item or a slot, or a slot past its end."""
    ranked = list(ranked)
    if item is None or not 1 <= slot <= len(ranked):
        return ranked
    return [*ranked[: slot - 1], item, *ranked[slot - 1 : -1]]


def friends_items(friend_items: Sequence[np.ndarray], weights: Sequence[float], n_items: int) -> np.ndarray:
    r"""The ``friends-items`` peer: :math:`s_j = \sum_f w_f \mathbb{1}(j \in I_f)`, how many friends rated each item."""
    scores = np.zeros(n_items)
    for items, weight in zip(friend_items, weights):
        scores[np.unique(np.asarray(items, dtype=np.intp))] += weight
    return scores


def anomalous_items(relevant: np.ndarray, scores: np.ndarray) -> np.ndarray:
    r"""The held-out items the user's own model ranks in the bottom half of them: the
    :math:`\lfloor |E| / 2 \rfloor` items of ``relevant`` with the lowest ``scores`` (ties: the
    later in ``relevant``), whose recall is the benchmark's "anomalous recall"."""
    relevant = np.asarray(relevant, dtype=np.intp)
    order = np.lexsort((-np.arange(relevant.size), scores[relevant]))
    return np.sort(relevant[order[: relevant.size // 2]])
