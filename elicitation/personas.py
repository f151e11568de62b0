r"""Several tastes per user: the personas of the known-items model (:mod:`~prefchat.elicitation.known`).

A user's revealed known items :math:`R` are draws :math:`\Pi_i \sim N(\theta, \tau \Psi)` of one
coefficient :math:`\theta`. A household behind one account, or a person with a horror side and
a comedy side, is better described by several: :math:`R` is split into personas
:math:`R_1, \dots, R_P`, each its own draw :math:`\Pi_i \sim N(\theta_p, \tau \Psi)` (AMP-CF,
"attentive multi-persona collaborative filtering", Tran et al., RecSys 2020, with the personas
inferred from the answers instead of trained).

Split (:func:`split_personas`). In the whitened coordinates :math:`z_i = (\tau \Psi)^{-1/2} \Pi_i`
a persona's log-likelihood at its mean is :math:`-\tfrac12 \sum_{i \in R_p} \lVert z_i - \bar z_p \rVert^2`
(up to a constant). Ten answers reveal a handful of items, too few to tell tastes apart in all
:math:`K` whitened directions, most of which are noise; the split reads the :math:`d` of them along
which users differ most, the leading eigenvectors :math:`U_d` of the population's spread in those
coordinates, :math:`(\tau\Psi)^{-1/2} \Sigma (\tau\Psi)^{-1/2}`, so :math:`z_i = U_d^\top (\tau \Psi)^{-1/2} \Pi_i`.
Splitting a persona :math:`A` into :math:`A_1, A_2` gains (Ward's criterion)

.. math:: \Delta \ell = \frac{n_1 n_2}{2 (n_1 + n_2)} \lVert \bar z_1 - \bar z_2 \rVert^2 .

The split is 2-means of :math:`A` (Lloyd's iterations from its two most distant items), kept when
:math:`\Delta \ell` exceeds a BIC-like penalty for the new persona's :math:`K` coefficients,

.. math:: \Delta \ell > w \, \tfrac{d}{2} \log |R| ,

each persona at least :data:`MIN_PERSONA_ITEMS` items; the persona with the largest gain is split
first, up to :math:`P_\max` personas. :math:`d`, the weight :math:`w` and :math:`P_\max` are chosen on
validation users when a pack is built; :math:`P_\max = 1` is the single taste of today.

Score (:func:`attend`). Each persona has its own conjugate posterior mean :math:`m_p` (the known-items
posterior of its own items, :meth:`~prefchat.elicitation.known.KnownModel.posterior_mean`) and score
:math:`s_{pj} = \log \phi_j^\top m_p`. Item :math:`j` is scored by attention over the personas
conditional on the item,

.. math:: s_j = T \log \sum_p \pi_p \exp(s_{pj} / T), \qquad \pi_p = \frac{|R_p|}{|R|},

the softmax's log-sum-exp: :math:`T \to 0` is the best persona's score, :math:`\max_p s_{pj}`; at
:math:`T = 1`, without the prior, :math:`\sum_p \pi_p \phi_j^\top m_p = \phi_j^\top m`: one taste again.
The persona an item serves is the one whose own score ranks it highest, :math:`\arg\max_p s_{pj}`.

List (:func:`allotted_order`). A list of :math:`k` gives each persona its share :math:`\pi_p k` of
the places (Sainte-Laguë's divisors), each place filled by its persona's best item left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_PERSONA_ITEMS", "PersonaSettings", "Personas", "allotted_order", "attend", "split_gain", "split_personas",
           "two_means"]

MIN_PERSONA_ITEMS = 1
"""The fewest known items a persona holds: in a household, one member may have answered only once or twice
in ten; the penalty, not a size, decides whether one far item is a taste of its own."""
LLOYD_ITERATIONS = 20
"""At most this many of Lloyd's iterations in a 2-means split."""


