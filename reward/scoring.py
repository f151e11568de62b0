r"""The served scores of a pack: what a top k is ranked by, below the assistant.

The :class:`~prefchat.assistant.recommender.Recommender` ranks, leaves out and gives reasons; the
scores it ranks by are a :class:`Scorer`'s, here, so that the pack build chooses the weights of the
summary and stated terms (:mod:`~prefchat.reward.calibration`) on exactly the scores the app
serves. What a scorer is asked about a user is a :class:`Taste`: the posterior :math:`N(m, S)` of
a session of some objective, the user's summary, and the items the answers show the user knows.

.. math:: \mathrm{score}(i) = c(i) + \beta\, s(i) + \beta_\text{stated}\, s^\text{stated}(i)

- the **score of the objective** :math:`c(i)`, one scorer each (:meth:`Scorer._base`):

  - ``"prefer"``: the mean utility :math:`\phi(i)^\top m`;
  - ``"watch"`` on a pack with base rates (:attr:`~prefchat.reward.pack.Pack.familiarity`): the
    chance of a pick averaged over the posterior and calibrated to those base rates :math:`f`
    under the session prior :math:`N(\mu_0, \Sigma_0)`, the session's
    :attr:`~prefchat.reward.serving.ObjectiveServing.catalog_score` term for term
    (:func:`~prefchat.elicitation.posterior.predictive_logits`),

    .. math:: c(i) = \frac{\phi(i)^\top m + a_i}{\kappa_i}, \qquad
              a_i = \kappa^0_i \operatorname{logit} f_i - \phi(i)^\top \mu_0, \quad
              \kappa_i = \sqrt{1 + \pi\, \phi(i)^\top S \phi(i) / 8};

  - ``"watch"`` on a pack with a known-items model (:attr:`~prefchat.reward.pack.Pack.known_model`):
    that model's score of the items the user is known to know
    (:class:`~prefchat.elicitation.known.KnownItemsScore`), with the user's friends as its social
    prior where the taste holds them (:mod:`~prefchat.elicitation.social`);

- on a pack with an item trend (:attr:`~prefchat.reward.pack.Pack.trend`), a "watch" score adds the
  drifting item term :math:`\beta_t\, b_i(t)` of the taste's moment :math:`t`
  (:class:`~prefchat.elicitation.trend.ItemTrend`: what was popular just before the session);
- on a pack with a passed-over weight :math:`\delta` (:attr:`~prefchat.reward.pack.Pack.passed_over_weight`),
  a "watch" score less :math:`\delta\, o_i`, :math:`o_i` the times the taste's answers showed item
  :math:`i` and picked another (:func:`~prefchat.elicitation.passed.passed_over`);
- the **exposure control** :math:`\gamma`: a "watch" score less :math:`\gamma \operatorname{logit} f_i`
  (:class:`~prefchat.elicitation.onboarding.CatalogScore`), default the pack's validated one;
- the **summary and stated terms**: :math:`s` the
  :func:`~prefchat.reward.summary.summary_affinity` of the generated weights, :math:`s^\text{stated}`
  the :func:`~prefchat.reward.summary.stated_affinity` of what the user said, each weight
  validated on the objective's own scale (:meth:`~prefchat.reward.pack.Pack.beta`); a stated like
  is served at the first doubling of its weight that moves the picks its way (:func:`like_factor`);
- what a statement leaves out or puts last: :func:`stated_exclusions`, :func:`stated_misses`.

:math:`m, S` must come from a session of the same objective
(:meth:`~prefchat.reward.serving.Serving.session_prior`). Texts outside the catalog (:class:`Candidates`)
are scored by "prefer" with the features of :meth:`~prefchat.reward.pack.Pack.content_features`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from ..elicitation.calibrated import KEPT_WITHIN, calibrated_scores, kept_likes
from ..elicitation.known import KnownItemsScore
from ..elicitation.metrics import top_k
from ..elicitation.onboarding import known_items
from ..elicitation.passed import passed_over
from ..elicitation.personas import Personas
from ..elicitation.posterior import Answer, Posterior, predictive_moments
from ..elicitation.social import SocialEvidence
from .descriptors import DescriptorIndex, text_associations
from .pack import Pack
from .serving import check_objective
from .summary import Summary, descriptor_weights, summary_weights

__all__ = ["LIKE_FACTORS", "Candidates", "Scorer", "Scoring", "Taste", "like_factor", "liked_carriers", "served_taste",
           "stated_exclusions", "stated_misses"]

LIKE_FACTORS = tuple(2.0**m for m in range(21))
"""Factors of the validated stated weight a stated like may be served with (:func:`like_factor`):
doubling, so the one served is at most twice the least that moves the picks."""


@dataclass(frozen=True, eq=False)
class Taste:
    """What a ranking knows of a user.

    Attributes
    ----------
    mean : (n_bases,) the posterior mean :math:`m` of a session of ``objective``
    cov : (n_bases, n_bases) its covariance :math:`S`; needed by "watch" on a pack with base rates
    summary : the user's semantic summary; None ranks by the objective's score alone
    objective : "prefer" or "watch" (catalog only)
    known : catalog items the answers show the user knows (and those they gave feedback on): left
        out of a recommendation, and the evidence of a known-items model
    answers : the answers ``mean`` is the MAP of (items as catalog indices; the catalog size for the
        average item feedback is compared with): what a pick's reason cites
    social : the user's friends as evidence of a known-items model (its social prior,
        :mod:`~prefchat.elicitation.social`), or None: the population prior
    as_of : the moment the ranking is served at (the timestamps' unit: seconds since 1970 for a
        clock), read by a pack's item trend; None: the latest its data know
    earlier : items a returning user's earlier answers showed they know, when a check-in widened
        their profile (:mod:`~prefchat.elicitation.checkin`): left out of a recommendation as
        ``known`` is, but their evidence is in ``social`` at its reduced weight, not in ``known``
    """

    mean: np.ndarray
    cov: np.ndarray | None = None
    summary: Summary | None = None
    objective: str = "prefer"
    known: frozenset[int] = field(default_factory=frozenset)
    answers: tuple[Answer, ...] = ()
    social: SocialEvidence | None = None
    as_of: float | None = None
    earlier: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self):
        check_objective(self.objective)

    @property
    def left_out(self) -> frozenset[int]:
        """The items a recommendation leaves out as known: ``known`` and ``earlier``."""
        return self.known | self.earlier if self.earlier else self.known


@dataclass(frozen=True, eq=False)
class Candidates:
    """Texts outside the catalog to rank, e.g. N drafts of a reply.

    Attributes
    ----------
    texts : the texts
    embeddings : (n, d) their embeddings by the pack's model
    associations : (n, n_descriptors) their :func:`~prefchat.reward.descriptors.text_associations`,
        where the caller holds them already (texts asked about again and again); default computed
    """

    texts: Sequence[str]
    embeddings: np.ndarray
    associations: np.ndarray | None = None

    def __post_init__(self):
        if len(self.texts) != len(self.embeddings):
            raise ValueError(f"{len(self.texts)} candidates but {len(self.embeddings)} candidate embeddings")


@dataclass(frozen=True, eq=False)
class Scoring:
    r"""Everything a score is made of: ``base + association @ weights``.

    ``base`` is the objective's score :math:`c` (discount included). Reasons read the coefficients
    ``coef`` against the prior mean ``centre`` on ``features``; a calibrated "watch" score also
    keeps its ``offset`` :math:`a` and ``scale`` :math:`\kappa`: :math:`m - \mu_0` is what the
    answers taught, and :math:`a + \phi^\top \mu_0 = \kappa^0 \operatorname{logit} f` how popular
    the item is.
    """

    features: np.ndarray      # (n, n_bases)
    coef: np.ndarray          # (n_bases,)
    base: np.ndarray          # (n,)
    association: np.ndarray | None  # (n, n_descriptors), or None where the weights are all 0
    weights: np.ndarray       # (n_descriptors,) beta * summary weights, zeros when the summary plays no part
    offset: np.ndarray | float = 0.0  # (n,) the base-rate offset a of a calibrated score
    scale: np.ndarray | float = 1.0   # (n,) its kappa
    centre: np.ndarray | float = 0.0  # (n_bases,) the prior mean the answers moved away from

    def scores(self) -> np.ndarray:
        used = np.flatnonzero(self.weights)  # a summary names a few descriptors: read their columns only
        if not used.size:
            return self.base
        assert self.association is not None  # given wherever a weight is not 0
        return self.base + self.association[:, used] @ self.weights[used]

    def base_rate_logit(self, i: int) -> float:
        r""":math:`b_i = \kappa^0_i \operatorname{logit} f_i = a_i + \phi(i)^\top \mu_0` of a calibrated score."""
        return float(np.asarray(self.offset)[i] + self.features[i] @ self.centre)

    @cached_property
    def offset_mean(self) -> float:
        """The catalog mean of the offset :math:`a` (with the catalog mean of phi, that of :math:`b`)."""
        return float(np.mean(self.offset))


class Scorer:
    """The served scores of one pack's catalog (or of texts outside it), for any :class:`Taste`.

    Parameters
    ----------
    pack : Pack
    beta : the weight of the summary, generated and stated alike; default the pack's, validated for
        each objective on its own scale (:meth:`~prefchat.reward.pack.Pack.beta`)
    """

    def __init__(self, pack: Pack, beta: float | None = None):
        if beta is not None and not np.isfinite(beta):
            raise ValueError(f"beta must be finite, got {beta!r}")
        self.pack = pack
        self.beta = beta

    def scores(self, taste: Taste, candidates: Candidates | None = None, discount: float | None = None) -> np.ndarray:
        """(n_items,) or (n_candidates,) scores, before a list is calibrated (:meth:`calibrated`)."""
        return self.scoring(taste, candidates, discount).scores()

    def served_scores(self, taste: Taste, discount: float | None = None) -> np.ndarray:
        """(n_items,) the catalog's :meth:`scores` :meth:`calibrated`: any top k of them is the served top k,
        as :meth:`~prefchat.assistant.recommender.Recommender.rank` orders it."""
        return self.calibrated(taste, self.scores(taste, discount=discount))

    def calibrated(self, taste: Taste, scores: np.ndarray, weight: float | None = None, popularity_weight: float | None = None,
                   horizon: int | None = None, length: int | None = None) -> np.ndarray:
        r"""``scores`` of the catalog with their best re-ordered into a list calibrated to ``taste``
        (:func:`~prefchat.elicitation.calibrated.calibrated_scores`), for a "watch" taste on a tags pack,
        and then into one that keeps the summary's word (:func:`~prefchat.elicitation.calibrated.kept_likes`:
        each like it names carried among the first :data:`~prefchat.elicitation.calibrated.KEPT_WITHIN`).

        The genres are the pack's tags (:attr:`~prefchat.reward.descriptors.DescriptorIndex.carried`),
        the popularity its training counts; the items the answers show the user knows are left out of
        the list and of the mix. ``weight`` :math:`\lambda`, ``popularity_weight`` :math:`\mu` and
        ``horizon``: default the pack's validated ones (:attr:`~prefchat.reward.pack.Pack.calibration_weight`,
        ...); :math:`\lambda = \mu = 0` (and elsewhere) the scores unchanged but for the summary's likes.
        ``length``: a caller that reads no further than a top ``length`` (the selection of the settings),
        every position by default.
        """
        if taste.objective != "watch":
            return scores
        pack = self.pack
        weight = pack.calibration_weight if weight is None else weight
        popularity_weight = pack.calibration_popularity if popularity_weight is None else popularity_weight
        sides = self.sides(taste)
        allot = None if sides is None else (sides[1], sides[0].shares)
        if self._index.source != "tags":
            weight = popularity_weight = 0.0  # no genres to calibrate to; the tastes still get their shares
        known = np.fromiter(sorted(taste.left_out), dtype=np.intp, count=len(taste.left_out))
        if weight or popularity_weight or allot is not None:
            scores = calibrated_scores(scores, self._index.carried, pack.popularity, weight, popularity_weight,
                                       pack.calibration_horizon if horizon is None else horizon, exclude=known,
                                       personas=allot, length=None if length is None else max(length, KEPT_WITHIN))
        if taste.summary is None or not taste.summary.likes:
            return scores
        index = self._index
        columns = [index.columns[d] for d in taste.summary.likes if d in index.columns]
        return kept_likes(scores, index.carried[:, columns], exclude=np.union1d(known, stated_exclusions(pack, taste.summary)))

    def sides(self, taste: Taste) -> tuple[Personas, np.ndarray] | None:
        r"""The user's several tastes (:mod:`~prefchat.elicitation.personas`) on a pack whose known-items model
        splits them, and the persona each catalog item serves (:math:`\arg\max_p s_{pj}`); None for one taste
        (a "prefer" taste, a pack without personas, or a user whose answers show one)."""
        model = self.pack.known_model
        if taste.objective != "watch" or model is None or model.personas.max_personas == 1:
            return None
        _, personas, own = model.persona_scores(taste.known, taste.social)
        if len(personas) == 1:
            return None
        return personas, np.argmax(own, axis=0)

    # -- the scorers -----------------------------------------------------------------------------

    @property
    def _index(self) -> DescriptorIndex:
        return self.pack.serving.descriptors

    def _beta(self, objective: str, stated: bool = False) -> float:
        return self.pack.beta(objective, stated=stated) if self.beta is None else float(self.beta)

    def scoring(self, taste: Taste, candidates: Candidates | None, discount: float | None,
                 association: np.ndarray | None = None) -> Scoring:
        """The parts of ``taste``'s scores; ``association``: the items' descriptor associations where the
        caller holds them (read here only where the summary weighs a descriptor)."""
        pack = self.pack
        mean = np.asarray(taste.mean, dtype=np.float64)
        if mean.shape != (pack.n_bases,) or not np.isfinite(mean).all():
            raise ValueError(f"mean must be {pack.n_bases} finite coefficients for pack {pack.name!r}, got shape {mean.shape}")
        if candidates is not None and taste.objective == "watch":
            raise ValueError("objective 'watch' ranks the catalog (its base rates are about catalog items); "
                             "rank candidate texts with 'prefer'")
        if discount is not None and not (np.isfinite(discount) and discount >= 0):
            raise ValueError(f"discount must be finite and >= 0, got {discount!r}")
        weights = self._weights(taste)
        if association is None and weights.any():
            association = self._index.association if candidates is None else self._associations(candidates)
        if candidates is not None:
            features = pack.content_features(candidates.embeddings)
            return Scoring(features, mean, features @ mean, association, weights)
        scoring = self._base(taste, mean, discount, weights, association)
        if taste.objective != "watch":
            return scoring
        trend, delta = pack.trend, pack.passed_over_weight
        if trend is not None and trend.beta:
            scoring = replace(scoring, base=scoring.base + trend.term(taste.as_of))
        if delta and taste.answers:
            scoring = replace(scoring, base=scoring.base - delta * passed_over(taste.answers, pack.n_items))
        return scoring

    def _base(self, taste: Taste, mean: np.ndarray, discount: float | None, weights: np.ndarray,
              association: np.ndarray | None) -> Scoring:
        """The catalog's score of the objective: one scorer per kind of :class:`~prefchat.elicitation.onboarding.CatalogScore`."""
        pack = self.pack
        serving = pack.serving.objective(taste.objective)
        catalog = serving.discounted(discount)
        if isinstance(catalog, KnownItemsScore):  # the order is the known-items model's; reasons read m on the learned axes
            return Scoring(pack.features, mean, catalog.known(taste.known, taste.social), association, weights,
                            centre=serving.prior.prior_mean)
        if catalog.offset is None:  # the mean utility (no base rates, so no exposure control either)
            return Scoring(pack.features, mean, pack.features @ mean, association, weights)
        cov = None if taste.cov is None else np.asarray(taste.cov, dtype=np.float64)
        if cov is None or cov.shape != (pack.n_bases, pack.n_bases) or not np.isfinite(cov).all():
            raise ValueError(f"objective 'watch' on pack {pack.name!r} ranks by the chance of a pick, which needs the "
                             f"posterior's cov, finite and ({pack.n_bases}, {pack.n_bases}); got "
                             f"{'none' if cov is None else f'shape {cov.shape}'}")
        linear, scale = predictive_moments(pack.serving.single_features, mean, cov, serving.prior_variance)
        base = (linear + catalog.offset) / scale - catalog.penalty()
        return Scoring(pack.features, mean, base, association, weights, catalog.offset, scale, serving.prior.prior_mean)

    def _weights(self, taste: Taste) -> np.ndarray:
        """(n_descriptors,) :math:`\\beta w + \\beta_\\text{stated} u w_\\text{stated}` of the summary."""
        if taste.summary is None:
            return np.zeros(len(self.pack.descriptors))
        generated = summary_weights(self.pack, taste.summary, stated=False)
        stated = summary_weights(self.pack, taste.summary, stated=True)
        return (self._beta(taste.objective) * generated
                + self._beta(taste.objective, stated=True) * self._index.stated_unit * stated)

    def _associations(self, candidates: Candidates) -> np.ndarray:
        if candidates.associations is None:
            return text_associations(self.pack.serving.descriptors, candidates.embeddings, list(candidates.texts))
        association = np.asarray(candidates.associations, dtype=np.float64)
        if association.shape != (len(candidates.texts), len(self.pack.descriptors)):
            raise ValueError(f"candidate_associations of shape {association.shape}, need "
                             f"({len(candidates.texts)}, {len(self.pack.descriptors)}): one row per candidate, "
                             "one column per descriptor")
        return association


