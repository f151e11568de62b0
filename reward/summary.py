r"""The numbers behind the semantic summary: a user's reward as weights on the pack's descriptors.

PRIME-style semantic memory distils the answers into a few weighted descriptors ("Enjoys: war,
documentary. Not keen on: horror.") instead of replaying them; :mod:`prefchat.research.memory`
holds the episodic baseline it is compared against. Everything here is deterministic numpy; the
words of a summary are the assistant's (:mod:`prefchat.assistant.summary`), and the pack build
chooses the weights a summary is served with from these numbers alone
(:mod:`~prefchat.reward.calibration`).

Descriptors
-----------
A pack names descriptors and associates every catalog item with each of them, standardised over
the catalog, :math:`z_{ij}` (:mod:`prefchat.reward.descriptors`). Corrections in words are read by
:mod:`~prefchat.assistant.corrections`.

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
nothing). A user without answers has :math:`m = \mu_0`, hence :math:`a = 0` and no weight.

Confidence
----------
Of each descriptor: :math:`c_j = |a_j| / \mathrm{sd}_j`, with :math:`\mathrm{sd}_j` the posterior
standard deviation of :math:`\rho_j(\lambda)`, :math:`\lambda \sim N(m, S)`, estimated from
:data:`N_SAMPLES` seeded draws (the correlation is far from linear on the scale of :math:`S` after
ten answers, so the delta method would misjudge it). Levels: low below 1, medium below 2, high from
2; a descriptor the user stated has confidence :math:`\infty`, shown as "stated by user". A
summary lists, on each side, the strongest descriptors of at least medium confidence and
:math:`|a_j| \ge` :data:`MIN_AFFINITY`.

Of the whole summary (:attr:`Summary.confidence`, :func:`summary_confidence`): how much better than
chance the user's own answers were foreseen, each before it was given, the answer fit of
:mod:`~prefchat.elicitation.confidence`, against the pack's thresholds chosen at build
(:attr:`~prefchat.reward.pack.Pack.confidence`). Not the number of answers: a random answerer's ten
answers read "low", and "high" needs five decided answers at least.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..elicitation.confidence import LEVELS, answer_fit, decided, descriptor_lean
from ..elicitation.posterior import Answer
from .descriptors import DescriptorIndex, text_associations
from .naming import descriptor_groups
from .pack import Pack

__all__ = [
    "STATED",
    "STATED_WEIGHT",
    "DescriptorWeight",
    "Summary",
    "answer_evidence",
    "confidence_level",
    "correlation_sd",
    "descriptor_correlations",
    "descriptor_weights",
    "measured_confidence",
    "ordered",
    "scale_stated_likes",
    "stated_affinity",
    "summary_affinity",
    "summary_confidence",
    "summary_weights",
    "with_stated",
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
    ranking uses (:func:`summary_affinity`). The text is written by the assistant
    (:func:`prefchat.assistant.summary.summarize`); a summary only ranked, as when a pack's
    weights are chosen, may leave it empty. ``confidence`` is the level of the ``answer_fit``
    (:func:`summary_confidence`); None where it was not measured (a pack without thresholds).
    ``tastes`` names a user's several tastes, largest first, where the answers show more than one
    (:func:`prefchat.assistant.summary.tastes_of`), so that a text written anew keeps them.
    """

    text: str
    weights: tuple[DescriptorWeight, ...]
    n_answers: int
    n_skipped: int
    confidence: str | None = None
    answer_fit: float | None = None
    tastes: tuple[str, ...] = ()

    def __post_init__(self):
        if self.confidence not in (None, *LEVELS):
            raise ValueError(f"confidence must be one of {LEVELS} or None, got {self.confidence!r}")
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
        """The weights the user stated in words (:func:`with_stated`)."""
        return tuple(w for w in self.weights if w.stated)

    def structured(self) -> dict:
        """JSON-ready weights: ``{descriptor: {"weight", "sign", "confidence", "score"}, "_meta": {...}}``.

        ``confidence`` is the level (low/medium/high/stated by user) and ``score`` the number
        behind it, None when stated (JSON has no infinity). ``_meta`` holds ``n_answers``,
        ``n_skipped``, the summary's ``confidence`` and ``answer_fit`` (None where not measured) and its ``tastes``.
        """
        structured: dict[str, dict[str, object]] = {
            w.descriptor: {"weight": w.weight, "sign": w.sign, "confidence": w.level,
                           "score": None if w.stated else w.confidence}
            for w in self.weights
        }
        structured[META] = {"n_answers": self.n_answers, "n_skipped": self.n_skipped, "confidence": self.confidence,
                            "answer_fit": self.answer_fit, "tastes": list(self.tastes)}
        return structured

    @classmethod
    def from_structured(cls, text: str, structured: Mapping) -> Summary:
        """The summary with ``text`` whose :meth:`structured` form is ``structured``."""
        try:
            meta = structured[META]
            counts = int(meta["n_answers"]), int(meta["n_skipped"])
            measured = measured_confidence(structured)
            tastes = tuple(str(name) for name in meta.get("tastes", ()))  # none in a summary stored before them
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
        return cls(text, tuple(weights), *counts, *measured, tastes)


