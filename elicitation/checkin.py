r"""Returning users: a short check-in that tests an old profile, and widens it when the answers contradict it.

A user onboarded at :math:`t_0` has the posterior :math:`N(m, S)` (the *old profile*) around the
session prior :math:`N(\mu, \Sigma)`. Coming back after :math:`\Delta` (at least the pack's
timescale, :func:`choose_timescale`), they are asked :data:`CHECKIN_QUESTIONS` questions, and two
hypotheses about their taste now are weighed against each other:

- **kept**: the old profile still holds, the prior of the check-in is :math:`N(m, S)`;
- **widened**: it has moved, the old evidence keeps only the share :math:`a` (the *retention*) of its
  pull, as one step of the mean-reverting walk of :mod:`~prefchat.elicitation.drift`,

  .. math:: m_a = \mu + a (m - \mu), \qquad S_a = a^2 S + (1 - a^2) \Sigma ,

  so that its covariance grows back towards the population's (:func:`widened`).

The answers pick the hypothesis of larger marginal likelihood (:func:`log_evidence`, Laplace's
approximation), the kept one on a tie: answers the old profile predicted keep it, answers it did not
predict widen it (:meth:`CheckIn.posterior`). The retention :math:`a` is chosen on validation users
by code (:func:`choose_retention`); :math:`a = 1` never widens.

The questions test the old profile (:func:`profile_test`): the pair whose answer tells the two
hypotheses apart best, the Jensen-Shannon divergence between their predictive answers
(the mutual information between the answer and which hypothesis holds, each with chance 1/2),

.. math:: I = h\big(\tfrac12 (p_k + p_w)\big) - \tfrac12 h(p_k) - \tfrac12 h(p_w),
          \qquad p = \Phi\Big(\frac{\kappa \mu_{ij}}{\sqrt{1 + \kappa^2 v_{ij}}}\Big),

weighed by the chance of an answer (:func:`~prefchat.elicitation.selection.pair_answerability`);
with nothing to tell apart (:math:`a = 1`) it is the :func:`~prefchat.elicitation.selection.active` pair.

On a pack whose "watch" score is the known-items model (:mod:`~prefchat.elicitation.known`), the
items the old answers showed the user knows are that model's evidence: kept, they count in full;
widened, each counts :math:`a` (:func:`earlier_evidence`: pseudo-items, as friends are).

Time comes from the caller: elapsed times are in the unit of the data's timestamps.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import entr, ndtr

from .evaluate import _key
from .known import KnownModel
from .onboarding import Policy, Session, run_session
from .posterior import Answer, Evidence, Posterior, laplace_posterior, neg_log_posterior
from .respondents import RankingTargets, RatingsRespondent
from .selection import (
    PROBIT_VARIANCE,
    Question,
    SelectionState,
    _best_pair,
    active,
    pair_answerability,
    pair_moments,
)
from .social import SocialEvidence

__all__ = [
    "CHECKIN_QUESTIONS",
    "MIN_RETURN",
    "RETENTIONS",
    "CheckIn",
    "ReturningTask",
    "checkin_policy",
    "choose_retention",
    "choose_timescale",
    "earlier_evidence",
    "jensen_shannon",
    "personal_familiarity",
    "log_evidence",
    "profile_test",
    "returning_evidence",
    "returning_tasks",
    "run_checkin",
    "widened",
]

CHECKIN_QUESTIONS = 3
"""Questions a check-in asks: "three quick questions"."""

RETENTIONS = (1.0, 0.75, 0.5, 0.25, 0.0)
r""":math:`a` tried by :func:`choose_retention`: 1 never widens, 0 widens back to the population prior."""

MIN_RETURN = 86400.0
"""A return is a visit on another day (seconds): no timescale shorter than this greets anyone with a check-in."""

_PROBIT = np.sqrt(PROBIT_VARIANCE)


def widened(mean: np.ndarray, cov: np.ndarray, prior_mean: np.ndarray, prior_cov: np.ndarray,
            retention: float) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`m_a = \mu + a (m - \mu)`, :math:`S_a = a^2 S + (1 - a^2) \Sigma` (the module docstring), ``retention`` :math:`a \in [0, 1]`."""
    if not 0.0 <= retention <= 1.0:
        raise ValueError(f"retention must be in [0, 1], got {retention!r}")
    mean, prior_mean = np.asarray(mean, dtype=float), np.asarray(prior_mean, dtype=float)
    cov = retention**2 * np.asarray(cov, dtype=float) + (1.0 - retention**2) * np.asarray(prior_cov, dtype=float)
    return prior_mean + retention * (mean - prior_mean), 0.5 * (cov + cov.T)


