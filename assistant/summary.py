r"""Semantic memory: a user's reward in words the user can read and correct.

PRIME-style semantic memory distils the answers into a few weighted descriptors ("Enjoys: war,
documentary. Not keen on: horror.") instead of replaying them; :mod:`prefchat.research.memory`
holds the episodic baseline it is compared against. Everything here is deterministic numpy; no
language model writes the text.

Descriptors
-----------
A pack names descriptors (its items' tags, or a vocabulary embedded with the pack's model) and
associates every catalog item with each of them, :math:`A \in \mathbb{R}^{n \times J}`
(:func:`prefchat.reward.naming.descriptor_matrix`). Standardised over the catalog,

.. math:: z_{ij} = (A_{ij} - \bar A_j) / \sigma(A_j) \qquad (0 \text{ for a constant column}).

Affinity of a user with a descriptor
------------------------------------
The user's personal reward uses the learned bases only, :math:`r(i) = \lambda_L^\top \phi_L(i)`:
every user weights the population coordinates (popularity, quality), so leaving them in would make
popular or well-rated genres look like this user's taste. The affinity with descriptor :math:`j`
is the correlation across the catalog of :math:`r` with :math:`A_j`,

.. math:: \rho_j(\lambda) = \mathrm{corr}_i\big(r(i), A_{ij}\big)
          = \frac{b_j^\top \lambda_L}{\sqrt{\lambda_L^\top C \lambda_L}}, \qquad
          b_j = \tfrac1n \sum_i z_{ij} \tilde\phi_L(i), \quad
          C = \tfrac1n \sum_i \tilde\phi_L(i) \tilde\phi_L(i)^\top,

with :math:`\tilde\phi_L` the catalog-centred learned features. The summary is *relative to the
population*: its weights are :math:`a_j = \rho_j(m) - \rho_j(\mu_0)`, so it says what distinguishes
this user from the crowd (everyone leans towards the prior mean's genres; saying so tells the user
nothing). A user without answers has :math:`m = \mu_0`, hence :math:`a = 0` and the summary "No
strong preferences yet."

Confidence
----------
:math:`c_j = |a_j| / \mathrm{sd}_j`, with :math:`\mathrm{sd}_j` the posterior standard deviation of
:math:`\rho_j(\lambda)`, :math:`\lambda \sim N(m, S)`, estimated from :data:`N_SAMPLES` seeded draws
(the correlation is far from linear on the scale of :math:`S` after ten answers, so the delta method
would misjudge it). Levels: low below 1, medium below 2, high from 2; a descriptor the user stated
has confidence :math:`\infty`, shown as "stated by user". A summary lists, on each side, the
strongest descriptors of at least medium confidence and :math:`|a_j| \ge` :data:`MIN_AFFINITY`.
"""

from __future__ import annotations

import math
import operator
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..elicitation.posterior import Answer, KWayChoice
from ..reward.naming import TEXT_MEASURES, define_columns, descriptor_groups, descriptor_matrix
from ..reward.pack import Pack
from . import wording

__all__ = [
    "STATED",
    "DescriptorIndex",
    "DescriptorWeight",
    "Summary",
    "answer_evidence",
    "apply_correction",
    "confidence_level",
    "correlation_sd",
    "descriptor_correlations",
    "descriptor_index",
    "describe",
    "parse_correction",
    "scale_stated_likes",
    "stated_affinity",
    "summarize",
    "summary_affinity",
    "summary_weights",
    "text_associations",
]

N_SAMPLES = 256
"""Posterior draws behind each confidence."""
SEED = 0
"""Seed of those draws: a summary is a deterministic function of the posterior."""
MIN_AFFINITY = 0.05
"""Smallest correlation difference worth telling the user, however certain."""
STATED = "stated by user"
"""The confidence level of a descriptor the user stated (confidence :math:`\\infty`)."""
STATED_WEIGHT = 0.5
"""Magnitude of a stated descriptor's weight: a correlation difference larger than nearly every
generated one, so that what the user said outweighs what was inferred."""
MATCH_THRESHOLD = 0.5
"""Least cosine similarity between a phrase and a descriptor for a match (all-MiniLM-L6-v2 puts
unrelated short phrases at 0.2-0.45 and near-synonyms, "musicals"/"musical", at 0.8)."""
MATCH_MARGIN = 0.1
"""Further descriptors match a phrase only within this similarity of the best one."""
MAX_MATCHES = 3
"""At most this many descriptors per phrase."""
META = "_meta"
"""Key of :meth:`Summary.structured` holding the answer counts."""


# --------------------------------------------------------------------------- records


def confidence_level(confidence: float) -> str:
    """``"low"``, ``"medium"``, ``"high"`` or :data:`STATED` for a confidence :math:`|a_j| / \\mathrm{sd}_j`."""
    if math.isinf(confidence):
        return STATED
    return "high" if confidence >= 2.0 else "medium" if confidence >= 1.0 else "low"


