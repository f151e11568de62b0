r"""Ranking items for a user: coefficients and semantic summary blended, each pick with a reason.

.. math:: \mathrm{score}(i) = c^\top \phi(i) + \beta\, s(i)

with :math:`s` the :func:`~prefchat.assistant.summary.summary_affinity` of the user's summary and
the coefficients :math:`c` set by the objective:

- ``"prefer"``: :math:`c = m`, the posterior mean: which of these would the user like more (the
  question a "prefer" session asks);
- ``"watch"``: what to recommend from the catalog, where being the kind of item people pick
  matters as well as liking it. On packs that know how often the population picks each item
  (:attr:`~prefchat.reward.pack.Pack.familiarity`, rating data), exactly the session's
  :meth:`~prefchat.reward.pack.Pack.catalog_score`, the score the benchmark and validation
  measure: the chance of a pick averaged over the posterior :math:`N(m, S)` and calibrated to
  those base rates :math:`f` under the session prior :math:`N(\mu_0, \Sigma_0)`
  (:func:`~prefchat.elicitation.posterior.predictive_logits`):

  .. math:: \mathrm{score}(i) = \frac{\phi(i)^\top m + a_i}{\kappa_i} + \beta\, s(i), \qquad
            a_i = \kappa^0_i \operatorname{logit} f_i - \phi(i)^\top \mu_0, \quad
            \kappa_i = \sqrt{1 + \pi\, \phi(i)^\top S \phi(i) / 8},

  with :math:`\kappa^0` the same under the prior: before any answer the catalog ranks by base
  rate. On a pack with a known-items model (:attr:`~prefchat.reward.pack.Pack.known_model`) the
  linear part is that model's score of the items the user is known to know (``known``,
  :class:`~prefchat.elicitation.known.KnownItemsScore`) instead; reasons still read :math:`m`
  on the learned axes. Elsewhere :math:`c = m`. Either way :math:`m, S` must come from a session of the same
  objective (:meth:`~prefchat.reward.pack.Pack.session_prior`).

The summary's weights the user stated are weighted apart, :math:`\beta_\text{stated}`, on the scale
of :func:`~prefchat.assistant.summary.stated_affinity` (on a tags pack every stated tag moves its
items alike). :math:`\beta` defaults to the pack's, validated on the objective's own scale
(:meth:`~prefchat.reward.pack.Pack.beta`; :func:`choose_beta` chooses the "prefer" one on
validation users). Items are the catalog (features from
the pack) or texts the caller brings (features from
:meth:`~prefchat.reward.pack.Pack.content_features` of their embeddings). The per-pack matrices are
computed once (:func:`~prefchat.assistant.summary.descriptor_index`), so ranking 10k items is a
few matrix-vector products.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..elicitation import Comparison, Posterior
from ..elicitation.known import KnownItemsScore
from ..elicitation.metrics import pairwise_accuracy, pairwise_auc, recall_at_k, roc_auc, top_k
from ..elicitation.onboarding import known_items, replay
from ..elicitation.posterior import predictive_moments
from ..reward.data import TITLE_LENGTH
from ..reward.pack import OBJECTIVES, Pack
from . import wording
from .summary import (
    STATED_WEIGHT,
    Summary,
    apply_correction,
    descriptor_index,
    stated_affinity,
    summarize,
    summary_affinity,
    summary_weights,
    text_associations,
)

if TYPE_CHECKING:
    from ..reward.train import ValidationUser

__all__ = ["BETA_MULTIPLIERS", "Ranked", "ServedScore", "choose_beta", "choose_watch_beta", "item_scores", "like_factor",
           "liked_carriers", "picks_fit", "rank", "stated_exclusions", "strongest_stated"]

BETA_MULTIPLIERS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
"""The grid of :func:`choose_beta`, in units of the natural scale."""
WHY_SHARE = 0.1
"""A reason is given only if it brings at least this share of the item's positive contributions."""
WHY_AXES = 2
"""At most this many axes in a reason (plus one summary descriptor)."""
POPULATION_WORDS = {"popularity": ("popular", "little known"), "quality": ("well rated", "lower rated")}
"""How a population coordinate reads at its high and low end."""


@dataclass(frozen=True)
class Ranked:
    """One recommendation.

    Attributes
    ----------
    index : position in the catalog, or in the caller's candidate list
    item_id : the catalog item id; None for a candidate text
    title : the item's title, or the start of the candidate text
    score : :math:`c^\\top \\phi(i) + \\beta s(i)`
    why : one sentence naming the user's preferences the item meets, e.g. "war: as you like"
    text : the item's text (what the user would read: a response, a description), or the candidate text
    """

    index: int
    item_id: str | None
    title: str
    score: float
    why: str
    text: str = ""