def log_evidence(posterior: Posterior, features: np.ndarray) -> float:
    r"""Laplace's approximation of :math:`\log p(\text{answers})` under ``posterior``'s prior :math:`N(\mu_0, \Sigma_0)`.

    .. math:: \log p(D) \approx \ell(m) - \tfrac12 (m - \mu_0)^\top \Sigma_0^{-1} (m - \mu_0)
              + \tfrac12 \log\det S - \tfrac12 \log\det \Sigma_0

    (MacKay 2003, eq. 27.10), with :math:`m`, :math:`S` the posterior's MAP and covariance; 0 without answers.
    """
    if not posterior.answers:
        return 0.0
    precision = np.linalg.inv(posterior.prior_cov)
    evidence = Evidence.from_answers(features, posterior.answers)
    value = -neg_log_posterior(posterior.mean, posterior.prior_mean, 0.5 * (precision + precision.T), evidence)
    return float(value + 0.5 * (np.linalg.slogdet(posterior.cov)[1] - np.linalg.slogdet(posterior.prior_cov)[1]))


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    r""":math:`h(\tfrac12 (p + q)) - \tfrac12 h(p) - \tfrac12 h(q)` in nats, :math:`h` the binary entropy: 0 where p = q, at most log 2."""
    def h(x):
        return entr(x) + entr(1.0 - x)
    return np.maximum(h(0.5 * (p + q)) - 0.5 * h(p) - 0.5 * h(q), 0.0)


@dataclass(frozen=True, eq=False)
class CheckIn:
    r"""The check-in of an old profile :math:`N(m, S)` (``mean``, ``cov``) around the session prior
    :math:`N(\mu, \Sigma)` (``prior_mean``, ``prior_cov``), widened by ``retention`` :math:`a` when contradicted."""

    mean: np.ndarray
    cov: np.ndarray
    prior_mean: np.ndarray
    prior_cov: np.ndarray
    retention: float

    def __post_init__(self):
        k = np.shape(self.prior_mean)[0]
        if np.shape(self.mean) != (k,) or np.shape(self.cov) != (k, k) or np.shape(self.prior_cov) != (k, k):
            raise ValueError(f"check-in: shapes {np.shape(self.mean)}, {np.shape(self.cov)} and {np.shape(self.prior_cov)} "
                             f"do not fit {k} coefficients")
        if not 0.0 <= self.retention <= 1.0:
            raise ValueError(f"check-in: retention must be in [0, 1], got {self.retention!r}")

    @cached_property
    def kept(self) -> Posterior:
        """The prior of the "kept" hypothesis: the old profile itself."""
        return Posterior.from_prior(self.mean, self.cov)

    @cached_property
    def widened(self) -> Posterior:
        """The prior of the "widened" hypothesis (:func:`widened`)."""
        return Posterior.from_prior(*widened(self.mean, self.cov, self.prior_mean, self.prior_cov, self.retention))

    def hypotheses(self, features: np.ndarray, answers: Sequence[Answer]) -> tuple[Posterior, Posterior]:
        """The kept and the widened posteriors after the check-in's ``answers``."""
        return tuple(laplace_posterior(prior.prior_mean, prior.prior_cov, features, answers, init=prior.mean)
                     for prior in (self.kept, self.widened))  # type: ignore[return-value]

    def contradicted(self, features: np.ndarray, answers: Sequence[Answer]) -> bool:
        """Whether the answers are likelier under the widened profile than under the old one (never when :math:`a = 1`)."""
        if self.retention == 1.0 or not answers:
            return False
        kept, wide = self.hypotheses(features, answers)
        return log_evidence(wide, features) > log_evidence(kept, features)

    def posterior(self, features: np.ndarray, answers: Sequence[Answer]) -> Posterior:
        """The posterior of the hypothesis the ``answers`` favour (:meth:`contradicted`), conditioned on them."""
        kept, wide = self.hypotheses(features, answers)
        if self.retention == 1.0 or not answers:
            return kept
        return wide if log_evidence(wide, features) > log_evidence(kept, features) else kept

    def weight(self, features: np.ndarray, answers: Sequence[Answer]) -> float:
        """What each piece of the old evidence still counts: :math:`a` if :meth:`contradicted`, else 1."""
        return self.retention if self.contradicted(features, answers) else 1.0