@dataclass(frozen=True)
class PersonaSettings:
    """The validated settings of a pack's personas (module docstring).

    Attributes
    ----------
    max_personas : :math:`P_\\max`; 1: a user is one taste (today's model)
    penalty : the weight :math:`w` of the split's BIC-like penalty
    temperature : the attention's :math:`T \\ge 0` (0: the best persona's score)
    dimensions : :math:`d`, the directions the split reads (0: all :math:`K`)
    """

    max_personas: int = 1
    penalty: float = 1.0
    temperature: float = 0.0
    dimensions: int = 0

    def __post_init__(self):
        if not (isinstance(self.max_personas, int | np.integer) and self.max_personas >= 1):
            raise ValueError(f"max_personas must be an integer >= 1, got {self.max_personas!r}")
        if not (np.isfinite(self.penalty) and self.penalty >= 0):
            raise ValueError(f"the persona penalty must be finite and >= 0, got {self.penalty!r}")
        if not (np.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"the persona temperature must be finite and >= 0, got {self.temperature!r}")
        if not (isinstance(self.dimensions, int | np.integer) and self.dimensions >= 0):
            raise ValueError(f"the persona split's dimensions must be an integer >= 0, got {self.dimensions!r}")

    def to_dict(self) -> dict:
        return {"max_personas": int(self.max_personas), "penalty": float(self.penalty), "temperature": float(self.temperature),
                "dimensions": int(self.dimensions)}

    @classmethod
    def from_dict(cls, recorded: dict) -> PersonaSettings:
        return cls(int(recorded["max_personas"]), float(recorded["penalty"]), float(recorded["temperature"]),
                   int(recorded.get("dimensions", 0)))


@dataclass(frozen=True)
class Personas:
    """A user's known items split into tastes.

    Attributes
    ----------
    groups : the items of each persona, sorted, the largest persona first (ties: by its first item)
    """

    groups: tuple[tuple[int, ...], ...]

    @property
    def shares(self) -> np.ndarray:
        r"""(P,) :math:`\pi_p = |R_p| / |R|`."""
        sizes = np.array([len(group) for group in self.groups], dtype=np.float64)
        return sizes / sizes.sum() if sizes.sum() else np.full(len(sizes), 1.0 / len(sizes))

    def __len__(self) -> int:
        return len(self.groups)

    def of(self, item: int) -> int | None:
        """The persona whose items hold ``item``, or None."""
        return next((p for p, group in enumerate(self.groups) if item in group), None)


def two_means(points: np.ndarray) -> np.ndarray:
    """(n,) bool: one side of the 2-means split of ``points`` (n, d), n >= 2, by Lloyd's iterations.

    Starts from the point farthest from the mean and the point farthest from it (deterministic,
    lower index among equals); a point equally far from both centres goes to the first.
    """
    points = np.asarray(points, dtype=np.float64)
    first = int(np.argmax(((points - points.mean(0)) ** 2).sum(1)))
    second = int(np.argmax(((points - points[first]) ** 2).sum(1)))
    centres = points[[first, second]]
    side = np.zeros(len(points), dtype=bool)
    for _ in range(LLOYD_ITERATIONS):
        distance = ((points[:, None, :] - centres[None]) ** 2).sum(2)
        new = distance[:, 1] < distance[:, 0]
        if not new.any() or new.all():
            new = np.zeros(len(points), dtype=bool)
            new[second] = True
        if np.array_equal(new, side):
            break
        side = new
        centres = np.stack([points[~side].mean(0), points[side].mean(0)])
    return side


def split_gain(points: np.ndarray, side: np.ndarray) -> float:
    r""":math:`\Delta \ell = \frac{n_1 n_2}{2 n} \lVert \bar z_1 - \bar z_2 \rVert^2` of splitting ``points`` by ``side``
    (module docstring): the log-likelihood two unit-variance Gaussians gain over one; 0 if a side is empty."""
    n1, n2 = int((~side).sum()), int(side.sum())
    if not (n1 and n2):
        return 0.0
    difference = points[~side].mean(0) - points[side].mean(0)
    return 0.5 * n1 * n2 / (n1 + n2) * float(difference @ difference)