@dataclass(frozen=True, eq=False)
class _Scoring:
    r"""Everything a score is made of: ``(features @ coef + offset) / scale + association @ weights``.

    A linear score has ``offset`` 0 and ``scale`` 1; a calibrated "watch" score (the session's
    :meth:`~prefchat.reward.pack.Pack.catalog_score`, term for term) has ``coef`` :math:`m`,
    ``offset`` :math:`a` and ``scale`` :math:`\kappa`. Reasons read the coefficients against the
    prior mean ``centre``: :math:`m - \mu_0` is what the answers taught, and
    :math:`a + \phi^\top \mu_0 = \kappa^0 \operatorname{logit} f` how popular the item is.
    """

    features: np.ndarray      # (n, n_bases)
    coef: np.ndarray          # (n_bases,)
    association: np.ndarray   # (n, n_descriptors), or (n, 0) when the summary plays no part
    weights: np.ndarray       # (n_descriptors,) beta * summary weights, or (0,)
    offset: np.ndarray | float = 0.0  # (n,) the base-rate offset a of a calibrated score
    scale: np.ndarray | float = 1.0   # (n,) its kappa
    centre: np.ndarray | float = 0.0  # (n_bases,) the prior mean of a calibrated score
    base: np.ndarray | None = None     # (n,) the catalog score before the summary term, discount included,
    # computed already: (features @ coef + offset) / scale less the exposure penalty, or a known-items score

    def scores(self) -> np.ndarray:
        base = self.features @ self.coef if self.base is None else self.base
        used = np.flatnonzero(self.weights)  # a summary names a few descriptors: read their columns only
        return base + self.association[:, used] @ self.weights[used] if used.size else base

    def base_rate_logit(self, i: int) -> float:
        r""":math:`b_i = \kappa^0_i \operatorname{logit} f_i = a_i + \phi(i)^\top \mu_0` of a calibrated score."""
        return float(self.offset[i] + self.features[i] @ self.centre)

    @cached_property
    def offset_mean(self) -> float:
        """The catalog mean of the offset :math:`a` (with the catalog mean of phi, that of :math:`b`)."""
        return float(np.mean(self.offset))