@dataclass(frozen=True)
class DescriptorWeight:
    """One descriptor of a summary.

    Attributes
    ----------
    descriptor : str
    weight : float, non-zero; positive means the user enjoys it (a correlation difference, see
        the module docstring)
    confidence : float, :math:`|a_j| / \\mathrm{sd}_j`; ``math.inf`` when stated by the user
    """

    descriptor: str
    weight: float
    confidence: float

    def __post_init__(self):
        if not isinstance(self.descriptor, str) or not self.descriptor or self.descriptor == META:
            raise ValueError(f"a descriptor must be a non-empty string other than {META!r}, got {self.descriptor!r}")
        if not (math.isfinite(self.weight) and self.weight != 0.0):
            raise ValueError(f"the weight of {self.descriptor!r} must be finite and non-zero, got {self.weight!r}")
        if not self.confidence >= 0.0:
            raise ValueError(f"the confidence of {self.descriptor!r} must be >= 0, got {self.confidence!r}")

    @property
    def sign(self) -> int:
        return 1 if self.weight > 0 else -1

    @property
    def stated(self) -> bool:
        return math.isinf(self.confidence)

    @property
    def level(self) -> str:
        return confidence_level(self.confidence)


@dataclass(frozen=True)
class Summary:
    """A user's semantic preference summary: the text shown and the weights behind it.

    ``weights`` lists exactly the descriptors the text names: what the user reads is what
    ranking uses (:func:`summary_affinity`).
    """

    text: str
    weights: tuple[DescriptorWeight, ...]
    n_answers: int
    n_skipped: int

    def __post_init__(self):
        for name in ("n_answers", "n_skipped"):
            value = getattr(self, name)
            try:
                count = operator.index(value)
            except TypeError:
                count = -1
            if count < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
            object.__setattr__(self, name, count)
        names = [w.descriptor for w in self.weights]
        if len(set(names)) != len(names):
            raise ValueError(f"a summary names each descriptor once, got {names}")

    @property
    def likes(self) -> tuple[str, ...]:
        """The descriptors the user enjoys, strongest first (the "Enjoys:" of the text)."""
        return tuple(w.descriptor for w in self.weights if w.weight > 0)

    @property
    def dislikes(self) -> tuple[str, ...]:
        """The descriptors the user is not keen on, strongest first (the "Not keen on:" of the text)."""
        return tuple(w.descriptor for w in self.weights if w.weight < 0)

    @property
    def stated(self) -> tuple[DescriptorWeight, ...]:
        """The weights the user stated in words (:func:`apply_correction`)."""
        return tuple(w for w in self.weights if w.stated)

    def structured(self) -> dict:
        """JSON-ready weights: ``{descriptor: {"weight", "sign", "confidence", "score"}, "_meta": {...}}``.

        ``confidence`` is the level (low/medium/high/stated by user) and ``score`` the number
        behind it, None when stated (JSON has no infinity). ``_meta`` holds ``n_answers`` and
        ``n_skipped``.
        """
        structured = {
            w.descriptor: {"weight": w.weight, "sign": w.sign, "confidence": w.level,
                           "score": None if w.stated else w.confidence}
            for w in self.weights
        }
        structured[META] = {"n_answers": self.n_answers, "n_skipped": self.n_skipped}
        return structured

    @classmethod
    def from_structured(cls, text: str, structured: Mapping) -> Summary:
        """The summary with ``text`` whose :meth:`structured` form is ``structured``."""
        try:
            meta = structured[META]
            counts = int(meta["n_answers"]), int(meta["n_skipped"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"structured summary needs {META!r}: {{'n_answers', 'n_skipped'}}, got {structured!r}") from None
        weights = []
        for descriptor, entry in structured.items():
            if descriptor == META:
                continue
            try:
                score = entry["score"]
                weights.append(DescriptorWeight(descriptor, float(entry["weight"]), math.inf if score is None else float(score)))
            except (KeyError, TypeError):
                raise ValueError(f"structured entry {descriptor!r} needs 'weight' and 'score', got {entry!r}") from None
        return cls(text, tuple(weights), *counts)


def _ordered(weights: Iterable[DescriptorWeight]) -> tuple[DescriptorWeight, ...]:
    """Liked before disliked; within each, strongest first (a stated weight before a generated one
    of the same strength)."""
    return tuple(sorted(weights, key=lambda w: (w.weight < 0, -abs(w.weight), not w.stated)))


def describe(weights: tuple[DescriptorWeight, ...], n_answers: int, n_skipped: int) -> str:
    """The summary text, e.g. "Enjoys: war, documentary. Not keen on: horror. Confidence: medium
    (10 answers, 1 skipped)."; the overall confidence is the level of the median generated one."""
    liked = [w.descriptor for w in weights if w.weight > 0]
    disliked = [w.descriptor for w in weights if w.weight < 0]
    generated = [w.confidence for w in weights if not w.stated]
    level = confidence_level(float(np.median(generated))) if generated else "low"
    stated = [(w.descriptor, w.weight > 0) for w in weights if w.stated]
    return wording.summary_text(liked, disliked, level, n_answers, n_skipped, stated)


# --------------------------------------------------------------------------- per-pack statistics


@dataclass(frozen=True, eq=False)
class DescriptorIndex:
    r"""A pack's descriptor statistics, computed once per pack by :func:`descriptor_index`.

    Attributes
    ----------
    columns : dict, descriptor -> column j
    centre : (n_bases,) the catalog mean of :math:`\phi`
    association : (n_items, n_descriptors) :math:`z_{ij}`, the standardised association
    similarity : ``(mean, sd)``, each (n_descriptors,), the catalog mean and standard deviation of
        :math:`\cos(e(i), e(d_j))`, to standardise texts outside the catalog (:func:`text_associations`);
        computed on first use from ``embeddings`` (n_items, d) and ``descriptor_embeddings`` (a tags
        pack: so that serving the catalog never reads its embeddings), known at once for a vocabulary pack
    cross : (n_descriptors, n_learned) the :math:`b_j` of the module docstring
    gram : (n_learned, n_learned) :math:`C`
    group, sign : (n_descriptors,) which descriptors name one direction, and each one's sign in
        it (:func:`~prefchat.reward.naming.descriptor_groups`): a summary names a group once
    negated : (n_descriptors,) bool, the descriptor is itself a negation ("answers without emoji")
    stated_unit : (n_descriptors,) the factor a stated weight is served with (:func:`stated_affinity`):
        on a tags pack the standard deviation :math:`\sigma_j` of the 0/1 column, so that a stated
        :math:`w_j` moves the items carrying the tag by :math:`w_j` against the rest, the same for
        every tag; :math:`w_j z_{ij}` alone would move them by :math:`w_j / \sqrt{p_j (1 - p_j)}`
        (:math:`p_j` the tag's share of the catalog), which for a tag on 1% of the catalog is 5
        times what "drama" (on 45%) gets, and fills a top 20 with every item of a rare tag a user
        said they like. 1 elsewhere.
    """

    columns: dict[str, int]
    centre: np.ndarray
    association: np.ndarray
    cross: np.ndarray
    gram: np.ndarray
    group: np.ndarray
    sign: np.ndarray
    negated: np.ndarray
    stated_unit: np.ndarray
    embeddings: np.ndarray
    descriptor_embeddings: np.ndarray
    known_similarity: tuple[np.ndarray, np.ndarray] | None = None

    @cached_property
    def similarity(self) -> tuple[np.ndarray, np.ndarray]:
        if self.known_similarity is not None:
            return self.known_similarity
        return _similarity_moments(self.embeddings, self.descriptor_embeddings)

    def members(self, j: int) -> np.ndarray:
        """Columns of the descriptors in column ``j``'s group, ``j`` included, in vocabulary order."""
        return np.flatnonzero(self.group == self.group[j])


def _standardise(values: np.ndarray, mean: np.ndarray | float, sd: np.ndarray) -> np.ndarray:
    """``(values - mean) / sd`` by column, 0 where ``sd`` is 0."""
    return np.divide(values - mean, sd, out=np.zeros(np.shape(values)), where=sd > 0)


def _within_groups(groups: np.ndarray | None, values: np.ndarray) -> np.ndarray:
    """``values`` centred over the catalog, or within each group when the pack groups its items."""
    if groups is None:
        return values - values.mean(0)
    groups = np.asarray(groups)
    sums = np.zeros((groups.max() + 1, values.shape[1]))
    np.add.at(sums, groups, values)
    return values - (sums / np.bincount(groups)[:, None])[groups]


def _similarity_moments(embeddings: np.ndarray, descriptor_embeddings: np.ndarray,
                        chunk: int = 1 << 15) -> tuple[np.ndarray, np.ndarray]:
    r"""Catalog mean and standard deviation of :math:`\cos(e(i), e(d_j))` for every descriptor j,
    summed over rows in chunks (a million items' embeddings are never copied whole):

    .. math:: \bar s_j = \frac1n \sum_i s_{ij}, \qquad \sigma_j = \sqrt{\frac1n \sum_i (s_{ij} - \bar s_j)^2}

    computed in two passes, so that the variance does not lose its digits to the mean.
    """
    targets = np.asarray(descriptor_embeddings, dtype=np.float64).T
    n = len(embeddings)
    blocks = [slice(start, start + chunk) for start in range(0, n, chunk)]
    mean = sum((np.asarray(embeddings[block], dtype=np.float64) @ targets).sum(0) for block in blocks) / n
    variance = sum(((np.asarray(embeddings[block], dtype=np.float64) @ targets - mean) ** 2).sum(0) for block in blocks) / n
    return mean, np.sqrt(variance)


_INDEXES: weakref.WeakKeyDictionary[Pack, DescriptorIndex] = weakref.WeakKeyDictionary()


def descriptor_index(pack: Pack) -> DescriptorIndex:
    """The :class:`DescriptorIndex` of ``pack``, cached for as long as the pack lives."""
    index = _INDEXES.get(pack)
    if index is None:
        definitions = pack.descriptor_definitions
        association = descriptor_matrix(pack.descriptor_source, pack.items, pack.descriptors,
                                        pack.embeddings, pack.descriptor_embeddings, definitions)
        vocabulary = pack.descriptor_source == "vocabulary"  # texts outside the catalog are measured alike
        z = _standardise(association, association.mean(0), association.std(0))
        group, sign = descriptor_groups(pack.descriptors, definitions)
        learned = pack.features[:, : pack.n_learned]
        within, centred = _within_groups(pack.groups, z), _within_groups(pack.groups, learned)
        within = _standardise(within, 0.0, within.std(0))
        index = DescriptorIndex(
            columns={d: j for j, d in enumerate(pack.descriptors)},
            centre=pack.features.mean(0),
            association=np.asfortranarray(z),  # by column: a ranking reads the columns a summary names
            cross=within.T @ centred / pack.n_items,
            gram=centred.T @ centred / pack.n_items,
            group=group,
            sign=sign,
            negated=np.array([bool(_NEGATED.match(d)) for d in pack.descriptors], dtype=bool),
            stated_unit=association.std(0) if pack.descriptor_source == "tags" else np.ones(len(pack.descriptors)),
            embeddings=pack.embeddings,
            descriptor_embeddings=pack.descriptor_embeddings,
            known_similarity=(association.mean(0), association.std(0)) if vocabulary else None,
        )
        _INDEXES[pack] = index
    return index


def text_associations(pack: Pack, embeddings: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
    r"""Standardised association of texts outside the catalog with every descriptor.

    .. math:: z_j(t) = \frac{\cos(e(t), e(d_j)) - \overline{\cos}_j}{\sigma_j(\cos)}

    with the mean and standard deviation of the same similarity over the catalog. For a
    vocabulary pack this is exactly :math:`z_{ij}` of a catalog item; for a tags pack (whose
    :math:`A` is 0/1 tags, unknown for a new text) it is the content-only stand-in on the same
    standardised scale.

    A descriptor the vocabulary defines by a text measure is measured on ``texts``; without them
    it is taken at the catalog mean (0).

    Parameters
    ----------
    embeddings : (n, d) unit-norm sentence embeddings of the texts
    texts : the n texts themselves, optional

    Returns
    -------
    (n, n_descriptors)
    """
    embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
    if embeddings.shape[1] != pack.embeddings.shape[1]:
        raise ValueError(f"embeddings of width {embeddings.shape[1]}, pack {pack.name!r} uses {pack.embeddings.shape[1]}")
    if texts is not None and len(texts) != len(embeddings):
        raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
    index = descriptor_index(pack)
    similarity = embeddings @ np.asarray(pack.descriptor_embeddings, dtype=np.float64).T
    definitions = pack.descriptor_definitions
    if pack.descriptor_source == "vocabulary" and definitions:
        similarity = define_columns(similarity, list(texts) if texts is not None else [""] * len(similarity),
                                    pack.descriptors, definitions)
        if texts is None:
            measured = np.isin(index.group, [index.group[j] for j, d in enumerate(pack.descriptors)
                                             if definitions.get(d, "").removeprefix("-") in TEXT_MEASURES])
            similarity[:, measured] = index.similarity[0][measured]
    return _standardise(similarity, *index.similarity)


def descriptor_correlations(index: DescriptorIndex, coef: np.ndarray) -> np.ndarray:
    r"""Correlation of the personal reward with every descriptor, :math:`\rho_j(\lambda)`.

    .. math:: \rho_j(\lambda) = \frac{b_j^\top \lambda_L}{\sqrt{\lambda_L^\top C \lambda_L}}

    Parameters
    ----------
    index : the pack's :class:`DescriptorIndex`
    coef : (n_learned,) or (n_samples, n_learned) learned-base coefficients

    Returns
    -------
    (n_descriptors,) or (n_samples, n_descriptors); 0 where the reward is constant over the catalog
    """
    coef = np.asarray(coef, dtype=np.float64)
    spread = np.sqrt(np.einsum("...k,kl,...l->...", coef, index.gram, coef))[..., None]
    return np.divide(coef @ index.cross.T, spread, out=np.zeros(coef.shape[:-1] + (len(index.cross),)), where=spread > 0)


def correlation_sd(index: DescriptorIndex, mean: np.ndarray, cov: np.ndarray,
                   n_samples: int = N_SAMPLES, seed: int = SEED) -> np.ndarray:
    r"""Posterior standard deviation of :math:`\rho_j(\lambda)`, :math:`\lambda \sim N(m, S)`, by seeded sampling.

    .. math:: \lambda^{(s)} = m + L \varepsilon^{(s)}, \quad L L^\top = S, \quad
              \varepsilon^{(s)} \sim N(0, I), \qquad
              \mathrm{sd}_j = \mathrm{std}_s\, \rho_j(\lambda^{(s)})

    Parameters
    ----------
    mean : (n_learned,) and cov : (n_learned, n_learned) symmetric positive definite

    Returns
    -------
    (n_descriptors,)
    """
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError("cov is not positive definite on the learned bases") from None
    noise = np.random.default_rng(seed).standard_normal((n_samples, len(mean)))
    return descriptor_correlations(index, mean + noise @ chol.T).std(axis=0)


# --------------------------------------------------------------------------- summaries


def _posterior(pack: Pack, mean, cov) -> tuple[np.ndarray, np.ndarray]:
    mean, cov = np.asarray(mean, dtype=np.float64), np.asarray(cov, dtype=np.float64)
    k = pack.n_bases
    if mean.shape != (k,) or cov.shape != (k, k):
        raise ValueError(f"mean {mean.shape} and cov {cov.shape} do not fit pack {pack.name!r}: need ({k},) and ({k}, {k})")
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        raise ValueError("mean and cov must be finite")
    return mean, cov


def _wins(answers: Iterable[Answer]) -> Iterator[tuple[int, int]]:
    """The (winner, loser) pairs the answers state: none for a tie or a skip."""
    for answer in answers:
        if isinstance(answer, KWayChoice):
            yield from ((answer.chosen, other) for other in answer.options if other != answer.chosen)
        elif answer.choice in ("a", "b"):
            yield (answer.item_a, answer.item_b) if answer.choice == "a" else (answer.item_b, answer.item_a)


def answer_evidence(pack: Pack, answers: Iterable[Answer]) -> np.ndarray:
    r"""How far the user's own choices lean towards each descriptor: a t statistic.

    .. math:: d_{pj} = z_{w_p j} - z_{l_p j}, \qquad
              t_j = \frac{\bar d_j}{\sqrt{(\overline{d^2}_j + 1) / n}}

    over the decided answers :math:`p = 1..n` (winner :math:`w_p`, loser :math:`l_p`; an item
    outside the catalog, the reference item of feedback, at the catalog mean :math:`z = 0`). The
    :math:`+1` keeps a few agreeing answers from looking certain.

    Returns
    -------
    (n_descriptors,), zeros without a decided answer
    """
    z = descriptor_index(pack).association
    pairs = list(_wins(answers))
    if not pairs:
        return np.zeros(z.shape[1])
    def rows(items: list[int]) -> np.ndarray:  # an item outside the catalog at z = 0, the matrix not copied
        index = np.asarray(items, dtype=np.intp)
        inside = index < pack.n_items
        return np.where(inside[:, None], z[np.where(inside, index, 0)], 0.0)

    differences = rows([p[0] for p in pairs]) - rows([p[1] for p in pairs])
    n = len(pairs)
    return differences.mean(0) / np.sqrt(((differences**2).mean(0) + 1e-3) / n)


def summarize(pack: Pack, mean: np.ndarray, cov: np.ndarray, n_answers: int, n_skipped: int, top: int = 4,
              answers: Sequence[Answer] | None = None) -> Summary:
    r"""The semantic summary of a user with posterior :math:`N(m, S)` (see the module docstring).

    .. math:: a_j = \rho_j(m) - \rho_j(\mu_0), \qquad c_j = |a_j| / \mathrm{sd}_j

    Parameters
    ----------
    pack : the pack the posterior lives in
    mean : (n_bases,) posterior mean :math:`m`
    cov : (n_bases, n_bases) posterior covariance :math:`S`
    n_answers, n_skipped : answer counts, for the text
    top : at most this many descriptors on each side (enjoys / not keen on)
    answers : the answers behind the posterior (item indices into the catalog); given, each
        descriptor's strength combines the posterior's :math:`a_j / \mathrm{sd}_j` with what the
        choices themselves show, :math:`t_j` of :func:`answer_evidence` (Stouffer's method),

        .. math:: q_j = \big(a_j / \mathrm{sd}_j + t_j\big) / \sqrt 2, \qquad c_j = |q_j|,

        and the descriptor is named on the side of :math:`\operatorname{sign}(q_j)` with weight
        :math:`\operatorname{sign}(q_j) \max(|a_j|, \text{MIN\_AFFINITY})`: a descriptor the
        reward model cannot express well (the bases see structure and humour least) is still said
        when every answer chose it; and a descriptor is only said on the side the choices
        themselves lean to, :math:`\operatorname{sign}(t_j) = \operatorname{sign}(q_j)` (the
        posterior of a few learned bases ties descriptors together, e.g. emoji-avoiders' "serious and
        dry" when their own picks had more jokes; a descriptor no answer told apart is not said).

    Returns a summary naming, on each side, at most ``top`` of the descriptors with
    :math:`c_j \ge 1` and :math:`|a_j| \ge` :data:`MIN_AFFINITY` (or :math:`|t_j| \ge 1`), each
    group of descriptors once (:func:`_spokesmen`), strongest first. Which ``top`` are named: with
    ``answers``, those the choices themselves lean to most, largest :math:`|t_j|`; without, largest
    :math:`c_j`. The posterior's lean is not evidence of its own beside :math:`t_j` (it is
    computed from the same answers), and on a few learned bases it spreads one strong
    descriptor's lean to its neighbours: a user who always chose the jokes got emoji, warmth and
    prose named before the jokes.
    """
    mean, cov = _posterior(pack, mean, cov)
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    index, k = descriptor_index(pack), pack.n_learned
    affinity = descriptor_correlations(index, mean[:k]) - descriptor_correlations(index, pack.prior_mean[:k])
    sd = correlation_sd(index, mean[:k], cov[:k, :k])
    strength = np.divide(affinity, sd, out=np.zeros_like(affinity), where=sd > 0)  # signed a_j / sd_j
    relevant = np.abs(affinity) >= MIN_AFFINITY
    agrees = np.ones(len(strength), dtype=bool)
    if answers is not None:
        evidence = answer_evidence(pack, answers)
        strength = (strength + evidence) / math.sqrt(2.0)  # Stouffer's combination of the two z scores
        relevant |= np.abs(evidence) >= 1.0
        agrees = np.sign(evidence) == np.sign(strength)  # never said against the user's own choices
    confidence = np.abs(strength)
    shown = (confidence >= 1.0) & relevant & agrees & _spokesmen(index, strength)
    order = strength if answers is None else np.sign(strength) * np.abs(evidence)
    liked = [j for j in np.argsort(-order, kind="stable") if shown[j] and strength[j] > 0][:top]
    disliked = [j for j in np.argsort(order, kind="stable") if shown[j] and strength[j] < 0][:top]
    weights = _ordered(DescriptorWeight(pack.descriptors[j], float(np.sign(strength[j]) * max(abs(affinity[j]), MIN_AFFINITY)),
                                        float(confidence[j])) for j in liked + disliked)
    return Summary(describe(weights, n_answers, n_skipped), weights, n_answers, n_skipped)


def _spokesmen(index: DescriptorIndex, affinity: np.ndarray) -> np.ndarray:
    """(n_descriptors,) bool: the one descriptor that speaks for each group.

    Members of a group have the same affinity up to their sign, so the group is named once, by its
    first member on the liked side (``affinity > 0``; when none is, its first member that is no
    negation, on the disliked side): "Enjoys: short and concise" rather than
    also "Not keen on: long and detailed", and "Enjoys: answers without emoji" rather than "Not
    keen on: answers without emoji". A descriptor of its own is named on either side, except a
    negation on the disliked side (it would read as a double negative), which is never named.
    """
    chosen = np.zeros(len(affinity), dtype=bool)
    for g in np.unique(index.group):
        members = np.flatnonzero(index.group == g)
        if len(members) == 1:
            j = members[0]
            chosen[j] = not (index.negated[j] and affinity[j] < 0)
            continue
        liked = [j for j in members if affinity[j] > 0]
        if liked:
            chosen[min(liked, key=lambda j: (bool(index.negated[j]), j))] = True
        elif plain := [j for j in members if affinity[j] < 0 and not index.negated[j]]:
            chosen[plain[0]] = True  # a group with no member on the liked side is named where it is
    return chosen


def apply_correction(summary: Summary, weights: Mapping[str, float], pack: Pack | None = None) -> Summary:
    """A new summary with the user's stated ``weights`` (from :func:`parse_correction`).

    A stated descriptor replaces a weight of the same descriptor (and, given the ``pack``, of any
    descriptor of its group: one direction is stated once), whatever its sign, with confidence
    :data:`STATED`; the other weights and the counts are kept. ``summary`` itself is unchanged
    (storage keeps old versions).
    """
    if not weights:
        raise ValueError("a correction needs at least one descriptor weight, got none")
    stated = [DescriptorWeight(descriptor, float(weight), math.inf) for descriptor, weight in weights.items()]
    replaced = set(weights)
    if pack is not None:
        group, _ = descriptor_groups(pack.descriptors, pack.descriptor_definitions)
        column = {d: j for j, d in enumerate(pack.descriptors)}
        for descriptor in weights:
            if descriptor in column:
                replaced.update(pack.descriptors[j] for j in np.flatnonzero(group == group[column[descriptor]]))
    kept = [w for w in summary.weights if w.descriptor not in replaced]
    ordered = _ordered(kept + stated)
    return Summary(describe(ordered, summary.n_answers, summary.n_skipped), ordered, summary.n_answers, summary.n_skipped)


def scale_stated_likes(summary: Summary, factor: float) -> Summary:
    """``summary`` with the weights of the likes the user stated times ``factor`` (0 leaves them
    out), text and everything else kept: how a like is served when the validated weight alone
    would not move the picks (:func:`~prefchat.assistant.ranking.like_factor`)."""
    if not (math.isfinite(factor) and factor >= 0):
        raise ValueError(f"factor must be finite and >= 0, got {factor!r}")
    weights = tuple(replace(w, weight=w.weight * factor) if w.stated and w.weight > 0 else w
                    for w in summary.weights if factor > 0 or not (w.stated and w.weight > 0))
    return replace(summary, weights=weights)


def summary_weights(pack: Pack, summary: Summary, stated: bool | None = None) -> np.ndarray:
    """(n_descriptors,) the summary's weights on the pack's descriptors; descriptors the pack does
    not know (a summary carried over from another pack) contribute nothing. ``stated`` True or
    False keeps only the stated, or only the generated, weights."""
    columns = descriptor_index(pack).columns
    vector = np.zeros(len(pack.descriptors))
    for w in summary.weights:
        if stated is not None and w.stated != stated:
            continue
        if w.descriptor in columns:
            vector[columns[w.descriptor]] = w.weight
    return vector


def summary_affinity(pack: Pack, summary: Summary, item_embeddings: np.ndarray | None = None) -> np.ndarray:
    r"""How much each item matches the summary.

    .. math:: s(i) = \sum_j w_j\, z_{ij}

    over the catalog, or with :math:`z_j(t)` of :func:`text_associations` for texts outside it.

    Parameters
    ----------
    item_embeddings : (n, d) embeddings of texts outside the catalog, or None for the catalog

    Returns
    -------
    (n_items,) or (n,)
    """
    association = descriptor_index(pack).association if item_embeddings is None else text_associations(pack, item_embeddings)
    return association @ summary_weights(pack, summary)


def stated_affinity(pack: Pack, summary: Summary) -> np.ndarray:
    r"""(n_items,) how much each catalog item matches what the user stated, on the scale a stated
    weight is served on.

    .. math:: s^\text{stated}(i) = \sum_{j \text{ stated}} w_j\, u_j\, z_{ij}

    with :math:`u_j` the :attr:`DescriptorIndex.stated_unit` (on a tags pack :math:`u_j z_{ij} =
    A_{ij} - \bar A_j`: every stated tag moves its items alike).
    """
    index = descriptor_index(pack)
    return index.association @ (index.stated_unit * summary_weights(pack, summary, stated=True))


# --------------------------------------------------------------------------- corrections

LIKE = frozenset({"love", "loves", "loved", "like", "likes", "liked", "prefer", "prefers", "enjoy", "enjoys", "adore",
                  "want", "wants", "fan", "into", "keen", "favourite", "favorite", "rather", "appreciate", "need"})
DISLIKE = frozenset({"hate", "hates", "dislike", "dislikes", "avoid", "stop", "detest", "skip", "ditch", "drop", "tired"})
MORE = frozenset({"more", "lots"})
LESS = frozenset({"less", "fewer", "lose"})
EXCESS = frozenset({"too", "overly"})
REQUESTS = frozenset({"use", "give", "keep", "make", "add", "include", "be", "show", "write"})
"""Imperatives that ask for what follows ("use numbered steps", "keep it short"), when no other
verb governs the clause ("stop using emoji" stays a dislike)."""
NEGATIONS = frozenset({"no", "not", "never", "don't", "dont", "doesn't", "didn't", "isn't", "aren't", "won't", "can't",
                       "cannot", "without", "nor", "none", "neither"})
FILLER = frozenset({"i", "i'm", "i'd", "im", "me", "my", "we", "you", "it", "its", "it's", "they", "them", "a", "an", "the",
                    "of", "on", "to", "for", "with", "about", "in", "at", "please", "actually", "really", "very", "much",
                    "just", "any", "some", "all", "do", "does", "am", "is", "are", "be", "would", "should", "could",
                    "thanks", "thank", "lot", "big", "huge", "kind", "sort", "things", "stuff", "anymore", "also", "bit",
                    "little", "have", "get", "give", "use", "using", "way", "those", "these", "that", "this", "one",
                    "ones", "answers", "answer", "responses", "response", "replies", "reply", "movies", "movie", "films",
                    "film", "there", "if", "than", "what", "when", "though", "keep", "make", "being",
                    "well", "quite", "pretty", "rather", "instead", "usually", "always", "generally", "personally",
                    "maybe", "ok", "okay", "fine", "now", "then", "prefer", "so", "tone", "style"})
CONJUNCTIONS = frozenset({"and", "or", "&", "plus", "nor", "with"})
_MARKERS = LIKE | DISLIKE | MORE | LESS | EXCESS | NEGATIONS | FILLER | CONJUNCTIONS | REQUESTS
_TOKEN = re.compile(r"[a-z0-9&]+(?:[-'][a-z0-9]+)*")
_CLAUSE = re.compile(r"[,;.!?]+|\bbut\b|\bexcept\b")
_NEGATED = re.compile(r"^(?:.*\s)?(?:no|not|non|without)[\s-]+(.+)$")


EXCESSIVE = 2
"""The local sign of a phrase after "too": a dislike whatever governs it."""


def _clause_phrases(tokens: list[str], inherited: int | None) -> tuple[list[tuple[int, str]], int | None]:
    """The object phrases of one clause with their polarity, and the clause's verb polarity.

    Negation has a scope (Jespersen's "nexal" vs "special" negation, kept to what chat messages
    need): a negation before a like/dislike verb flips the verb ("I don't like horror", "not a fan
    of slapstick") and so every phrase the verb governs; a negation, "less"/"fewer" or "too" right
    before a phrase flips that phrase alone ("shorter answers and no jokes", "not too long"). "or"
    and "nor" carry a phrase's negation on ("no jokes or emoji"); without a verb, so does "and"
    ("more musicals and slapstick"). A clause without a verb inherits the previous clause's
    ("I love musicals, not horror").
    """
    verb: int | None = None
    pending, marked, excess = 1, False, False
    phrases: list[tuple[int, str]] = []
    current: list[str] = []
    local, local_marked = 1, False

    def flush(carry: bool) -> None:
        nonlocal current, local, local_marked, pending, marked
        if current:
            phrases.append((local if local_marked else 0, " ".join(current)))
        if carry and current and local_marked:
            pending, marked = local, True
        current, local, local_marked = [], 1, False

    for token in tokens:
        if token in LIKE or token in DISLIKE or (token in REQUESTS and verb is None):
            flush(False)
            verb = (-1 if token in DISLIKE else 1) * pending
            pending, marked, excess = 1, False, False
        elif token in REQUESTS or token == "please" and verb is None:
            if token == "please" and not phrases and not current:
                continue
            if token == "please":
                verb = 1
        elif token in NEGATIONS or token in LESS or token in MORE or token in EXCESS:
            if current:  # "answers without emoji": a marker inside a phrase starts a new one
                flush(False)
            if token in EXCESS:
                excess = True
                marked = True
            else:
                pending *= 1 if token in MORE else -1
                marked = True
        elif token in CONJUNCTIONS:
            flush(token in ("or", "nor"))
            excess = False
        elif token in FILLER:
            continue
        else:
            if not current:
                local, local_marked = (EXCESSIVE if excess else pending), marked
                pending, marked, excess = 1, False, False
            current.append(token)
    flush(False)
    if verb is None and "please" in tokens and not any(marked for marked, _ in phrases):
        verb = 1  # "beginner friendly please": a request
    governing = verb if verb is not None else inherited
    result: list[tuple[int, str]] = []
    for local_sign, phrase in phrases:
        if local_sign == EXCESSIVE:  # "not too long", "don't be too formal": too much of it, whatever the verb
            result.append((-1, phrase))
        elif governing is None and local_sign == 0:  # "more musicals and slapstick": the list shares the marker
            result.append((result[-1][0] if result else 0, phrase))
        else:
            result.append(((governing if governing is not None else 1) * (local_sign or 1), phrase))
    return result, governing


def _match_targets(pack: Pack, embed: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings a phrase is matched against, the sign a match carries and the descriptor each is of.

    Every descriptor, and each of its content words ("short" of "short and concise": people say
    "shorter", not the vocabulary's phrase). A descriptor that is itself negative ("answers
    without emoji") is matched by its core ("emoji") with sign -1, so "less emoji" gives it a
    positive weight rather than a negative one.
    """
    texts, signs, owners = [], [], []
    for j, descriptor in enumerate(pack.descriptors):
        match = _NEGATED.match(descriptor)
        core, sign = (match.group(1), -1.0) if match else (descriptor, 1.0)
        words = [w for w in _TOKEN.findall(core) if w not in _MARKERS] if " " in core else []
        for text in dict.fromkeys([core, *words]):
            texts.append(text)
            signs.append(sign)
            owners.append(j)
    own = {d: j for j, d in enumerate(pack.descriptors)}
    embedded = np.asarray(embed(texts), dtype=np.float64) if texts else np.zeros((0, pack.descriptor_embeddings.shape[1]))
    for row, text in enumerate(texts):  # the descriptors' own embeddings, as the pack stores them
        if own.get(text) == owners[row] and signs[row] > 0:
            embedded[row] = pack.descriptor_embeddings[owners[row]]
    return embedded, np.array(signs), np.array(owners)


def _best_per_descriptor(similarity: np.ndarray, owners: np.ndarray, n_descriptors: int) -> np.ndarray:
    """(n_phrases, n_descriptors): each descriptor's best similarity over its targets."""
    best = np.full((similarity.shape[0], n_descriptors), -np.inf)
    for column, owner in enumerate(owners):
        best[:, owner] = np.maximum(best[:, owner], similarity[:, column])
    return best


def _nearest(similarity: np.ndarray) -> list[int]:
    """Columns matching one phrase: above :data:`MATCH_THRESHOLD`, within :data:`MATCH_MARGIN` of
    the best, at most :data:`MAX_MATCHES`, most similar first."""
    order = np.argsort(-similarity, kind="stable")[:MAX_MATCHES]
    floor = max(MATCH_THRESHOLD, similarity[order[0]] - MATCH_MARGIN)
    return [int(j) for j in order if similarity[j] >= floor]


def _one_per_group(pack: Pack, weights: dict[str, float]) -> dict[str, float]:
    """Stated weights with each group's direction stated once, by a descriptor that is no negation.

    "I like emoji" matches "uses emoji" (+) and the core of "answers without emoji" (-): one
    direction, kept as ``{"uses emoji": +w}``; "less emoji" becomes ``{"uses emoji": -w}``.
    """
    group, sign = descriptor_groups(pack.descriptors, pack.descriptor_definitions)
    column = {d: j for j, d in enumerate(pack.descriptors)}
    negated = [bool(_NEGATED.match(d)) for d in pack.descriptors]
    result: dict[str, float] = {}
    done: set[int] = set()
    for descriptor in weights:
        j = column[descriptor]
        if group[j] in done:
            continue
        done.add(int(group[j]))
        members = np.flatnonzero(group == group[j])
        direction = sum(w * sign[column[d]] for d, w in weights.items() if column[d] in members)
        if direction == 0:
            continue
        plain = [int(m) for m in members if not negated[m]] or [int(m) for m in members]
        liked = [m for m in plain if sign[m] * direction > 0]
        chosen = j if j in plain else (liked[0] if liked else plain[0])
        result[pack.descriptors[chosen]] = float(np.sign(direction * sign[chosen]) * STATED_WEIGHT)
    return result


def parse_correction(pack: Pack, text: str, embed: Callable[[list[str]], np.ndarray]) -> dict[str, float] | None:
    """Descriptor weights a user states in words, e.g. "actually I love musicals" -> ``{"musical": +0.5}``.

    Each clause (split at punctuation, "but" and "except") is read by :func:`_clause_phrases`:
    object phrases (content words, split at conjunctions and at negations) each with a polarity
    from the verb that governs it and the negation in its own scope ("I prefer shorter answers
    and no jokes": shorter +, jokes -). Each phrase is embedded and matched to the nearest
    descriptors (:func:`_nearest`); every match gets weight :math:`\\pm` :data:`STATED_WEIGHT`, a
    later phrase overriding an earlier one, and a direction the pack names by several
    descriptors is stated once (:func:`_one_per_group`).

    Parameters
    ----------
    text : what the user wrote
    embed : ``embed(texts) -> (n, d)`` unit-norm embeddings, with the pack's model

    Returns
    -------
    dict descriptor -> weight, or None when no phrase with a polarity matches a descriptor
    (the caller asks again)
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {text!r}")
    wanted: list[tuple[int, str]] = []
    polarity = None
    for clause in _CLAUSE.split(text.lower().replace("\u2019", "'")):
        phrases, polarity = _clause_phrases(_TOKEN.findall(clause), polarity)
        wanted += phrases
    if any(sign for sign, _ in wanted):  # "short answers with examples, no emoji": a list of wishes
        wanted = [(sign or 1, phrase) for sign, phrase in wanted]
    wanted = [(sign, phrase) for sign, phrase in wanted if sign]
    if not wanted or not pack.descriptors:
        return None
    targets, signs, owners = _match_targets(pack, embed)
    similarity = _best_per_descriptor(np.asarray(embed([phrase for _, phrase in wanted]), dtype=np.float64) @ targets.T,
                                      owners, len(pack.descriptors))
    sign_of = np.ones(len(pack.descriptors))
    sign_of[owners] = signs
    weights: dict[str, float] = {}
    for (polarity, _), row in zip(wanted, similarity):
        for j in _nearest(row):
            weights.pop(pack.descriptors[j], None)
            weights[pack.descriptors[j]] = float(polarity * sign_of[j] * STATED_WEIGHT)
    return _one_per_group(pack, weights) or None
