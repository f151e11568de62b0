r"""The recommendation path: what a top k is made of, owned once.

The twin of the onboarding loop (:mod:`~prefchat.elicitation.onboarding`): the chat, the REST
API, the Python API, ``prefchat eval``, the benchmarks and pack validation all rank through one
:class:`Recommender`. What it is asked about a user is a :class:`Taste`: the posterior
:math:`N(m, S)` of a session of some objective, the user's summary, and the items the answers
show the user knows. A served top k (:meth:`Recommender.recommend`) is

.. math:: \operatorname{top}_k\big(\mathrm{score}(i)\big), \qquad
          \mathrm{score}(i) = c(i) + \beta\, s(i) + \beta_\text{stated}\, s^\text{stated}(i),
          \quad i \notin \text{known} \cup \text{disliked},

each pick with its reason (:func:`_why`). Its parts:

- the **score of the objective** :math:`c(i)`, one scorer each (:meth:`Recommender._base`):

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
    prior where the taste holds them (:mod:`~prefchat.elicitation.social`); reasons still read :math:`m`;

- the **exposure control** :math:`\gamma`: a "watch" score less :math:`\gamma \operatorname{logit} f_i`
  (:class:`~prefchat.elicitation.onboarding.CatalogScore`), default the pack's validated one;
- the **summary and stated terms**: :math:`s` the
  :func:`~prefchat.assistant.summary.summary_affinity` of the generated weights, :math:`s^\text{stated}`
  the :func:`~prefchat.assistant.summary.stated_affinity` of what the user said, each weight
  validated on the objective's own scale (:meth:`~prefchat.reward.pack.Pack.beta`); a stated like
  is served at the first doubling of its weight that moves the picks its way (:func:`like_factor`);
- the **items left out**: those the answers show the user knows
  (:func:`~prefchat.elicitation.onboarding.known_items`), and on a tags pack those carrying a tag
  the user said they do not want (:func:`stated_exclusions`);
- the **reasons** (:func:`_why`).

:math:`m, S` must come from a session of the same objective
(:meth:`~prefchat.reward.serving.Serving.session_prior`). Texts outside the catalog (:class:`Candidates`)
are ranked by "prefer" with the features of
:meth:`~prefchat.reward.pack.Pack.content_features`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from ..elicitation import Comparison, Posterior
from ..elicitation.known import KnownItemsScore
from ..elicitation.metrics import top_k
from ..elicitation.onboarding import known_items
from ..elicitation.posterior import predictive_moments
from ..elicitation.social import SocialEvidence, with_discovery
from ..reward.data import TITLE_LENGTH
from ..reward.descriptors import text_associations
from ..reward.pack import Pack
from ..reward.serving import check_objective
from . import wording
from .summary import Summary, scale_stated_likes, summarize, summary_weights

__all__ = ["LIKE_FACTORS", "Candidates", "Ranked", "Recommender", "ServedScore", "Taste", "like_factor",
           "liked_carriers", "stated_exclusions", "stated_misses"]

WHY_SHARE = 0.1
"""A reason is given only if it brings at least this share of the item's positive contributions."""
WHY_AXES = 2
"""At most this many axes in a reason (plus one summary descriptor)."""
POPULATION_WORDS = {"popularity": ("popular", "little known"), "quality": ("well rated", "lower rated")}
"""How a population coordinate reads at its high and low end."""
LIKE_FACTORS = tuple(2.0**m for m in range(21))
"""Factors of the validated stated weight a stated like may be served with (:func:`like_factor`):
doubling, so the one served is at most twice the least that moves the picks."""


@dataclass(frozen=True)
class Ranked:
    """One recommendation.

    Attributes
    ----------
    index : position in the catalog, or in the caller's candidate list
    item_id : the catalog item id; None for a candidate text
    title : the item's title, or the start of the candidate text
    score : the item's score (see the module docstring)
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
    social : the user's friends as evidence of a known-items model (its social prior,
        :mod:`~prefchat.elicitation.social`), or None: the population prior
    """

    mean: np.ndarray
    cov: np.ndarray | None = None
    summary: Summary | None = None
    objective: str = "prefer"
    known: frozenset[int] = field(default_factory=frozenset)
    social: SocialEvidence | None = None

    def __post_init__(self):
        check_objective(self.objective)