def split_personas(items: np.ndarray, whitened: np.ndarray, settings: PersonaSettings) -> Personas:
    r"""The personas of the known ``items`` (module docstring, "Split").

    Parameters
    ----------
    items : (n,) the catalog indices of :math:`R`, distinct
    whitened : (n, d) their :math:`z_i = U_d^\top (\tau \Psi)^{-1/2} \Pi_i`
    settings : :math:`P_\max` and the penalty weight :math:`w`
    """
    items = np.asarray(items, dtype=np.intp)
    whitened = np.asarray(whitened, dtype=np.float64)
    groups = [np.arange(len(items))]
    if len(items) >= 2 * MIN_PERSONA_ITEMS and settings.max_personas > 1:
        threshold = settings.penalty * 0.5 * whitened.shape[1] * np.log(len(items))
        while len(groups) < settings.max_personas:
            best, best_gain, best_side = -1, threshold, None
            for g, group in enumerate(groups):
                if len(group) < 2 * MIN_PERSONA_ITEMS:
                    continue
                side = two_means(whitened[group])
                if min(side.sum(), (~side).sum()) < MIN_PERSONA_ITEMS:
                    continue
                gain = split_gain(whitened[group], side)
                if gain > best_gain:
                    best, best_gain, best_side = g, gain, side
            if best_side is None:
                break
            group = groups.pop(best)
            groups += [group[~best_side], group[best_side]]
    sets = [tuple(sorted(int(i) for i in items[group])) for group in groups]
    sets.sort(key=lambda group: (-len(group), group))
    return Personas(tuple(sets))


def attend(scores: np.ndarray, shares: np.ndarray, temperature: float) -> np.ndarray:
    r"""(n_items,) :math:`s_j = T \log \sum_p \pi_p \exp(s_{pj} / T)` of the personas' ``scores`` (P, n_items)
    with ``shares`` :math:`\pi` (P,) (module docstring); :math:`T = 0`: :math:`\max_p s_{pj}`. One persona: its scores."""
    scores = np.asarray(scores)
    if len(scores) == 1:
        return scores[0]
    if temperature == 0:
        return scores.max(0)
    logits = scores.astype(np.float64) / temperature + np.log(np.asarray(shares, dtype=np.float64))[:, None]
    top = logits.max(0)
    return (temperature * (top + np.log(np.exp(logits - top).sum(0)))).astype(scores.dtype)


def allotted_order(order: np.ndarray, personas: np.ndarray, shares: np.ndarray) -> np.ndarray:
    r"""``order`` (positions, best first) interleaved so that every prefix gives each persona its share.

    Place :math:`t` goes to the persona of largest :math:`\pi_p / (2 c_p + 1)` (Sainte-Laguë's
    divisors, :math:`c_p` its places so far; the lower persona among equals) that has an item
    left; it gets its best one left in ``order``. ``personas`` (len(order),) the persona of each
    entry of ``order``; ``shares`` (P,) :math:`\pi`. One persona: ``order`` unchanged.
    """
    order = np.asarray(order, dtype=np.intp)
    personas = np.asarray(personas, dtype=np.intp)
    shares = np.asarray(shares, dtype=np.float64)
    if len(shares) == 1:
        return order
    queues = [list(order[personas == p]) for p in range(len(shares))]
    heads = np.zeros(len(shares), dtype=np.intp)
    counts = np.zeros(len(shares))
    result = np.empty(len(order), dtype=np.intp)
    for t in range(len(order)):
        priority = np.where(heads < [len(q) for q in queues], shares / (2 * counts + 1), -np.inf)
        p = int(np.argmax(priority))
        result[t] = queues[p][heads[p]]
        heads[p] += 1
        counts[p] += 1
    return result
