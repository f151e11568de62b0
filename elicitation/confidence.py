r"""How well a user's answers are predicted, and the confidence word that says so.

Why not the posterior over the bases
------------------------------------
The questions adapt to the answers: each one is chosen where the posterior over the bases is
least sure (:mod:`~prefchat.elicitation.selection`), so that posterior gives every answer a
chance near :math:`1/k` before it is given, whoever answers. Under an ideal adaptive design the
marginal likelihood of *any* answer sequence is :math:`\prod_t 1/k_t`: random answers and a
consistent person's are told apart by nothing that posterior holds. The evidence has to come
from a model the questions were not chosen to split.

The descriptor model
--------------------
The pack's descriptors (:mod:`~prefchat.reward.descriptors`) say in words what the summary can
say ("short and concise", "horror"), each with its standardised association :math:`z_{ij}` with
every item. Model :math:`M`: one descriptor :math:`j` drives the choices, uniformly over the
:math:`J` descriptors, with a strength :math:`w \sim N(0, s^2)`; an answer among options
:math:`o_1..o_k` picks :math:`c` with

.. math:: P(c \mid j, w) = \frac{e^{w z_{cj}}}{\sum_l e^{w z_{o_l j}}}

(for a pair, :math:`\sigma(w (z_{aj} - z_{bj}))`; a tie is the soft label 1/2, a skip no term).
The **answer fit** is the log Bayes factor of :math:`M` against answering at random,

.. math:: F = \log \frac{p(y_{1..n} \mid M)}{\prod_t 1/k_t}
          = \sum_{t=1}^{n} \log \frac{p(y_t \mid y_{<t}, M)}{1/k_t},

the posterior predictive probability of each answer *before it was given* (a held-out answer
each time) against a random answerer's: how many nats the user's own answers were easier to
foresee than chance. :math:`p(y \mid M) = \frac1J \sum_j \int \prod_t P(y_t \mid j, w)\,
N(w; 0, s^2)\, dw`, each integral by Gauss-Hermite quadrature.

Levels
------
:class:`ConfidenceThresholds`, chosen per pack at build on simulated onboardings (the served
loop, :mod:`prefchat.reward.confidence`): "medium" is a fit that at most 1 in 20 random
answerers reaches after as many answers, "high" one that at most 1 in 100 reaches
(:func:`choose_thresholds`), never before :data:`MIN_HIGH_ANSWERS` answers; the strength scale
:math:`s` is the one under which validation users answering consistently read "high" most often.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import log_expit, logsumexp

from .posterior import Answer, KWayChoice, picked

__all__ = [
    "LEVELS",
    "MIN_HIGH_ANSWERS",
    "ConfidenceThresholds",
    "answer_fit",
    "choose_thresholds",
    "decided",
    "descriptor_lean",
    "wins",
]

LEVELS = ("low", "medium", "high")
MIN_HIGH_ANSWERS = 5
"""Fewest answers that may ever read "high": fewer cannot rule out luck, whatever they fit."""
QUADRATURE_NODES = 41
"""Gauss-Hermite nodes of each strength integral: exact to well below the thresholds' resolution."""


def _rows(association: np.ndarray, items: Sequence[int]) -> np.ndarray:
    """Rows of ``association`` for ``items``; an item outside the catalog (the reference item of
    feedback, index ``n_items``) at the catalog mean, :math:`z = 0`, the matrix not copied."""
    index = np.asarray(items, dtype=np.intp)
    inside = index < len(association)
    return np.where(inside[:, None], association[np.where(inside, index, 0)], 0.0)