def served_taste(pack: Pack, posterior: Posterior, as_of: float | None = None, objective: str = "watch",
                 social: SocialEvidence | None = None) -> Taste:
    """The taste a finished session of ``posterior`` and ``objective`` serves at ``as_of``, as the benchmark and
    the build's choices read it: its posterior, the items its answers show the user knows, its answers (the
    passed-over term reads them), the user's friends as evidence (``social``), and its summary's weights where
    the list reads them (a "watch" list keeps its likes; elsewhere only the pack's summary weight reads them,
    and a weight of 0 reads nothing): :func:`~prefchat.reward.summary.descriptor_weights`, as the summary the app writes."""
    answers = tuple(posterior.answers)
    summary = None
    if objective == "watch" or pack.beta(objective):
        summary = Summary("", descriptor_weights(pack, posterior.mean, posterior.cov, answers=answers), len(answers), 0)
    return Taste(posterior.mean, posterior.cov, summary, objective, known_items(answers), answers, social=social, as_of=as_of)


# --------------------------------------------------------------------------- what the user stated


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
    index = pack.serving.descriptors
    columns = [index.columns[w.descriptor] for w in summary.stated if w.weight < 0 and w.descriptor in index.columns]
    if not columns:
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero((index.association[:, columns] > 0).any(axis=1))