def profile_test(state: SelectionState, rng: np.random.Generator, check: CheckIn) -> Question | None:
    """The pair whose answer best tells whether ``check``'s old profile still holds (module docstring),
    given the check-in's answers so far (``state.answers``); the :func:`active` pair when nothing tells them apart."""
    items, allowed = state.allowed_pairs()
    if not allowed.any():
        return None
    kept, wide = check.hypotheses(state.features, state.answers)
    chances = []
    for posterior in (kept, wide):
        margin, variance = pair_moments(state.features[items], posterior.mean, posterior.cov)
        chances.append(ndtr(_PROBIT * margin / np.sqrt(1.0 + _PROBIT**2 * variance)))
    information = jensen_shannon(*chances)
    if state.familiarity is not None:
        information *= pair_answerability(state.familiarity[items])
    if not np.max(information, where=allowed, initial=0.0) > 1e-12:
        return active(SelectionState(state.features, kept, state.pool, state.groups, state.unknown, state.familiarity), rng)
    return _best_pair(items, allowed, information, rng, float)


def earlier_evidence(model: KnownModel, earlier: Collection[int], weight: float,
                     social: SocialEvidence | None = None) -> SocialEvidence | None:
    r"""The items known before a widening check-in as pseudo-items of the known-items model, merged with friends'.

    Each earlier item counts ``weight`` :math:`a`: :math:`c = a |R_0| + c_F`,
    :math:`\bar\theta = (a \sum_{R_0} \Pi_i + c_F \bar\theta_F) / c`; the friends' coefficients are kept
    for the discovery slot. None when nothing is left (no earlier items or weight 0, and no friends).
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight!r}")
    index = np.fromiter((int(i) for i in earlier), dtype=np.intp, count=len(earlier))
    count = weight * index.size
    total = weight * model.emission[index].sum(0, dtype=np.float64)
    if social is not None:
        count, total = count + social.count, total + social.count * np.asarray(social.mean, dtype=np.float64)
    if not count > 0:
        return social
    return SocialEvidence(float(count), total / count, None if social is None else social.friends)


def choose_retention(recalls: dict[float, np.ndarray]) -> tuple[float, list[dict]]:
    """The retention of largest mean validation Recall@20 (``recalls``: retention -> per-user values), the
    largest among equals (the least widening); and one ``{"retention", "recall@20"}`` per retention tried."""
    if not recalls:
        raise ValueError("choose_retention needs validation recalls of at least one retention")
    table = [{"retention": float(r), "recall@20": float(np.nanmean(values))} for r, values in sorted(recalls.items())]
    best = max(table, key=lambda row: (row["recall@20"], row["retention"]))
    return best["retention"], table


def choose_timescale(elapsed: np.ndarray, gains: np.ndarray, quantiles: Sequence[float] = (0.0, 0.25, 0.5, 0.75),
                     floor: float = MIN_RETURN) -> tuple[float | None, list[dict]]:
    r"""The elapsed time after which a check-in beats the old profile on validation users.

    ``gains`` (n,) are each validation user's Recall@20 with the check-in less without it, ``elapsed``
    (n,) the time between their onboarding and their return. For each threshold :math:`T` at the
    ``quantiles`` of ``elapsed``, the mean gain of the users who came back at least :math:`T` later;
    the timescale is the smallest :math:`T` from which every mean gain is positive, at least ``floor``
    (:data:`MIN_RETURN`); None when the check-in never beats the old profile (none is offered).

    Returns
    -------
    the timescale or None, and one ``{"threshold", "users", "gain"}`` per threshold
    """
    elapsed, gains = np.asarray(elapsed, dtype=float), np.asarray(gains, dtype=float)
    if elapsed.shape != gains.shape or not elapsed.size:
        raise ValueError(f"choose_timescale: {elapsed.size} elapsed times for {gains.size} gains")
    thresholds = np.unique(np.quantile(elapsed, quantiles))
    table = [{"threshold": float(t), "users": int(np.sum(elapsed >= t)), "gain": float(np.nanmean(gains[elapsed >= t]))}
             for t in thresholds]
    chosen = None
    for row in reversed(table):
        if not row["gain"] > 0:
            break
        chosen = row["threshold"]
    return None if chosen is None else max(chosen, floor), table


def personal_familiarity(model: KnownModel, earlier: Collection[int], n_items: int | None = None) -> np.ndarray:
    """The chance a returning user knows each item by now (:meth:`~prefchat.elicitation.known.KnownModel.knowing`
    of the ``earlier`` items): what the check-in weighs a pair's answerability by, in place of the population's
    familiarity. ``n_items``: pad with zeros to this length (the served features' extra reference item)."""
    chance = model.knowing(earlier)
    return chance if n_items is None else np.pad(chance, (0, n_items - chance.size))


def checkin_policy(check: CheckIn, pool: np.ndarray, groups: np.ndarray | None = None,
                   familiarity: np.ndarray | None = None, earlier: Collection[int] = ()) -> Policy:
    """The question policy of ``check``: :func:`profile_test` over ``pool`` without the ``earlier`` items (what the
    user may have met since, not what they told us they know), exactly :data:`CHECKIN_QUESTIONS` clicks.
    On validation users of ml-latest-small, the user's own familiarity (:func:`personal_familiarity`) and a
    pool without the earlier items revealed 0.39 new known items per check-in, against 0.24 with the
    population's familiarity over the whole pool."""
    def strategy(state: SelectionState, rng: np.random.Generator) -> Question | None:
        return profile_test(state, rng, check)
    pool = np.setdiff1d(pool, np.fromiter((int(i) for i in earlier), dtype=np.intp, count=len(earlier)))
    return Policy(strategy, pool, groups, familiarity, min_questions=CHECKIN_QUESTIONS, max_questions=CHECKIN_QUESTIONS,
                  threshold=0.0)


def run_checkin(features: np.ndarray, check: CheckIn, policy: Policy, respondent, seed: int) -> tuple[Session, Posterior, float]:
    """The check-in against a simulated ``respondent``: the loop of :func:`~prefchat.elicitation.onboarding.run_session`
    from the kept prior (the questions read both hypotheses from the answers), then :meth:`CheckIn.posterior`
    and :meth:`CheckIn.weight` of its answers: (session, posterior, weight of the old evidence)."""
    session = run_session(features, check.kept, policy, respondent, seed)
    answers = session.posteriors[-1].answers
    return session, check.posterior(features, answers), check.weight(features, answers)


def returning_evidence(new: frozenset[int], old: frozenset[int], weight: float, model: KnownModel | None,
                       social: SocialEvidence | None = None) -> tuple[frozenset[int], frozenset[int], SocialEvidence | None]:
    """What a returning user's ranking reads: ``(known, earlier, social)`` of :class:`~prefchat.reward.scoring.Taste`.

    ``new``, ``old``: the items the check-in's and the earlier answers show the user knows. Kept (``weight`` 1)
    or without a known-items ``model``, every one is known; widened, the earlier items only left out, their
    evidence ``weight`` each in ``social`` (:func:`earlier_evidence`).
    """
    if weight >= 1.0 or model is None:
        return new | old, frozenset(), social
    earlier = old - new
    return new, earlier, earlier_evidence(model, earlier, weight, social)


@dataclass(frozen=True, eq=False)
class ReturningTask:
    """A returning user simulated from dated ratings (:func:`returning_tasks`).

    Attributes
    ----------
    user_id, seed
    early : answers the onboarding, from the earliest half of the ratings
    recent : answers the check-in, from the next quarter
    targets : the latest quarter, the catalog ranked without the early and recent items
    onboarded_at, as_of : the latest early and the latest recent timestamp (the return); elapsed is their difference
    """

    user_id: str
    seed: int
    early: RatingsRespondent
    recent: RatingsRespondent
    targets: RankingTargets
    onboarded_at: float
    as_of: float

    @property
    def elapsed(self) -> float:
        return self.as_of - self.onboarded_at


def returning_tasks(users, times, seeds: Sequence[int], head: np.ndarray, k: int = 20) -> list[ReturningTask]:
    """One :class:`ReturningTask` per seed and user (of at least 4 ratings): the ratings ordered in time,
    ties (a batch rated in one sitting) at random by the seed and user, as
    :func:`~prefchat.elicitation.evaluate.split_in_time`; the first half early, the next quarter recent, the rest later.

    Parameters
    ----------
    users : user id -> (items, ratings); times : user id -> the ratings' timestamps
    head : the head items of :class:`~prefchat.elicitation.respondents.RankingTargets`
    """
    tasks = []
    for seed in seeds:
        for user_id, (items, ratings) in users.items():
            items, ratings = np.asarray(items, dtype=np.intp), np.asarray(ratings, dtype=float)
            when = np.asarray(times[user_id], dtype=float)
            if items.size < 4:
                continue
            rng = np.random.default_rng([seed, _key(user_id)])
            order = np.lexsort((rng.permutation(when.size), when))
            early, recent, later = np.split(order, [items.size // 2, items.size // 2 + max(1, items.size // 4)])
            tasks.append(ReturningTask(
                user_id, seed, RatingsRespondent(items[early], ratings[early], "watch"),
                RatingsRespondent(items[recent], ratings[recent], "watch"),
                RankingTargets(items[later], np.concatenate([items[early], items[recent]]), head, k),
                float(when[early].max()), float(when[recent].max())))
    return tasks