def answer_fit(association: np.ndarray, answers: Iterable[Answer], scale: float) -> float:
    r"""The answer fit :math:`F` of the module docstring, in nats; 0 without a decided answer.

    .. math:: F = \log \frac1J \sum_j \sum_q \omega_q \prod_t P(y_t \mid j, s\, x_q) - \sum_t \log \frac{1}{k_t}

    with :math:`(x_q, \omega_q)` the probabilists' Gauss-Hermite nodes and weights (normalised).

    Parameters
    ----------
    association : (n_items, n_descriptors) array :math:`z`
    answers : the user's answers (item indices; an index past the catalog is at :math:`z = 0`)
    scale : float > 0, the prior sd :math:`s` of the strength
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale!r}")
    association = np.asarray(association, dtype=np.float64)
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    strength = scale * nodes[:, None]  # (Q, 1)
    total, chance = np.zeros((QUADRATURE_NODES, association.shape[1])), 0.0
    for answer in answers:
        if isinstance(answer, KWayChoice):
            z = _rows(association, answer.options)  # (k, J)
            utility = strength[:, None, :] * z[None]  # (Q, k, J)
            total += utility[:, answer.position] - logsumexp(utility, axis=1)
            chance += math.log(len(answer.options))
        elif answer.label is not None:
            za, zb = _rows(association, answer.items)
            margin = strength * (za - zb)
            total += answer.label * log_expit(margin) + (1.0 - answer.label) * log_expit(-margin)
            chance += math.log(2.0)
    if chance == 0.0:
        return 0.0
    per_descriptor = logsumexp(total, axis=0, b=(weights / weights.sum())[:, None])
    return float(logsumexp(per_descriptor) - math.log(len(per_descriptor)) + chance)


def decided(answers: Iterable[Answer]) -> int:
    """How many of the answers carry a likelihood term, the :math:`n` of :func:`answer_fit`: every
    k-way pick and every pair's answer but a skip."""
    return sum(isinstance(answer, KWayChoice) or answer.label is not None for answer in answers)


def wins(answers: Iterable[Answer]) -> Iterator[tuple[int, int]]:
    """The (winner, loser) pairs the answers state (:func:`~prefchat.elicitation.posterior.picked`): none
    for a tie or a skip; a k-way pick beats each other option."""
    for answer in answers:
        if (choice := picked(answer)) is not None:
            yield from ((choice[0], loser) for loser in choice[1])


def descriptor_lean(association: np.ndarray, answers: Iterable[Answer]) -> np.ndarray:
    r"""How far the user's own choices lean towards each descriptor: a t statistic.

    .. math:: d_{pj} = z_{w_p j} - z_{l_p j}, \qquad
              t_j = \frac{\bar d_j}{\sqrt{(\overline{d^2}_j + 1) / n}}

    over the decided answers :math:`p = 1..n` (winner :math:`w_p`, loser :math:`l_p`, :func:`wins`;
    an item outside the catalog at :math:`z = 0`). The :math:`+1` keeps a few agreeing answers
    from looking certain.

    Returns
    -------
    (n_descriptors,), zeros without a decided answer
    """
    association = np.asarray(association)
    pairs = list(wins(answers))
    if not pairs:
        return np.zeros(association.shape[1])
    differences = _rows(association, [p[0] for p in pairs]) - _rows(association, [p[1] for p in pairs])
    return differences.mean(0) / np.sqrt(((differences**2).mean(0) + 1e-3) / len(pairs))