def like_factor(scores: Callable[[float], np.ndarray], carried: np.ndarray, k: int,
                exclude: Sequence[int] | np.ndarray = ()) -> float:
    """The factor a user's stated likes are served with: the first of :data:`LIKE_FACTORS` at which
    the top ``k`` by ``scores(factor)`` holds more items carrying each liked descriptor than
    ``scores(0.0)`` (the picks without the likes), or is full of them; the last when none is.

    The validated weight moves most statements (:func:`~prefchat.reward.calibration.choose_watch_beta`);
    where it does not ("I love documentaries" from a user whose profile ranks no documentary near
    the top), the like still moves the picks its way: what a user states always moves their
    recommendations.

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
    (:attr:`~prefchat.reward.descriptors.DescriptorIndex.carried`; on a tags pack, the tag)."""
    index = pack.serving.descriptors
    columns = [index.columns[w.descriptor] for w in summary.stated if w.weight > 0 and w.descriptor in index.columns]
    return index.carried[:, columns]


def stated_misses(pack: Pack, summary: Summary | None) -> np.ndarray:
    r"""(n_items,) how many of the user's stated preferences for a measured descriptor each item
    goes against: it carries one they said they dislike, or lacks one they said they like.

    .. math:: \mathrm{miss}_i = \sum_{j \text{ stated}} [w_j < 0]\, c_{ij} + [w_j > 0]\, (1 - c_{ij})

    with :math:`c` the :attr:`~prefchat.reward.descriptors.DescriptorIndex.carried` matrix, over
    descriptors a text measure defines (emoji, length, lists, examples...): what the pack counts
    in an answer rather than guesses from its embedding. A statement is an instruction:
    :meth:`~prefchat.assistant.recommender.Recommender.recommend` serves fewer misses first. On a tags pack none: a stated
    dislike leaves its items out (:func:`stated_exclusions`) and a stated like is a weight.
    """
    misses = np.zeros(pack.n_items, dtype=np.intp)
    if summary is None or pack.descriptor_source == "tags":
        return misses
    index = pack.serving.descriptors
    for w in summary.stated:
        j = index.columns.get(w.descriptor)
        if j is not None and index.measured[j]:
            misses += index.carried[:, j] if w.weight < 0 else ~index.carried[:, j]
    return misses