@dataclass(frozen=True, eq=False)
class Candidates:
    """Texts outside the catalog to rank, e.g. N drafts of a reply.

    Attributes
    ----------
    texts : the texts
    embeddings : (n, d) their embeddings by the pack's model
    associations : (n, n_descriptors) their :func:`~prefchat.assistant.summary.text_associations`,
        where the caller holds them already (texts asked about again and again); default computed
    """

    texts: Sequence[str]
    embeddings: np.ndarray
    associations: np.ndarray | None = None

    def __post_init__(self):
        if len(self.texts) != len(self.embeddings):
            raise ValueError(f"{len(self.texts)} candidates but {len(self.embeddings)} candidate embeddings")


@dataclass(frozen=True, eq=False)
class _Scoring:
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


class Recommender:
    """The top k of one pack, for any :class:`Taste`.

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
        """(n_items,) or (n_candidates,) scores, as :meth:`rank` orders them."""
        return self._scoring(taste, candidates, discount).scores()

    def rank(self, taste: Taste, k: int = 10, *, candidates: Candidates | None = None, exclude: Sequence[int] | np.ndarray = (),
             only: Sequence[int] | np.ndarray | None = None, discount: float | None = None) -> list[Ranked]:
        r"""The ``k`` best items (of the catalog, or ``candidates``) for ``taste``, best first, ties broken by lower index.

        Parameters
        ----------
        taste : Taste
        k : how many to return (fewer when fewer remain)
        candidates : texts to rank instead of the catalog (by "prefer")
        exclude : indices (into the catalog, or into ``candidates``) never returned
        only : indices to rank among (default: all), e.g. a single item to say why it scores as it does
        discount : the exposure control :math:`\gamma \ge 0` of a "watch" catalog ranking; default
            the pack's validated :attr:`~prefchat.reward.pack.Pack.exposure_discount`
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        association = self._index.association if candidates is None else self._associations(candidates)
        scoring = self._scoring(taste, candidates, discount, association)
        scores = scoring.scores()
        excluded = _indices(exclude, len(scores), "exclude")
        if only is not None:
            excluded = np.union1d(excluded, np.setdiff1d(np.arange(len(scores)), _indices(only, len(scores), "only")))
        centre = self._index.centre
        ranked = []
        for i in top_k(scores, k, excluded):
            i = int(i)
            axis_terms, high = _axis_terms(self.pack, scoring, i, centre)
            why = _why(self.pack, axis_terms, high, association[i], taste.summary)
            if candidates is None:
                item = self.pack.items[i]
                ranked.append(Ranked(i, item.item_id, item.title, float(scores[i]), why, item.text))
            else:
                text = candidates.texts[i]
                ranked.append(Ranked(i, None, text[:TITLE_LENGTH], float(scores[i]), why, text))
        return ranked

    def recommend(self, taste: Taste, k: int, discount: float | None = None) -> list[Ranked]:
        """The served top ``k`` of the catalog: :meth:`rank` without the items :meth:`left_out`, a
        stated like served strong enough to move the picks its way (:func:`like_factor`), and the
        items that go against fewer of the user's stated, measured preferences before those that go
        against more (:func:`stated_misses`: "no emoji please" puts every answer with emoji below
        every one without)."""
        exclude = self.left_out(taste)
        served = self.served(taste, k, exclude, discount)
        misses = stated_misses(self.pack, taste.summary)
        if not misses.any():
            return self.discovered(taste, self.rank(served, k, exclude=exclude, discount=discount), exclude)
        picks: list[Ranked] = []
        for level in np.unique(misses):
            if len(picks) == k:
                break
            tier = np.setdiff1d(np.flatnonzero(misses == level), exclude)
            if tier.size:
                picks += self.rank(served, k - len(picks), exclude=exclude, only=tier, discount=discount)
        return self.discovered(taste, picks, exclude)

    def discovered(self, taste: Taste, picks: list[Ranked], exclude: np.ndarray) -> list[Ranked]:
        """``picks`` with the discovery slot's item at the pack's :attr:`~prefchat.reward.pack.Pack.discovery_slot`
        (:func:`~prefchat.elicitation.social.with_discovery`): for a "watch" taste with friends on a pack with a
        known-items model, an item a friend of another taste loves and the user's posterior leaves uncertain
        (:meth:`~prefchat.elicitation.known.KnownModel.discovery`), outside ``exclude`` and the picks, with
        its own score and the reason :data:`~prefchat.assistant.wording.DISCOVERY`, which names no one."""
        model, slot = self.pack.known_model, self.pack.discovery_slot
        if model is None or taste.objective != "watch" or taste.social is None or not 1 <= slot <= len(picks):
            return picks
        j = model.discovery(taste.known, taste.social, np.union1d(exclude, [pick.index for pick in picks]))
        if j is None:
            return picks
        item = self.pack.items[j]
        found = Ranked(j, item.item_id, item.title, float(model.scores(taste.known, taste.social)[j]), wording.DISCOVERY,
                       item.text)
        by_index = {pick.index: pick for pick in picks} | {j: found}
        return [by_index[i] for i in with_discovery([pick.index for pick in picks], j, slot)]

    def left_out(self, taste: Taste) -> np.ndarray:
        """What a recommendation leaves out, sorted: the items ``taste`` knows, and those carrying a tag
        the user stated a dislike of (:func:`stated_exclusions`: "no horror please" is an instruction)."""
        known = np.fromiter(taste.known, dtype=np.intp, count=len(taste.known))
        return np.union1d(known, stated_exclusions(self.pack, taste.summary))

    def served(self, taste: Taste, k: int, exclude: np.ndarray, discount: float | None = None) -> Taste:
        r"""``taste`` with its stated likes' weights times their :func:`like_factor`.

        The score is linear in the factor :math:`f`, :math:`\mathrm{score}_f = \mathrm{score}_0 + f\, \ell`
        with :math:`\ell = \beta_\text{stated} \sum_{j \text{ liked}} w_j u_j z_{ij}`, so a stated like
        costs one catalog scoring (without the likes) and the few columns it names.
        """
        summary = taste.summary
        if summary is None:
            return taste
        carried = liked_carriers(self.pack, summary)
        if not carried.shape[1]:
            return taste
        without = self.scores(replace(taste, summary=scale_stated_likes(summary, 0.0)), discount=discount)
        index, stated_beta = self._index, self._beta(taste.objective, stated=True)
        liked = Summary("", tuple(w for w in summary.stated if w.weight > 0), 0, 0)
        lift = index.association @ (stated_beta * index.stated_unit * summary_weights(self.pack, liked))
        factor = like_factor(lambda f: without + f * lift, carried, k, exclude)
        return replace(taste, summary=scale_stated_likes(summary, factor))

    # -- the scorers -----------------------------------------------------------------------------

    @property
    def _index(self):
        return self.pack.serving.descriptors

    def _beta(self, objective: str, stated: bool = False) -> float:
        return self.pack.beta(objective, stated=stated) if self.beta is None else float(self.beta)

    def _scoring(self, taste: Taste, candidates: Candidates | None, discount: float | None,
                 association: np.ndarray | None = None) -> _Scoring:
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
            return _Scoring(features, mean, features @ mean, association, weights)
        return self._base(taste, mean, discount, weights, association)

    def _base(self, taste: Taste, mean: np.ndarray, discount: float | None, weights: np.ndarray,
              association: np.ndarray | None) -> _Scoring:
        """The catalog's score of the objective: one scorer per kind of :class:`~prefchat.elicitation.onboarding.CatalogScore`."""
        pack = self.pack
        serving = pack.serving.objective(taste.objective)
        catalog = serving.discounted(discount)
        if isinstance(catalog, KnownItemsScore):  # the order is the known-items model's; reasons read m on the learned axes
            return _Scoring(pack.features, mean, catalog.known(taste.known, taste.social), association, weights,
                            centre=serving.prior.prior_mean)
        if catalog.offset is None:  # the mean utility (no base rates, so no exposure control either)
            return _Scoring(pack.features, mean, pack.features @ mean, association, weights)
        cov = None if taste.cov is None else np.asarray(taste.cov, dtype=np.float64)
        if cov is None or cov.shape != (pack.n_bases, pack.n_bases) or not np.isfinite(cov).all():
            raise ValueError(f"objective 'watch' on pack {pack.name!r} ranks by the chance of a pick, which needs the "
                             f"posterior's cov, finite and ({pack.n_bases}, {pack.n_bases}); got "
                             f"{'none' if cov is None else f'shape {cov.shape}'}")
        linear, scale = predictive_moments(pack.serving.single_features, mean, cov, serving.prior_variance)
        base = (linear + catalog.offset) / scale - catalog.penalty()
        return _Scoring(pack.features, mean, base, association, weights, catalog.offset, scale, serving.prior.prior_mean)

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


