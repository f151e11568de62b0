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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..reward.naming import descriptor_matrix
from ..reward.pack import Pack

__all__ = [
    "STATED",
    "DescriptorIndex",
    "DescriptorWeight",
    "Summary",
    "apply_correction",
    "confidence_level",
    "correlation_sd",
    "descriptor_correlations",
    "descriptor_index",
    "describe",
    "parse_correction",
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
    """Liked before disliked; within each, stated first, then by decreasing strength."""
    return tuple(sorted(weights, key=lambda w: (w.weight < 0, not w.stated, -abs(w.weight))))


def describe(weights: tuple[DescriptorWeight, ...], n_answers: int, n_skipped: int) -> str:
    """The summary text, e.g. "Enjoys: war, documentary. Not keen on: horror. Confidence: medium
    (10 answers, 1 skipped)."; the overall confidence is the level of the median generated one."""
    liked = [w.descriptor for w in weights if w.weight > 0]
    disliked = [w.descriptor for w in weights if w.weight < 0]
    sentences = []
    if liked:
        sentences.append(f"Enjoys: {', '.join(liked)}.")
    if disliked:
        sentences.append(f"Not keen on: {', '.join(disliked)}.")
    if not sentences:
        sentences.append("No strong preferences yet.")
    generated = [w.confidence for w in weights if not w.stated]
    level = confidence_level(float(np.median(generated))) if generated else "low"
    counts = f"{n_answers} answer{'' if n_answers == 1 else 's'}" + (f", {n_skipped} skipped" if n_skipped else "")
    sentences.append(f"Confidence: {level} ({counts}).")
    stated = [w.descriptor for w in weights if w.stated]
    if stated:
        sentences.append(f"Stated by you: {', '.join(stated)}.")
    return " ".join(sentences)


# --------------------------------------------------------------------------- per-pack statistics


@dataclass(frozen=True, eq=False)
class DescriptorIndex:
    r"""A pack's descriptor statistics, computed once per pack by :func:`descriptor_index`.

    Attributes
    ----------
    columns : dict, descriptor -> column j
    association : (n_items, n_descriptors) :math:`z_{ij}`, the standardised association
    similarity_mean, similarity_sd : (n_descriptors,) catalog mean and standard deviation of
        :math:`\cos(e(i), e(d_j))`, to standardise texts outside the catalog (:func:`text_associations`)
    cross : (n_descriptors, n_learned) the :math:`b_j` of the module docstring
    gram : (n_learned, n_learned) :math:`C`
    """

    columns: dict[str, int]
    association: np.ndarray
    similarity_mean: np.ndarray
    similarity_sd: np.ndarray
    cross: np.ndarray
    gram: np.ndarray


def _standardise(values: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """``(values - mean) / sd`` by column, 0 where ``sd`` is 0."""
    return np.divide(values - mean, sd, out=np.zeros(np.shape(values)), where=sd > 0)


_INDEXES: weakref.WeakKeyDictionary[Pack, DescriptorIndex] = weakref.WeakKeyDictionary()


def descriptor_index(pack: Pack) -> DescriptorIndex:
    """The :class:`DescriptorIndex` of ``pack``, cached for as long as the pack lives."""
    index = _INDEXES.get(pack)
    if index is None:
        association = descriptor_matrix(pack.descriptor_source, pack.items, pack.descriptors,
                                        pack.embeddings, pack.descriptor_embeddings)
        similarity = np.asarray(pack.embeddings, dtype=np.float64) @ np.asarray(pack.descriptor_embeddings, dtype=np.float64).T
        z = _standardise(association, association.mean(0), association.std(0))
        learned = pack.features[:, : pack.n_learned]
        centred = learned - learned.mean(0)
        index = DescriptorIndex(
            columns={d: j for j, d in enumerate(pack.descriptors)},
            association=z,
            similarity_mean=similarity.mean(0),
            similarity_sd=similarity.std(0),
            cross=z.T @ centred / pack.n_items,
            gram=centred.T @ centred / pack.n_items,
        )
        _INDEXES[pack] = index
    return index


def text_associations(pack: Pack, embeddings: np.ndarray) -> np.ndarray:
    r"""Standardised association of texts outside the catalog with every descriptor.

    .. math:: z_j(t) = \frac{\cos(e(t), e(d_j)) - \overline{\cos}_j}{\sigma_j(\cos)}

    with the mean and standard deviation of the same similarity over the catalog. For a
    vocabulary pack this is exactly :math:`z_{ij}` of a catalog item; for a tags pack (whose
    :math:`A` is 0/1 tags, unknown for a new text) it is the content-only stand-in on the same
    standardised scale.

    Parameters
    ----------
    embeddings : (n, d) unit-norm sentence embeddings of the texts

    Returns
    -------
    (n, n_descriptors)
    """
    embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
    if embeddings.shape[1] != pack.embeddings.shape[1]:
        raise ValueError(f"embeddings of width {embeddings.shape[1]}, pack {pack.name!r} uses {pack.embeddings.shape[1]}")
    index = descriptor_index(pack)
    similarity = embeddings @ np.asarray(pack.descriptor_embeddings, dtype=np.float64).T
    return _standardise(similarity, index.similarity_mean, index.similarity_sd)


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


def summarize(pack: Pack, mean: np.ndarray, cov: np.ndarray, n_answers: int, n_skipped: int, top: int = 4) -> Summary:
    r"""The semantic summary of a user with posterior :math:`N(m, S)` (see the module docstring).

    .. math:: a_j = \rho_j(m) - \rho_j(\mu_0), \qquad c_j = |a_j| / \mathrm{sd}_j

    Parameters
    ----------
    pack : the pack the posterior lives in
    mean : (n_bases,) posterior mean :math:`m`
    cov : (n_bases, n_bases) posterior covariance :math:`S`
    n_answers, n_skipped : answer counts, for the text
    top : at most this many descriptors on each side (enjoys / not keen on)
    """
    mean, cov = _posterior(pack, mean, cov)
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    index, k = descriptor_index(pack), pack.n_learned
    affinity = descriptor_correlations(index, mean[:k]) - descriptor_correlations(index, pack.prior_mean[:k])
    sd = correlation_sd(index, mean[:k], cov[:k, :k])
    confidence = np.divide(np.abs(affinity), sd, out=np.zeros_like(affinity), where=sd > 0)
    shown = (confidence >= 1.0) & (np.abs(affinity) >= MIN_AFFINITY)
    liked = [j for j in np.argsort(-affinity, kind="stable") if shown[j] and affinity[j] > 0][:top]
    disliked = [j for j in np.argsort(affinity, kind="stable") if shown[j] and affinity[j] < 0][:top]
    weights = _ordered(DescriptorWeight(pack.descriptors[j], float(affinity[j]), float(confidence[j])) for j in liked + disliked)
    return Summary(describe(weights, n_answers, n_skipped), weights, n_answers, n_skipped)


def apply_correction(summary: Summary, weights: Mapping[str, float]) -> Summary:
    """A new summary with the user's stated ``weights`` (from :func:`parse_correction`).

    A stated descriptor replaces a generated weight of the same descriptor, whatever its sign,
    with confidence :data:`STATED`; the other weights and the counts are kept. ``summary``
    itself is unchanged (storage keeps old versions).
    """
    if not weights:
        raise ValueError("a correction needs at least one descriptor weight, got none")
    stated = [DescriptorWeight(descriptor, float(weight), math.inf) for descriptor, weight in weights.items()]
    kept = [w for w in summary.weights if w.descriptor not in weights]
    ordered = _ordered(kept + stated)
    return Summary(describe(ordered, summary.n_answers, summary.n_skipped), ordered, summary.n_answers, summary.n_skipped)


def summary_weights(pack: Pack, summary: Summary) -> np.ndarray:
    """(n_descriptors,) the summary's weights on the pack's descriptors; descriptors the pack does
    not know (a summary carried over from another pack) contribute nothing."""
    columns = descriptor_index(pack).columns
    vector = np.zeros(len(pack.descriptors))
    for w in summary.weights:
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


# --------------------------------------------------------------------------- corrections

LIKE = frozenset({"love", "loves", "loved", "like", "likes", "liked", "prefer", "prefers", "more", "enjoy", "enjoys",
                  "adore", "want", "fan", "into", "keen", "favourite", "favorite"})
DISLIKE = frozenset({"hate", "hates", "dislike", "dislikes", "less", "fewer", "avoid", "stop", "detest"})
NEGATIONS = frozenset({"no", "not", "never", "don't", "dont", "doesn't", "didn't", "isn't", "aren't", "won't", "can't",
                       "cannot", "without", "nor", "none"})
FILLER = frozenset({"i", "i'm", "i'd", "im", "me", "my", "we", "you", "it", "its", "they", "them", "a", "an", "the", "of",
                    "on", "to", "for", "with", "about", "in", "at", "please", "actually", "really", "very", "much", "so",
                    "too", "just", "any", "some", "all", "do", "does", "am", "is", "are", "be", "would", "should",
                    "thanks", "thank", "lot", "lots", "big", "huge", "kind", "sort", "things", "stuff", "anymore"})
CONJUNCTIONS = frozenset({"and", "or", "&", "plus"})
NOT_CONTENT = LIKE | DISLIKE | NEGATIONS | FILLER
_TOKEN = re.compile(r"[a-z0-9&]+(?:[-'][a-z0-9]+)*")
_CLAUSE = re.compile(r"[,;.!?]+|\bbut\b")
_NEGATED = re.compile(r"^(?:no|not|non|without)[\s-]+(.+)$")


def _polarity(tokens: list[str]) -> int | None:
    """+1 or -1 for a clause, None when it says neither: each like/dislike cue and each negation
    flips the sign ("not a fan of" -1, "no more" -1, "don't hate" +1)."""
    cues = [1 for t in tokens if t in LIKE] + [-1 for t in tokens if t in DISLIKE]
    negations = sum(t in NEGATIONS for t in tokens)
    if not cues and not negations:
        return None
    return math.prod(cues) * (-1) ** negations


def _phrases(tokens: list[str]) -> list[str]:
    """The object phrases of a clause: its content words, split at conjunctions."""
    phrases, current = [], []
    for token in tokens + ["and"]:
        if token in CONJUNCTIONS:
            if current:
                phrases.append(" ".join(current))
            current = []
        elif token not in NOT_CONTENT:
            current.append(token)
    return phrases


def _match_targets(pack: Pack, embed: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings a phrase is matched against, and the sign a match carries.

    A descriptor that is itself negative ("no emoji") is matched by its core ("emoji") with
    sign -1, so "less emoji" gives "no emoji" a positive weight rather than a negative one.
    """
    targets = np.array(pack.descriptor_embeddings, dtype=np.float64)
    signs = np.ones(len(pack.descriptors))
    negated = [(j, match.group(1)) for j, d in enumerate(pack.descriptors) if (match := _NEGATED.match(d))]
    if negated:
        rows = [j for j, _ in negated]
        targets[rows] = embed([core for _, core in negated])
        signs[rows] = -1.0
    return targets, signs


def _nearest(similarity: np.ndarray) -> list[int]:
    """Columns matching one phrase: above :data:`MATCH_THRESHOLD`, within :data:`MATCH_MARGIN` of
    the best, at most :data:`MAX_MATCHES`, most similar first."""
    order = np.argsort(-similarity, kind="stable")[:MAX_MATCHES]
    floor = max(MATCH_THRESHOLD, similarity[order[0]] - MATCH_MARGIN)
    return [int(j) for j in order if similarity[j] >= floor]


def parse_correction(pack: Pack, text: str, embed: Callable[[list[str]], np.ndarray]) -> dict[str, float] | None:
    """Descriptor weights a user states in words, e.g. "actually I love musicals" -> ``{"musical": +0.5}``.

    Each clause (split at punctuation and "but") gets a polarity from its cue words (love, like,
    prefer, more, enjoy... against hate, dislike, less, avoid...; each negation flips it: "not a
    fan of slapstick" is negative, "no horror please" too); a clause without a cue inherits the
    previous clause's polarity. Its content words, split at "and"/"or", are object phrases; each
    phrase is embedded and matched to the nearest descriptors (:func:`_nearest`). Every match
    gets weight :math:`\\pm` :data:`STATED_WEIGHT`; a later clause overrides an earlier one.

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
        tokens = _TOKEN.findall(clause)
        polarity = _polarity(tokens) or polarity
        if polarity is not None:
            wanted += [(polarity, phrase) for phrase in _phrases(tokens)]
    if not wanted or not pack.descriptors:
        return None
    targets, signs = _match_targets(pack, embed)
    similarity = np.asarray(embed([phrase for _, phrase in wanted]), dtype=np.float64) @ targets.T
    weights = {}
    for (polarity, _), row in zip(wanted, similarity):
        for j in _nearest(row):
            weights[pack.descriptors[j]] = float(polarity * signs[j] * STATED_WEIGHT)
    return weights or None