def measured_confidence(structured: Mapping) -> tuple[str | None, float | None]:
    """The summary confidence and answer fit a stored :meth:`Summary.structured` records; (None, None)
    for one that records none (not measured, or stored before they were)."""
    meta = structured.get(META)
    if not isinstance(meta, Mapping):
        return None, None
    level, fit = meta.get("confidence"), meta.get("answer_fit")
    return (level if level in LEVELS else None), (None if fit is None else float(fit))


def ordered(weights: Iterable[DescriptorWeight]) -> tuple[DescriptorWeight, ...]:
    """Liked before disliked; within each, strongest first (a stated weight before a generated one
    of the same strength): the order a summary names them in."""
    return tuple(sorted(weights, key=lambda w: (w.weight < 0, -abs(w.weight), not w.stated)))


# --------------------------------------------------------------------------- per-pack statistics


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


def answer_evidence(pack: Pack, answers: Iterable[Answer]) -> np.ndarray:
    r"""How far the user's own choices lean towards each of the pack's descriptors, :math:`t_j`
    of :func:`~prefchat.elicitation.confidence.descriptor_lean`; (n_descriptors,), zeros without a
    decided answer."""
    return descriptor_lean(pack.serving.descriptors.association, answers)


def summary_confidence(pack: Pack, answers: Sequence[Answer] | None) -> tuple[str | None, float | None]:
    """The summary's confidence level and the answer fit behind it (see the module docstring),
    read against the thresholds of as many decided answers (a skip tells nothing); (None, None)
    without the answers or without the pack's thresholds."""
    thresholds = pack.confidence
    if answers is None or thresholds is None:
        return None, None
    fit = answer_fit(pack.serving.descriptors.association, answers, thresholds.scale)
    return thresholds.level(fit, decided(answers)), fit


def descriptor_weights(pack: Pack, mean: np.ndarray, cov: np.ndarray, top: int = 4,
                       answers: Sequence[Answer] | None = None) -> tuple[DescriptorWeight, ...]:
    r"""The weights of the semantic summary of a user with posterior :math:`N(m, S)` (see the module docstring).

    .. math:: a_j = \rho_j(m) - \rho_j(\mu_0), \qquad c_j = |a_j| / \mathrm{sd}_j

    Parameters
    ----------
    pack : the pack the posterior lives in
    mean : (n_bases,) posterior mean :math:`m`
    cov : (n_bases, n_bases) posterior covariance :math:`S`
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

    Returns the weights a summary names (in :func:`ordered` order): on each side, at most ``top`` of the descriptors with
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
    index, k = pack.serving.descriptors, pack.n_learned
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
    return ordered(DescriptorWeight(pack.descriptors[j], float(np.sign(strength[j]) * max(abs(affinity[j]), MIN_AFFINITY)),
                                    float(confidence[j])) for j in liked + disliked)


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


def with_stated(summary: Summary, weights: Mapping[str, float], pack: Pack | None = None) -> tuple[DescriptorWeight, ...]:
    """The weights of ``summary`` with the user's stated ``weights``, in :func:`ordered` order.

    A stated descriptor replaces a weight of the same descriptor (and, given the ``pack``, of any
    descriptor of its group: one direction is stated once), whatever its sign, with confidence
    :data:`STATED`; the other weights are kept.
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
    return ordered(kept + stated)


def scale_stated_likes(summary: Summary, factor: float) -> Summary:
    """``summary`` with the weights of the likes the user stated times ``factor`` (0 leaves them
    out), text and everything else kept: how a like is served when the validated weight alone
    would not move the picks (:func:`~prefchat.reward.scoring.like_factor`)."""
    if not (math.isfinite(factor) and factor >= 0):
        raise ValueError(f"factor must be finite and >= 0, got {factor!r}")
    weights = tuple(replace(w, weight=w.weight * factor) if w.stated and w.weight > 0 else w
                    for w in summary.weights if factor > 0 or not (w.stated and w.weight > 0))
    return replace(summary, weights=weights)


def summary_weights(pack: Pack, summary: Summary, stated: bool | None = None) -> np.ndarray:
    """(n_descriptors,) the summary's weights on the pack's descriptors; descriptors the pack does
    not know (a summary carried over from another pack) contribute nothing. ``stated`` True or
    False keeps only the stated, or only the generated, weights."""
    columns = pack.serving.descriptors.columns
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
    association = pack.serving.descriptors.association if item_embeddings is None else text_associations(pack.serving.descriptors, item_embeddings)
    return association @ summary_weights(pack, summary)


def stated_affinity(pack: Pack, summary: Summary) -> np.ndarray:
    r"""(n_items,) how much each catalog item matches what the user stated, on the scale a stated
    weight is served on.

    .. math:: s^\text{stated}(i) = \sum_{j \text{ stated}} w_j\, u_j\, z_{ij}

    with :math:`u_j` the :attr:`DescriptorIndex.stated_unit` (on a tags pack :math:`u_j z_{ij} =
    A_{ij} - \bar A_j`: every stated tag moves its items alike).
    """
    index = pack.serving.descriptors
    return index.association @ (index.stated_unit * summary_weights(pack, summary, stated=True))