@dataclass(frozen=True, eq=False)
class ServedScore:
    """``score(posterior) -> (n_items,)``: the catalog as the app ranks it for a session posterior of ``objective``.

    :meth:`Recommender.scores` of the :class:`Taste` a finished session serves: its posterior, the
    summary it writes (only where the pack's :meth:`~prefchat.reward.pack.Pack.beta` for the
    objective is not 0: otherwise the summary adds nothing) and the items its answers show the
    user knows. The scoring the benchmark passes to :func:`~prefchat.elicitation.evaluate.evaluate`,
    so that it measures what is served; a class rather than a closure so that the benchmark's
    worker processes can take it. ``discount``: the exposure control, default the pack's; ``social``:
    the user's friends as evidence of the known-items model (:class:`Taste`).
    """

    pack: Pack
    objective: str
    discount: float | None = None
    social: SocialEvidence | None = None

    def __call__(self, posterior: Posterior) -> np.ndarray:
        summary = None
        if self.pack.beta(self.objective):
            skipped = sum(isinstance(answer, Comparison) and answer.choice == "skip" for answer in posterior.answers)
            summary = summarize(self.pack, posterior.mean, posterior.cov, len(posterior.answers), skipped,
                                answers=posterior.answers)
        taste = Taste(posterior.mean, posterior.cov, summary, self.objective, known_items(posterior.answers), self.social)
        return Recommender(self.pack).scores(taste, discount=self.discount)