def _scoring(pack: Pack, mean, summary: Summary | None, candidate_embeddings, beta: float | None, objective: str,
             cov: np.ndarray | None = None, discount: float | None = None,
             candidate_associations: np.ndarray | None = None, known: Collection[int] = ()) -> _Scoring:
    mean = np.asarray(mean, dtype=np.float64)
    if mean.shape != (pack.n_bases,) or not np.isfinite(mean).all():
        raise ValueError(f"mean must be {pack.n_bases} finite coefficients for pack {pack.name!r}, got shape {mean.shape}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    outside = candidate_embeddings is not None
    if outside and objective == "watch":
        raise ValueError("objective 'watch' ranks the catalog (its base rates are about catalog items); "
                         "rank candidate texts with 'prefer'")
    if discount is not None and not (np.isfinite(discount) and discount >= 0):
        raise ValueError(f"discount must be finite and >= 0, got {discount!r}")
    catalog = None if outside else pack.discounted(objective, discount)
    calibrated = catalog is not None and catalog.offset is not None
    if isinstance(catalog, KnownItemsScore):
        # The order is the known-items model's; reasons read the session posterior on the learned axes.
        terms: dict = {"base": catalog.known(known), "centre": pack.session_prior(objective).prior_mean}
        calibrated = False
    else:
        terms = {}
    if calibrated:
        cov = None if cov is None else np.asarray(cov, dtype=np.float64)
        if cov is None or cov.shape != (pack.n_bases, pack.n_bases) or not np.isfinite(cov).all():
            raise ValueError(f"objective 'watch' on pack {pack.name!r} ranks by the chance of a pick, which needs the "
                             f"posterior's cov, finite and ({pack.n_bases}, {pack.n_bases}); got "
                             f"{'none' if cov is None else f'shape {cov.shape}'}")
    stated_beta = pack.beta(objective, stated=True) if beta is None else float(beta)
    beta = pack.beta(objective) if beta is None else float(beta)
    if not (np.isfinite(beta) and np.isfinite(stated_beta)):
        raise ValueError(f"beta must be finite, got {beta!r}")
    features = pack.content_features(candidate_embeddings) if outside else pack.features
    if calibrated:
        assert catalog is not None
        prior = pack.session_prior(objective)
        linear, scale = predictive_moments(_single(pack), mean, cov, _prior_variance(pack, objective))
        terms = {"offset": catalog.offset, "scale": scale, "centre": prior.prior_mean,
                 "base": (linear + catalog.offset) / scale - catalog.penalty()}
    if summary is None:
        weights = np.zeros(0)
    else:
        weights = (beta * summary_weights(pack, summary, stated=False)
                   + stated_beta * descriptor_index(pack).stated_unit * summary_weights(pack, summary, stated=True))
    if not weights.any():
        return _Scoring(features, mean, np.zeros((len(features), 0)), np.zeros(0), **terms)
    if not outside:
        association = descriptor_index(pack).association
    else:
        association = (text_associations(pack, candidate_embeddings) if candidate_associations is None
                       else candidate_associations)
    return _Scoring(features, mean, association, weights, **terms)


_SINGLE: weakref.WeakKeyDictionary[Pack, np.ndarray] = weakref.WeakKeyDictionary()


def _single(pack: Pack) -> np.ndarray:
    """The catalog's features in single precision, copied once per pack, for the products that read
    every item: half the bytes and twice the speed of double precision, with errors (about
    :math:`10^{-7}` of a score) far below the model's own, as the known-items model keeps its tables."""
    single = _SINGLE.get(pack)
    if single is None:
        single = _SINGLE[pack] = np.ascontiguousarray(pack.features, dtype=np.float32)
    return single


_PRIOR_VARIANCES: weakref.WeakKeyDictionary[Pack, dict[str, tuple[np.ndarray, np.ndarray]]] = weakref.WeakKeyDictionary()


def _prior_variance(pack: Pack, objective: str) -> tuple[np.ndarray, np.ndarray]:
    r"""``(S_0, v^0)``: the session prior's covariance and :math:`v^0_i = \phi_i^\top S_0 \phi_i` of every
    catalog item, computed once per pack and objective (the ``reference`` of
    :func:`~prefchat.elicitation.posterior.predictive_scale`: a posterior then costs O(n r K))."""
    cache = _PRIOR_VARIANCES.setdefault(pack, {})
    if objective not in cache:
        prior_cov = pack.session_prior(objective).prior_cov
        cache[objective] = (prior_cov, np.einsum("ik,ik->i", pack.features @ prior_cov, pack.features))
    return cache[objective]


def item_scores(pack: Pack, mean: np.ndarray, summary: Summary | None = None, *, candidate_embeddings: np.ndarray | None = None,
                beta: float | None = None, objective: str = "prefer", cov: np.ndarray | None = None,
                discount: float | None = None, known: Collection[int] = ()) -> np.ndarray:
    """Scores of every catalog item (or of every candidate text), as :func:`rank` orders them.

    Parameters are those of :func:`rank`; ``candidate_embeddings`` (n_candidates, d) scores texts
    outside the catalog.

    Returns
    -------
    (n_items,) or (n_candidates,)
    """
    return _scoring(pack, mean, summary, candidate_embeddings, beta, objective, cov, discount, known=known).scores()


@dataclass(frozen=True, eq=False)
class ServedScore:
    """``score(posterior) -> (n_items,)``: the catalog as the app ranks it for a session posterior of ``objective``.

    :func:`item_scores` with the summary the session writes when it finishes (only where the
    pack's :meth:`~prefchat.reward.pack.Pack.beta` for the objective is not 0: otherwise the
    summary adds nothing). The scoring the benchmark passes to
    :func:`~prefchat.elicitation.evaluate.evaluate`, so that it measures what is served; a class
    rather than a closure so that the benchmark's worker processes can take it. ``discount``:
    the exposure control, default the pack's validated one
    (:attr:`~prefchat.reward.pack.Pack.exposure_discount`), as :func:`rank` serves it.
    """

    pack: Pack
    objective: str
    discount: float | None = None

    def __call__(self, posterior: Posterior) -> np.ndarray:
        summary = None
        if self.pack.beta(self.objective):
            skipped = sum(isinstance(answer, Comparison) and answer.choice == "skip" for answer in posterior.answers)
            summary = summarize(self.pack, posterior.mean, posterior.cov, len(posterior.answers), skipped,
                                answers=posterior.answers)
        return item_scores(self.pack, posterior.mean, summary, objective=self.objective, cov=posterior.cov,
                           discount=self.discount, known=known_items(posterior.answers))


def rank(
    pack: Pack,
    mean: np.ndarray,
    summary: Summary | None = None,
    *,
    candidates: list[str] | None = None,
    candidate_embeddings: np.ndarray | None = None,
    candidate_associations: np.ndarray | None = None,
    k: int = 10,
    beta: float | None = None,
    exclude: Sequence[int] = (),
    objective: str = "prefer",
    only: Sequence[int] | None = None,
    cov: np.ndarray | None = None,
    discount: float | None = None,
    known: Collection[int] = (),
) -> list[Ranked]:
    r"""The ``k`` best items for a user, best first, ties broken by lower index.

    Parameters
    ----------
    pack : the pack the coefficients live in
    mean : (n_bases,) the user's posterior mean
    summary : the user's semantic summary; None ranks by coefficients alone
    candidates : texts to rank instead of the catalog, with their ``candidate_embeddings``
        (n_candidates, d) from the pack's embedding model
    candidate_associations : (n_candidates, n_descriptors) the candidates'
        :func:`~prefchat.assistant.summary.text_associations`, where the caller holds them already
        (texts asked about again and again); default computed from ``candidates``
    k : how many to return (fewer when fewer remain)
    beta : weight of the summary; default the pack's, validated for ``objective`` (:meth:`~prefchat.reward.pack.Pack.beta`)
    exclude : indices (into the catalog, or into ``candidates``) never returned, e.g. the items
        asked about or rejected
    objective : "prefer" or "watch" (catalog only), see the module docstring
    only : indices to rank among (default: all), e.g. a single item to say why it scores as it does
    cov : (n_bases, n_bases) the user's posterior covariance; needed by "watch" on packs with base
        rates (:attr:`~prefchat.reward.pack.Pack.familiarity`)
    discount : the exposure control of a "watch" catalog ranking, :math:`\gamma \ge 0`
        (:class:`~prefchat.elicitation.onboarding.CatalogScore`); default the pack's validated
        :attr:`~prefchat.reward.pack.Pack.exposure_discount`
    known : catalog items the user is known to know (:func:`~prefchat.elicitation.onboarding.known_items`
        of their answers): the evidence of a "watch" ranking on a pack with a known-items model
        (:attr:`~prefchat.reward.pack.Pack.known_model`); elsewhere unused
    """
    if (candidates is None) != (candidate_embeddings is None):
        raise ValueError("pass candidates and candidate_embeddings together, or neither")
    if candidates is not None and len(candidates) != len(candidate_embeddings):
        raise ValueError(f"{len(candidates)} candidates but {len(candidate_embeddings)} candidate embeddings")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if candidates is None:
        association = descriptor_index(pack).association
    elif candidate_associations is None:
        association = text_associations(pack, candidate_embeddings, list(candidates))
    else:
        association = np.asarray(candidate_associations, dtype=np.float64)
        if association.shape != (len(candidates), len(pack.descriptors)):
            raise ValueError(f"candidate_associations of shape {association.shape}, need "
                             f"({len(candidates)}, {len(pack.descriptors)}): one row per candidate, one column per descriptor")
    scoring = _scoring(pack, mean, summary, candidate_embeddings, beta, objective, cov, discount,
                       None if candidates is None else association, known)
    scores = scoring.scores()
    excluded = _indices(exclude, len(scores), "exclude")
    if only is not None:
        excluded = np.union1d(excluded, np.setdiff1d(np.arange(len(scores)), _indices(only, len(scores), "only")))
    centre = descriptor_index(pack).centre
    ranked = []
    for i in top_k(scores, k, excluded):
        i = int(i)
        axis_terms, high = _axis_terms(pack, scoring, i, centre)
        why = _why(pack, axis_terms, high, association[i], summary)
        if candidates is None:
            item = pack.items[i]
            ranked.append(Ranked(i, item.item_id, item.title, float(scores[i]), why, item.text))
        else:
            ranked.append(Ranked(i, None, candidates[i][:TITLE_LENGTH], float(scores[i]), why, candidates[i]))
    return ranked


def _axis_terms(pack: Pack, scoring: _Scoring, i: int, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""What each base adds to item i's score against the catalog mean, and whether i sits above it.

    :math:`(c_k - \mu_{0k}) (\phi_k(i) - \bar\phi_k) / \kappa_i`; a calibrated score's base rate
    :math:`b = a + \phi^\top \mu_0` is how popular the item is, so its part,
    :math:`(b_i - \bar b) / \kappa_i`, counts to the popularity coordinate.
    """
    scale = scoring.scale if np.ndim(scoring.scale) == 0 else scoring.scale[i]
    terms = (scoring.coef - scoring.centre) * (scoring.features[i] - centre) / scale
    high = scoring.features[i] > centre
    if np.ndim(scoring.offset) and "popularity" in pack.population_coordinates:
        k = pack.n_learned + pack.population_coordinates.index("popularity")
        base_mean = scoring.offset_mean + centre @ scoring.centre  # the mean of b, without computing every b
        terms[k] += (scoring.base_rate_logit(i) - base_mean) / scale
    return terms, high


def _indices(values: Sequence[int], n: int, name: str) -> np.ndarray:
    """``values`` as an index array, each in ``0..n-1``."""
    values = np.asarray(values, dtype=np.intp).reshape(-1)
    outside = values[(values < 0) | (values >= n)]
    if outside.size:
        raise ValueError(f"{name} holds index {outside[0]}, outside 0..{n - 1}")
    return values


def _axis_phrase(pack: Pack, k: int, high: bool) -> str:
    """Base ``k`` in words at the end an item sits on: "drama/documentary side", "well rated"."""
    if k < pack.n_learned:
        axis = pack.axes[k]
        words = axis.positive if high else axis.negative
        return f"{'/'.join(words[:2])} side" if words else axis.name
    name = pack.population_coordinates[k - pack.n_learned]
    return POPULATION_WORDS.get(name, (f"high {name}", f"low {name}"))[0 if high else 1]


def _why(pack: Pack, axis_terms: np.ndarray, high: np.ndarray, association: np.ndarray, summary: Summary | None) -> str:
    r"""One short sentence naming the user's own preferences item ``i`` meets (:func:`wording.pick_reason`).

    The summary's descriptors the item meets best (:math:`w_j z_{ij} \ge 1/2` of a stated
    weight's worth, at most :data:`WHY_AXES`), liked ones as "as you like" ("as you said" when
    stated, all of them), disliked ones it stays clear of as "not x"; else the learned axis on which the user's
    answers lift the item most, :math:`(c_k - \mu_{0k})(\phi_k(i) - \bar\phi_k)`, if it brings at
    least :data:`WHY_SHARE` of the item's positive contributions, named by a descriptor of that
    end the item carries ("sci-fi, which you pick more than most"). Popularity or rating is added only next to a personal reason, never alone.
    """
    liked: list[str] = []
    avoided: list[str] = []
    stated = True
    if summary is not None and summary.weights:
        by_name = {w.descriptor: w for w in summary.weights}
        row = association * summary_weights(pack, summary)  # w_j z_ij: positive where the item meets w_j
        for j in np.argsort(-row, kind="stable")[:WHY_AXES]:
            weight = by_name.get(pack.descriptors[int(j)])
            if weight is None or row[j] < 0.5 * abs(weight.weight):
                continue
            (liked if weight.weight > 0 else avoided).append(weight.descriptor)
            stated &= weight.stated
    learned = axis_terms[: pack.n_learned]
    total = axis_terms[axis_terms > 0].sum()
    axis = None
    if learned.size and learned.max() > 0 and learned.max() >= WHY_SHARE * total:
        k = int(np.argmax(learned))
        words = pack.axes[k].positive if high[k] else pack.axes[k].negative
        columns = descriptor_index(pack).columns  # only a word the item itself carries (above the catalog mean)
        words = tuple(w for w in words if w in columns and association[columns[w]] > 0)
        axis = words[0] if words else None
    population = [(axis_terms[pack.n_learned + c], name) for c, name in enumerate(pack.population_coordinates)]
    best = max(population, default=(0.0, ""))
    popular = POPULATION_WORDS.get(best[1], ("",))[0] if best[0] > 0 and best[0] >= WHY_SHARE * total else None
    return wording.pick_reason(liked, avoided, stated, axis, popular)


# --------------------------------------------------------------------------- choosing beta


def _held_out(user: ValidationUser, scores: np.ndarray) -> tuple[float, float]:
    """Pairwise accuracy and AUC of ``scores`` on a validation user's EVAL half.

    Ratings: over the unequally rated EVAL items (:func:`pairwise_accuracy`, :func:`pairwise_auc`).
    Pairs (``eval_items`` of shape (n, 2)): each pair on its own, ties left out.
    """
    if user.eval_items.ndim == 1:
        mine = scores[user.eval_items]
        return pairwise_accuracy(mine, user.eval_ratings), pairwise_auc(mine, user.eval_ratings)
    decided = user.eval_ratings != 0.5
    if not decided.any():
        return np.nan, np.nan
    margin = scores[user.eval_items[decided, 0]] - scores[user.eval_items[decided, 1]]
    won = user.eval_ratings[decided] > 0.5
    accuracy = float(np.mean(np.where(margin == 0, 0.5, (margin > 0) == won)))
    return accuracy, roc_auc(margin, won)


def choose_beta(pack: Pack, validation: Sequence[ValidationUser],
                multipliers: Sequence[float] = BETA_MULTIPLIERS) -> tuple[float, list[dict]]:
    r"""The summary weight :math:`\beta` that ranks validation users' held-out items best.

    For each validation user (:func:`prefchat.reward.train.make_validation_users`: ten explicit
    answers from a QUERY half, an EVAL half held out): the posterior the onboarding loop holds after
    them (:func:`~prefchat.elicitation.onboarding.replay` from the "prefer" session prior),
    the summary (:func:`~prefchat.assistant.summary.summarize`), and the "prefer" scores
    :math:`m^\top\phi + \beta s` for every :math:`\beta` of the grid

    .. math:: \beta = \mu \cdot \mathrm{median}_u \frac{\mathrm{sd}_i(m_u^\top \phi(i))}{\mathrm{sd}_i(s_u(i))},
              \qquad \mu \in \texttt{multipliers}

    (the median over users whose summary is not empty: at :math:`\mu = 1` the two terms spread
    alike). The chosen :math:`\beta` maximises mean pairwise accuracy plus mean AUC on the EVAL
    halves; among equals, the smallest.

    Parameters
    ----------
    pack : the trained pack (its items index the users' arrays)
    validation : validation users, never training or test users
    multipliers : the grid, in units of the natural scale

    Returns
    -------
    beta : float
    table : one dict per multiplier: ``multiplier``, ``beta``, ``pairwise_accuracy``, ``auc``
        (means over users), ``n_users``
    """
    if not validation:
        raise ValueError("choose_beta needs at least one validation user, got none")
    prior = pack.session_prior("prefer")
    fits, ratios = [], []
    for user in validation:
        answers = list(user.query_pairs)
        posterior = replay(prior, pack.features, answers)
        summary = summarize(pack, posterior.mean, posterior.cov, len(answers), 0, answers=answers)
        coefficients, affinity = pack.features @ posterior.mean, summary_affinity(pack, summary)
        if affinity.std() > 0:
            ratios.append(coefficients.std() / affinity.std())
        fits.append((user, coefficients, affinity))
    scale = float(np.median(ratios)) if ratios else 0.0
    table = []
    for multiplier in multipliers:
        beta = multiplier * scale
        values = np.array([_held_out(user, coefficients + beta * affinity) for user, coefficients, affinity in fits])
        table.append({"multiplier": float(multiplier), "beta": beta, "pairwise_accuracy": float(np.nanmean(values[:, 0])),
                      "auc": float(np.nanmean(values[:, 1])), "n_users": int(np.isfinite(values[:, 0]).sum())})
    best = max(table, key=lambda row: (row["pairwise_accuracy"] + row["auc"], -row["beta"]))
    return best["beta"], table


WATCH_BETA_MULTIPLIERS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
"""The grid of :func:`choose_watch_beta`, in units of its natural scale: all positive, so that what a
user states always moves their recommendations."""
STATED_MULTIPLIERS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""The grid of the stated weight, in units of its natural scale: it reaches three decades below it,
because a scale whose spread is dominated by a few items (the known-items model's log scores) makes
the natural unit far too strong."""
HONOURED = 0.9
"""Share of validation users whose statement, either way, must move their top 20 its way (:func:`_honoured`)."""
STATED_SIMULATION_ANSWERS = 10
"""Answers of a simulated user before they state a preference (the served session's length)."""


def strongest_stated(pack: Pack, items: np.ndarray, min_items: int = 2) -> tuple[str, float] | None:
    r"""The like or dislike a user whose held-out picks are ``items`` would state: the descriptor
    they pick most above, or below, what the crowd's picks would lead one to expect.

    .. math:: \mathrm{lift}_j = \frac{o_j - e_j}{\sqrt{e_j}}, \qquad
              o_j = \sum_{i \in \text{items}} A_{ij}, \quad
              e_j = |\text{items}| \frac{\sum_i p_i A_{ij}}{\sum_i p_i}

    with :math:`p` the training users' pick counts (:attr:`~prefchat.reward.pack.Pack.popularity`)
    and :math:`A` the 0/1 descriptor matrix of a tags pack (the standardised association
    otherwise, shifted to be non-negative). ``None`` when no descriptor is carried by at least
    ``min_items`` of the items or expected there.

    On a tags pack a dislike is only said of a tag *none* of the items carries: a person who says
    "no horror please" picks no horror (and the served path then leaves horror out, see
    :func:`stated_exclusions`); one who picked 30 dramas where the crowd picks 45 watches less
    drama than most, which is no dislike.

    Returns
    -------
    (descriptor, +STATED_WEIGHT or -STATED_WEIGHT)
    """
    index = descriptor_index(pack)
    association = index.association - index.association.min(0)
    weights = np.asarray(pack.popularity, dtype=np.float64)
    share = weights @ association / max(weights.sum(), 1e-12)
    observed, expected = association[np.asarray(items)].sum(0), len(items) * share
    lift = np.divide(observed - expected, np.sqrt(expected), out=np.zeros_like(expected), where=expected > 0)
    carried = (association[np.asarray(items)] > 0).sum(0)
    lift[(carried < min_items) & (expected < min_items)] = 0.0
    if pack.descriptor_source == "tags":
        lift[(lift < 0) & (carried > 0)] = 0.0
    if not np.any(lift):
        return None
    j = int(np.argmax(np.abs(lift)))
    return pack.descriptors[j], float(np.sign(lift[j]) * STATED_WEIGHT)


def stated_exclusions(pack: Pack, summary: Summary | None) -> np.ndarray:
    """Catalog items a recommendation leaves out because the user said they do not want what they
    carry: on a pack whose descriptors are its items' tags, the items carrying a tag the user
    stated a dislike of ("no horror please" is an instruction, not only a weight). Elsewhere
    (descriptors measured or embedded, present in every item to a degree) none.

    Returns
    -------
    (n,) sorted catalog indices
    """
    if summary is None or pack.descriptor_source != "tags":
        return np.zeros(0, dtype=np.intp)
    index = descriptor_index(pack)
    columns = [index.columns[w.descriptor] for w in summary.stated if w.weight < 0 and w.descriptor in index.columns]
    if not columns:
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero((index.association[:, columns] > 0).any(axis=1))


LIKE_FACTORS = tuple(2.0**m for m in range(21))
"""Factors of the validated stated weight a stated like may be served with (:func:`like_factor`):
doubling, so the one served is at most twice the least that moves the picks."""


def like_factor(scores: Callable[[float], np.ndarray], carried: np.ndarray, k: int,
                exclude: Sequence[int] | np.ndarray = ()) -> float:
    """The factor a user's stated likes are served with: the first of :data:`LIKE_FACTORS` at which
    the top ``k`` by ``scores(factor)`` holds more items carrying each liked descriptor than
    ``scores(0.0)`` (the picks without the likes), or is full of them; the last when none is.

    The validated weight moves most statements (:func:`choose_watch_beta`); where it does not ("I
    love documentaries" from a user whose profile ranks no documentary near the top), the like
    still moves the picks its way: what a user states always moves their recommendations.

    Parameters
    ----------
    scores : factor -> (n,) scores, the stated likes' weights times the factor
    carried : (n, L) bool, item i carries liked descriptor l (association above the catalog's mean)
    exclude : items never in the top k
    """
    exclude = np.asarray(exclude, dtype=np.intp)
    before = carried[top_k(scores(0.0), k, exclude)].sum(0)
    for factor in LIKE_FACTORS:
        after = carried[top_k(scores(factor), k, exclude)].sum(0)
        if np.all((after > before) | (before == min(k, len(carried)))):
            return factor
    return LIKE_FACTORS[-1]


def liked_carriers(pack: Pack, summary: Summary) -> np.ndarray:
    """(n_items, L) bool: catalog item i carries the l-th descriptor the user stated a like of
    (association above the catalog mean; on a tags pack, the tag)."""
    index = descriptor_index(pack)
    columns = [index.columns[w.descriptor] for w in summary.stated if w.weight > 0 and w.descriptor in index.columns]
    return index.association[:, columns] > 0


def picks_fit(pack: Pack, summary: Summary, picks: Sequence[int]) -> bool:
    """Whether the catalog items ``picks`` already are what the user stated: none carries a
    descriptor they said they dislike, every one carries each they said they like (association
    above the catalog mean; on a tags pack, the tag)."""
    index = descriptor_index(pack)
    carried = index.association[np.asarray(picks, dtype=np.intp)] > 0
    for w in summary.stated:
        if w.descriptor in index.columns:
            column = carried[:, index.columns[w.descriptor]]
            if (column.any() if w.weight < 0 else not column.all()):
                return False
    return True


def held_out_recall(scores: np.ndarray, user: ValidationUser, k: int = 20, exclude: np.ndarray | None = None) -> float:
    """Recall@k of the user's EVAL items in the catalog ranked by ``scores``, QUERY items (and
    ``exclude``, what the user's statements leave out) left out."""
    left_out = np.asarray(user.query_items) if exclude is None else np.union1d(user.query_items, exclude)
    ranked = top_k(scores, k, left_out.astype(np.intp))
    return recall_at_k(ranked, user.eval_items, k)


def stated_preference_fits(pack: Pack, users: Sequence[ValidationUser]) -> list[dict]:
    """For each user: the "watch" session posterior after their first answers, the summary the
    session writes, and that summary corrected by the preference they state (:func:`strongest_stated`
    of their EVAL half), with what the statement leaves out as served (:func:`stated_exclusions`).
    The simulation behind :func:`choose_watch_beta` and ``bench/stated_preference.py``."""
    prior = pack.session_prior("watch")
    fits = []
    for user in users:
        answers = list(user.implicit_pairs)[:STATED_SIMULATION_ANSWERS]
        posterior = replay(prior, pack.features, answers)
        summary = summarize(pack, posterior.mean, posterior.cov, len(answers), 0, answers=answers)
        said = strongest_stated(pack, user.eval_items)
        corrected = summary if said is None else apply_correction(summary, dict([said]), pack)
        base = item_scores(pack, posterior.mean, None, objective="watch", cov=posterior.cov, known=known_items(answers))
        stated_only = Summary("", corrected.stated, 0, 0)
        generated_only = Summary("", tuple(w for w in corrected.weights if not w.stated), 0, 0)
        fits.append({"user": user, "base": base, "generated": summary_affinity(pack, generated_only),
                     "stated": stated_affinity(pack, stated_only), "said": said,
                     "excluded": stated_exclusions(pack, stated_only), "carried": liked_carriers(pack, stated_only)})
    return fits


def served_statement(fit: dict, beta: float, stated_beta: float, k: int = 20) -> np.ndarray:
    """Scores of one simulated user's catalog after their statement, as the app serves it: the
    generated summary at ``beta``, the statement at ``stated_beta`` (a like times its
    :func:`like_factor`); what a stated dislike leaves out is ``fit["excluded"]``."""
    base = fit["base"] + beta * fit["generated"]
    if not fit["carried"].shape[1]:
        return base + stated_beta * fit["stated"]
    exclude = np.union1d(fit["user"].query_items, fit["excluded"]).astype(np.intp)
    factor = like_factor(lambda f: base + f * stated_beta * fit["stated"], fit["carried"], k, exclude)
    return base + factor * stated_beta * fit["stated"]


def choose_watch_beta(pack: Pack, validation: Sequence[ValidationUser],
                      multipliers: Sequence[float] = WATCH_BETA_MULTIPLIERS) -> tuple[dict, list[dict]]:
    r"""The summary's weights on the scale "watch" recommendations are served on: calibrated logits.

    Simulated on validation users (:func:`stated_preference_fits`): each answers
    :data:`STATED_SIMULATION_ANSWERS` questions of their QUERY half, the session writes its
    summary, and the user states their strongest like or dislike from their EVAL half. The
    catalog is ranked by :math:`\ell + \beta s_\text{gen} + \beta_\text{stated} s_\text{stated}`
    (:math:`\ell` the calibrated watch logits, :func:`item_scores`; the summary's generated and
    stated descriptors apart), QUERY items left out, and scored by Recall@20 of the EVAL items.
    Each weight runs over its grid

    .. math:: \mu \cdot \mathrm{median}_u \frac{\mathrm{sd}_i(\ell_u(i))}{\mathrm{sd}_i(s_u(i))},
              \qquad \mu \in \{0\} \cup \texttt{multipliers}

    :math:`\beta` first (generated summary alone: 0 is allowed, it may not help), the best mean
    winning, the smallest among equals. Then :math:`\beta_\text{stated}`, whose job is different:
    what a user states must move their picks. Among the weights of :data:`STATED_MULTIPLIERS` at
    which, over users and every descriptor of the pack, at least :data:`HONOURED` of the statements,
    said as a dislike and as a like, move the top 20 their way (:func:`_honoured`), it is the one of
    best Recall@20 with the simulated statements served as the app serves them (a stated dislike on
    a tags pack leaves its items out, :func:`stated_exclusions`), the smallest among equals; the
    largest tried when none is honoured. The table records the Recall@20 of every weight tried.

    Returns
    -------
    chosen : ``{"watch_beta": ..., "watch_stated_beta": ...}``
    table : one dict per setting tried (``weight``, ``multiplier``, ``beta``, ``recall``, ``n_users``),
        the first row the ranking without any summary
    """
    fits = [f for f in stated_preference_fits(pack, [u for u in validation if u.eval_items.ndim == 1]) if f["said"]]
    if not fits:
        raise ValueError("choose_watch_beta needs validation users with ratings and a preference to state, got none")

    def scale(key: str) -> float:
        ratios = [f["base"].std() / f[key].std() for f in fits if f[key].std() > 0]
        return float(np.median(ratios)) if ratios else 0.0

    def recall(beta: float, stated_beta: float | None) -> float:
        """Mean Recall@20 with the generated summary at ``beta`` and, unless None, the statement as served."""
        if stated_beta is None:
            return float(np.nanmean([held_out_recall(f["base"] + beta * f["generated"], f["user"]) for f in fits]))
        return float(np.nanmean([held_out_recall(served_statement(f, beta, stated_beta), f["user"], exclude=f["excluded"])
                                 for f in fits]))

    table = [{"weight": "none", "multiplier": 0.0, "beta": 0.0, "recall": recall(0.0, None), "n_users": len(fits)}]
    generated = []
    for multiplier in (0.0, *multipliers):
        beta = multiplier * scale("generated")
        generated.append({"weight": "watch_beta", "multiplier": float(multiplier), "beta": beta,
                          "recall": recall(beta, None), "n_users": len(fits)})
    best = max(generated, key=lambda row: (row["recall"], -row["beta"]))["beta"]
    index = descriptor_index(pack)
    association = index.association * index.stated_unit  # what a stated weight moves, as served
    for f in fits:
        f["with_generated"] = f["base"] + best * f["generated"]
    stated = []
    for multiplier in STATED_MULTIPLIERS:
        beta = multiplier * scale("stated")
        stated.append({"weight": "watch_stated_beta", "multiplier": float(multiplier), "beta": beta,
                       "recall": recall(best, beta), "n_users": len(fits),
                       "honoured": float(np.mean([_honoured(f, association, beta, pack.descriptor_source == "tags")
                                                  for f in fits]))})
    honoured = [row for row in stated if row["honoured"] >= HONOURED]
    best_stated = max(honoured, key=lambda row: (row["recall"], -row["beta"]))["beta"] if honoured else stated[-1]["beta"]
    return {"watch_beta": best, "watch_stated_beta": best_stated}, table + generated + stated


def _honoured(fit: dict, association: np.ndarray, stated_beta: float, excludes: bool, k: int = 20) -> float:
    """The share of the pack's descriptors whose statement, either way, moves the user's top ``k``
    its way: a dislike at least halves the descriptor's share of the top k, a like raises it (or
    keeps a full top k full). A dislike is served as :func:`rank` serves it: with ``excludes`` (a
    tags pack, :func:`stated_exclusions`) the items carrying the descriptor are left out as well."""
    exclude = np.asarray(fit["user"].query_items)
    base, carried = fit["with_generated"], association > 0
    honoured = []
    for j in range(association.shape[1]):
        push = stated_beta * STATED_WEIGHT * association[:, j]
        before, liked = (float(carried[top_k(scores, k, exclude), j].mean()) for scores in (base, base + push))
        disliked = 0.0 if excludes else float(carried[top_k(base - push, k, exclude), j].mean())
        honoured.append(disliked <= before / 2 and (liked > before or before == 1.0))
    return float(np.mean(honoured))


def calibrate(pack: Pack, validation: Sequence[ValidationUser]) -> tuple[dict, dict]:
    """The ranking's settings for a new pack: ``({"beta", "watch_beta", "watch_stated_beta"}, {tables})``.

    ``beta`` weights the summary on the "prefer" scale (:func:`choose_beta`); on packs whose
    sessions rank the catalog by calibrated "watch" logits (rating data, with base rates),
    ``watch_beta`` weights it on that scale (:func:`choose_watch_beta`). Passed as
    ``calibrate=`` to :func:`prefchat.reward.build.build_pack`, which records both in the pack's
    manifest (hyperparameters and selection tables).
    """
    beta, table = choose_beta(pack, validation)
    chosen, tables = {"beta": beta}, {"beta": table}
    if pack.familiarity is not None and pack.descriptors:
        watch, tables["watch_beta"] = choose_watch_beta(pack, validation)
        chosen.update(watch)
    return chosen, tables
