r"""What serving derives from a pack: session priors, catalog scores, question pools, descriptor statistics.

A :class:`~prefchat.reward.pack.Pack` is the saved artefact, read through typed views. Everything
computed from it to serve sessions lives here, in one object per pack
(:attr:`Pack.serving <prefchat.reward.pack.Pack.serving>`), each value computed on first use and
kept with one idiom, :func:`functools.cached_property`: per objective in an :class:`ObjectiveServing`,
the rest on :class:`Serving` (the question pools, one per size asked for, in a dict that is one).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import Protocol

import numpy as np

from ..elicitation.known import KnownItemsScore, KnownModel
from ..elicitation.onboarding import CatalogScore, QuestionForm
from ..elicitation.person import HEAD_ITEMS
from ..elicitation.pool import candidate_pool
from ..elicitation.posterior import Posterior, base_rate_offset
from ..elicitation.respondents import most_popular
from .descriptors import DescribedItems, DescriptorIndex, descriptor_index

__all__ = ["LESS_OBVIOUS_RECALL_KEPT", "OBJECTIVES", "SERVED_POOL_SIZE", "ObjectiveServing", "Servable", "Serving", "check_objective", "strongest_discount"]

OBJECTIVES = ("prefer", "watch")
"""What a session asks: "which do you prefer?" or "which would you rather have?" (see :attr:`Pack.objective`)."""
SERVED_POOL_SIZE = 300
"""The question pool a session is served from by default (``SessionOptions.pool_size``), as validation runs it."""
LESS_OBVIOUS_RECALL_KEPT = 0.5
"""The strongest discount "less obvious picks" may reach for one user keeps at least this share of
the undiscounted validation Recall@20: past it, the less-known picks are not good ones."""


def strongest_discount(grid: list[dict], floor: float) -> float:
    """The exposure discount of ``grid`` (rows ``{"discount", "recall@20", "head_share@20"}`` of validation
    users) whose lists hold the least of the catalog's head (:attr:`Serving.head`, the items a user means
    by "everyone has seen") among those whose Recall@20 is at least ``floor``; the smaller discount among
    equals, the first row's when none qualifies.

    A grid recorded before the head share was (rows ``{"discount", "recall@20", "long_tail_share@20"}``)
    is read by its long-tail share, the larger the better: on a catalog whose lists stay among its 20%
    most popular items at every discount, that share is 0 throughout, and so was every discount chosen by it.
    """
    allowed = [row for row in grid if row["recall@20"] >= floor] or grid[:1]

    def head(row: dict) -> float:
        return row["head_share@20"] if "head_share@20" in row else -row["long_tail_share@20"]

    return float(min(allowed, key=lambda row: (head(row), row["discount"]))["discount"])


class Servable(DescribedItems, Protocol):
    """What serving reads of a pack: a :class:`~prefchat.reward.pack.Pack` is one (this module
    does not import it: the pack holds its :class:`Serving`)."""

    @property
    def popularity(self) -> np.ndarray: ...
    @property
    def prior(self) -> tuple[np.ndarray, np.ndarray]: ...
    @property
    def watch_prior(self) -> tuple[np.ndarray, np.ndarray]: ...
    @property
    def familiarity(self) -> np.ndarray | None: ...
    @property
    def known_model(self) -> KnownModel | None: ...
    @property
    def exposure_discount(self) -> float: ...
    @property
    def question_tastes(self) -> bool: ...
    @property
    def question_knowing(self) -> bool: ...
    @property
    def question_size(self) -> int: ...


def check_objective(objective: str) -> str:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    return objective


class ObjectiveServing:
    """How sessions of one objective are served on a pack: their prior and their catalog score."""

    def __init__(self, pack: Servable, objective: str):
        self.pack, self.objective = pack, check_objective(objective)

    @cached_property
    def prior(self) -> Posterior:
        """The session prior: :attr:`~prefchat.reward.pack.Pack.watch_prior` for "watch", :attr:`~prefchat.reward.pack.Pack.prior` for "prefer"."""
        pack = self.pack
        return Posterior.from_prior(*(pack.watch_prior if self.objective == "watch" else pack.prior))

    @cached_property
    def catalog_score(self) -> CatalogScore:
        """How a session scores the catalog.

        "watch" on a pack with base rates: the :attr:`~prefchat.reward.pack.Pack.known_model`'s
        score of the items the answers show the user knows
        (:class:`~prefchat.elicitation.known.KnownItemsScore`) where the pack has one, else the
        chance of a pick averaged over the posterior, calibrated so that the session prior
        reproduces :attr:`~prefchat.reward.pack.Pack.familiarity`
        (:func:`~prefchat.elicitation.posterior.base_rate_offset`); otherwise the mean utility.
        """
        pack = self.pack
        if self.objective == "watch" and pack.known_model is not None:
            return KnownItemsScore(pack.known_model.features, model=pack.known_model)
        if self.objective == "watch" and pack.familiarity is not None:
            offset = base_rate_offset(pack.features, self.prior.prior_mean, self.prior.prior_cov, pack.familiarity)
            return CatalogScore(pack.features, offset)
        return CatalogScore(pack.features)

    @cached_property
    def prior_variance(self) -> tuple[np.ndarray, np.ndarray]:
        r"""``(S_0, v^0)``: the prior's covariance and :math:`v^0_i = \phi_i^\top S_0 \phi_i` of every
        catalog item (the ``reference`` of :func:`~prefchat.elicitation.posterior.predictive_scale`:
        a posterior then costs O(n r K))."""
        features, prior_cov = self.pack.features, self.prior.prior_cov
        return prior_cov, np.einsum("ik,ik->i", features @ prior_cov, features)

    def discounted(self, discount: float | None) -> CatalogScore:
        """:attr:`catalog_score` with exposure ``discount`` (default the pack's
        :attr:`~prefchat.reward.pack.Pack.exposure_discount` for a score of base rates, the calibrated
        chance of a pick or the known-items model's, as validation chose it; 0 else)."""
        score = self.catalog_score
        if discount is None:
            rated = score.offset is not None or isinstance(score, KnownItemsScore)
            discount = self.pack.exposure_discount if rated else 0.0
        if not discount:
            return score
        return replace(score, discount=float(discount), base_rates=self.pack.familiarity)


class Serving:
    """Everything serving derives from one pack, computed once."""

    def __init__(self, pack: Servable):
        self.pack = pack

    @cached_property
    def prefer(self) -> ObjectiveServing:
        return ObjectiveServing(self.pack, "prefer")

    @cached_property
    def watch(self) -> ObjectiveServing:
        return ObjectiveServing(self.pack, "watch")

    def objective(self, objective: str) -> ObjectiveServing:
        """The serving of sessions with ``objective``, one of :data:`OBJECTIVES`."""
        return self.watch if check_objective(objective) == "watch" else self.prefer

    def session_prior(self, objective: str) -> Posterior:
        """The prior of a session with ``objective`` (:attr:`ObjectiveServing.prior`)."""
        return self.objective(objective).prior

    @cached_property
    def descriptors(self) -> DescriptorIndex:
        """The pack's descriptor statistics (:func:`~prefchat.reward.descriptors.descriptor_index`)."""
        return descriptor_index(self.pack)

    @cached_property
    def head(self) -> np.ndarray:
        """(n_items,) bool: the catalog's head, its :data:`~prefchat.elicitation.person.HEAD_ITEMS` most popular
        items (:func:`~prefchat.elicitation.respondents.most_popular`): the ones a user means by "everyone has seen"."""
        return most_popular(self.pack.popularity, HEAD_ITEMS)

    @cached_property
    def single_features(self) -> np.ndarray:
        """The catalog's features in single precision, for the products that read every item: half
        the bytes and twice the speed of double precision, with errors (about :math:`10^{-7}` of a
        score) far below the model's own, as the known-items model keeps its tables."""
        return np.ascontiguousarray(self.pack.features, dtype=np.float32)

    @cached_property
    def pools(self) -> dict[int, np.ndarray]:
        """The question pools computed so far, by size (:meth:`pool`)."""
        return {}

    @property
    def tastes(self) -> np.ndarray | None:
        """(n_items, n_tags) bool, the tags each item carries, on a tags pack; None elsewhere."""
        return self.descriptors.carried if self.descriptors.source == "tags" else None

    @property
    def questions(self) -> QuestionForm:
        """The pack's questions (:class:`~prefchat.elicitation.onboarding.QuestionForm`): its validated size, the taste
        slot's tastes (:attr:`tastes`) where it serves the slot, and each user's chance of knowing each item given
        their answers (:meth:`~prefchat.elicitation.known.KnownItemsScore.knowing` of the "watch" catalog score),
        read in place of the familiarity, where it chose so."""
        score = self.watch.catalog_score
        knowing = score.knowing if self.pack.question_knowing and isinstance(score, KnownItemsScore) else None
        return QuestionForm(self.pack.question_size, self.tastes if self.pack.question_tastes else None, knowing)

    def pool(self, size: int) -> np.ndarray:
        """The candidate items of questions (:func:`~prefchat.elicitation.pool.candidate_pool`, seed 0), of ``size``
        items; on a tags pack each tag keeps a few of its best-known items in it (its ``tastes``)."""
        if size not in self.pools:
            self.pools[size] = candidate_pool(self.pack.features, self.pack.popularity, size=size, rng=0, tastes=self.tastes)
        return self.pools[size]