def _axis_terms(pack: Pack, scoring: _Scoring, i: int, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""What each base adds to item i's score against the catalog mean, and whether i sits above it.

    :math:`(c_k - \mu_{0k}) (\phi_k(i) - \bar\phi_k) / \kappa_i`; a calibrated score's base rate
    :math:`b = a + \phi^\top \mu_0` is how popular the item is, so its part,
    :math:`(b_i - \bar b) / \kappa_i`, counts to the popularity coordinate.
    """
    scale = scoring.scale if np.ndim(scoring.scale) == 0 else np.asarray(scoring.scale)[i]
    terms = (scoring.coef - scoring.centre) * (scoring.features[i] - centre) / scale
    high = scoring.features[i] > centre
    if np.ndim(scoring.offset) and "popularity" in pack.population_coordinates:
        k = pack.n_learned + pack.population_coordinates.index("popularity")
        base_mean = scoring.offset_mean + centre @ scoring.centre  # the mean of b, without computing every b
        terms[k] += (scoring.base_rate_logit(i) - base_mean) / scale
    return terms, high


def _indices(values: Sequence[int] | np.ndarray, n: int, name: str) -> np.ndarray:
    """``values`` as an index array, each in ``0..n-1``."""
    indices = np.asarray(values, dtype=np.intp).reshape(-1)
    outside = indices[(indices < 0) | (indices >= n)]
    if outside.size:
        raise ValueError(f"{name} holds index {outside[0]}, outside 0..{n - 1}")
    return indices


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
        columns = pack.serving.descriptors.columns  # only a word the item itself carries (above the catalog mean)
        words = tuple(w for w in words if w in columns and association[columns[w]] > 0)
        axis = words[0] if words else None
    population = [(axis_terms[pack.n_learned + c], name) for c, name in enumerate(pack.population_coordinates)]
    best = max(population, default=(0.0, ""))
    popular = POPULATION_WORDS.get(best[1], ("",))[0] if best[0] > 0 and best[0] >= WHY_SHARE * total else None
    return wording.pick_reason(liked, avoided, stated, axis, popular)


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

    The validated weight moves most statements (:func:`~prefchat.assistant.ranking.choose_watch_beta`);
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
    :meth:`Recommender.recommend` serves fewer misses first. On a tags pack none: a stated
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