@dataclass(frozen=True)
class ConfidenceThresholds:
    """The answer fit a summary needs for "medium" and for "high", after each number of answers.

    Attributes
    ----------
    scale : the strength prior sd :math:`s` the fits are computed with (:func:`answer_fit`)
    medium, high : tuples, entry ``n`` the fit needed after ``n`` decided answers (:func:`decided`;
        ``inf``: never); past the last entry, the last applies
    """

    scale: float
    medium: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self):
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be finite and > 0, got {self.scale!r}")
        medium, high = (tuple(float(v) for v in values) for values in (self.medium, self.high))
        if not medium or len(medium) != len(high):
            raise ValueError(f"medium and high need one threshold per answer count, got {len(medium)} and {len(high)}")
        if any(math.isnan(v) for v in medium + high) or any(h < m for m, h in zip(medium, high)):
            raise ValueError(f"thresholds must be numbers with high >= medium, got {medium} and {high}")
        if any(math.isfinite(h) for h in high[:MIN_HIGH_ANSWERS]):
            raise ValueError(f"'high' is impossible below {MIN_HIGH_ANSWERS} answers, got {high[:MIN_HIGH_ANSWERS]}")
        object.__setattr__(self, "medium", medium)
        object.__setattr__(self, "high", high)

    def level(self, fit: float, n_answers: int) -> str:
        """"low", "medium" or "high" for an answer fit ``fit`` of ``n_answers`` decided answers."""
        n = min(max(n_answers, 0), len(self.medium) - 1)
        if n_answers >= MIN_HIGH_ANSWERS and fit >= self.high[n]:
            return "high"
        return "medium" if fit >= self.medium[n] else "low"

    def to_dict(self) -> dict:
        """JSON-ready (``inf`` as None)."""
        def listed(values):
            return [v if math.isfinite(v) else None for v in values]

        return {"scale": self.scale, "medium": listed(self.medium), "high": listed(self.high)}

    @classmethod
    def from_dict(cls, data: dict) -> ConfidenceThresholds:
        """The inverse of :meth:`to_dict`."""
        try:
            return cls(float(data["scale"]), *(tuple(math.inf if v is None else float(v) for v in data[key])
                                              for key in ("medium", "high")))
        except (KeyError, TypeError) as error:
            raise ValueError(f"confidence thresholds need 'scale', 'medium' and 'high', got {data!r}") from error


RANDOM_MEDIUM = 0.05
"""Share of random answerers whose fit reaches "medium" (on the simulated sessions)."""
RANDOM_HIGH = 0.01
"""Share of random answerers whose fit reaches "high" (on the simulated sessions)."""


def choose_thresholds(random: np.ndarray, scale: float, random_medium: float = RANDOM_MEDIUM,
                      random_high: float = RANDOM_HIGH) -> ConfidenceThresholds:
    r"""The thresholds that few random answerers reach, after each number of answers.

    ``random`` is an (n_sessions, n_max + 1) array: the answer fit of each simulated random
    answerer's session after 0..n_max answers (nan once a session has stopped). After ``n`` answers,

    .. math:: \text{medium}_n = \min\{t : \hat P(F^\text{random}_n \ge t) \le \alpha_m\}, \qquad
              \text{high}_n = \min\{t : \hat P(F^\text{random}_n \ge t) \le \alpha_h\}

    over the fits observed and :math:`\infty` (:math:`\alpha_m` = ``random_medium``,
    :math:`\alpha_h` = ``random_high``; after few answers the fits take few values, and a
    threshold shared by many random sessions would pass them all): "high" is a fit at most one
    random answerer in :math:`1/\alpha_h` reaches, and ``inf`` below :data:`MIN_HIGH_ANSWERS`.
    Past the last count that any session reached, the last thresholds apply.
    """
    random = np.asarray(random, dtype=float)
    if random.ndim != 2 or not 0 < random_high <= random_medium < 1:
        raise ValueError(f"random must be a (sessions, answers + 1) array and 0 < random_high <= random_medium < 1, "
                         f"got {random.shape}, {random_high!r} and {random_medium!r}")
    medium: list[float] = []
    high: list[float] = []
    for n in range(random.shape[1]):
        fits = random[:, n][~np.isnan(random[:, n])]
        if not fits.size:
            medium.append(medium[-1] if medium else math.inf)
            high.append(high[-1] if high else math.inf)
            continue
        medium.append(_tail(fits, random_medium))
        high.append(_tail(fits, random_high) if n >= MIN_HIGH_ANSWERS else math.inf)
    return ConfidenceThresholds(scale, tuple(medium), tuple(high))


def _tail(fits: np.ndarray, share: float) -> float:
    """The smallest of ``fits`` (or ``inf``) that at most ``share`` of them reach."""
    candidates = np.append(np.unique(fits), math.inf)
    reach = (fits[None, :] >= candidates[:-1, None]).mean(1)
    return float(candidates[np.argmax(np.append(reach, 0.0) <= share)])
