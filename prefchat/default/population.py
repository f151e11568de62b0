"""A SIMULATED population of users choosing between assistant responses.

Nothing here is real user data. Simulated users stand in for a crowd so that the demo
domain can be trained and benchmarked offline; their tastes are invented archetypes.

Model
-----
Each user ``u`` belongs to one of :data:`ARCHETYPES` (drawn with the archetype's share) and
has weights over the nine style :data:`~prefchat.default.domain.DIMENSIONS`:

.. math:: w_u = \\mu_{k(u)} + \\sigma \\varepsilon_u, \\qquad \\varepsilon_u \\sim N(0, I_9),
   \\quad \\sigma = 0.5

The utility of response ``i`` with annotated attributes ``x_i`` in [0, 1]^9 is
``w_u . x_i``. Shown two responses to the same prompt, the user

1. answers "don't know" (``skip``) with probability ``skip_rate`` (default 5%), else
2. answers ``tie`` with probability ``tie_prob`` (default 0.5) if the utilities are within
   ``tie_margin`` (default 0.25 utility units) of each other, else
3. picks by Bradley-Terry with temperature ``T``:

.. math:: P(a \\succ b) = \\sigma\\left(\\frac{w_u^\\top (x_a - x_b)}{T}\\right)

``T`` is not set by hand: :func:`calibrate_temperature` bisects it so that the true model
(true weights, true attributes) reaches ROC AUC :data:`TARGET_AUC` (0.925) on its own
simulated answers, the ceiling any learned model can approach.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy.special import expit

from prefchat.elicitation.metrics import roc_auc
from prefchat.elicitation.posterior import CHOICES

from .domain import DIMENSIONS, Domain, response_title

ITEMS_COLUMNS = ("item_id", "text", "title", "tags", "group")
PAIRS_COLUMNS = ("user_id", "item_a", "item_b", "choice")
"""The columns of the training input :func:`write_training_csvs` writes."""

ARCHETYPES: dict[str, tuple[float, dict[str, float]]] = {
    # name: (share of the population, mean weight per dimension; unnamed dimensions are 0)
    "busy professional": (
        0.25,
        {"length": -2.0, "formality": 0.5, "humour": -0.5, "structure": 1.5, "examples": -0.5,
         "warmth": -0.5, "hedging": -1.5, "emoji": -2.0},
    ),
    "curious learner": (
        0.20,
        {"length": 1.5, "structure": 0.5, "examples": 2.0, "technical_depth": 2.0, "emoji": -0.5},
    ),
    "playful": (
        0.15,
        {"length": -0.5, "formality": -1.5, "humour": 2.0, "structure": -0.5, "technical_depth": -0.5,
         "warmth": 0.5, "hedging": -0.5, "emoji": 2.0},
    ),
    "needs reassurance": (
        0.15,
        {"length": 0.5, "formality": -0.5, "humour": -0.5, "examples": 0.5, "technical_depth": -1.0,
         "warmth": 2.0, "hedging": 1.5, "emoji": 0.5},
    ),
    "precise expert": (
        0.10,
        {"formality": 1.0, "humour": -1.0, "structure": 0.5, "examples": -0.5, "technical_depth": 2.0,
         "warmth": -1.0, "hedging": 0.5, "emoji": -2.0},
    ),
    "friendly generalist": (
        0.15,
        {"length": -0.5, "formality": -1.0, "humour": 0.5, "examples": 1.0, "technical_depth": -1.0,
         "warmth": 1.0, "hedging": -0.5},
    ),
}
"""Simulated archetypes: share and mean weights (positive = prefers more of the dimension)."""

ARCHETYPE_NAMES: tuple[str, ...] = tuple(ARCHETYPES)
ARCHETYPE_SHARES = np.array([share for share, _ in ARCHETYPES.values()])
ARCHETYPE_MEANS = np.array([[means.get(d, 0.0) for d in DIMENSIONS] for _, means in ARCHETYPES.values()])
"""(n_archetypes, len(DIMENSIONS)) mean weights, rows in :data:`ARCHETYPE_NAMES` order."""

WEIGHT_SD = 0.5
"""Standard deviation of the individual Gaussian variation around the archetype mean."""

TARGET_AUC = 0.925
TIE_MARGIN = 0.25
TIE_PROB = 0.5
SKIP_RATE = 0.05


class CalibrationError(RuntimeError):
    """The temperature bisection could not reach the target AUC within tolerance."""


def weighted_auc(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC where each instance counts ``positive[i]`` times as a positive and ``negative[i]`` as a negative.

    .. math:: \\mathrm{AUC} = \\frac{\\sum_{i,j} P_i N_j \\left(1[s_i > s_j] + \\tfrac12 1[s_i = s_j]\\right)}
                                   {\\sum_i P_i \\sum_j N_j}

    With 0/1 labels (``P = y``, ``N = 1 - y``) this is the ordinary (Mann-Whitney) AUC of
    :func:`prefchat.elicitation.metrics.roc_auc`; with outcome probabilities it is the
    expected AUC (ratio of expectations).

    Parameters
    ----------
    scores, positive, negative : (n,) arrays, weights non-negative

    Returns
    -------
    float in [0, 1]
    """
    values, inverse = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    pos = np.bincount(inverse, weights=positive, minlength=len(values))
    neg = np.bincount(inverse, weights=negative, minlength=len(values))
    total = pos.sum() * neg.sum()
    if total <= 0:
        raise ValueError("AUC needs at least one positive and one negative instance")
    below = np.cumsum(neg) - neg
    return float(pos @ (below + 0.5 * neg) / total)


def expected_auc(utility_diff: np.ndarray, temperature: float, tie_margin: float, tie_prob: float) -> float:
    """Expected AUC of the true utility difference against simulated non-tie outcomes.

    .. math:: P_i = q_i\\,\\sigma(s_i / T),\\quad N_i = q_i\\,(1 - \\sigma(s_i / T)),\\quad
              q_i = 1 - \\pi_{tie}\\,1[|s_i| < m]

    then :func:`weighted_auc` of ``s`` with ``P`` and ``N``. "Don't know" answers are
    independent of ``s`` and drop out.

    Parameters
    ----------
    utility_diff : (n_pairs,) true utility differences s_i = w . (x_a - x_b)
    temperature : T > 0
    tie_margin, tie_prob : m and pi_tie of the tie rule
    """
    s = np.asarray(utility_diff, dtype=np.float64)
    p = expit(s / temperature)
    kept = 1.0 - tie_prob * (np.abs(s) < tie_margin)
    return weighted_auc(s, kept * p, kept * (1.0 - p))


def calibrate_temperature(
    utility_diff: np.ndarray,
    target_auc: float = TARGET_AUC,
    *,
    tie_margin: float = TIE_MARGIN,
    tie_prob: float = TIE_PROB,
    tol: float = 1e-4,
    max_iter: int = 100,
) -> float:
    """Bradley-Terry temperature at which the true model's expected AUC equals ``target_auc``.

    Bisection on ``log T`` of the decreasing function :func:`expected_auc` - target, from the
    bracket ``[1e-3, 1e3] * mean|s|``, until ``|AUC(T) - target| < tol``.

    Parameters
    ----------
    utility_diff : (n_pairs,) true utility differences of the pairs the users will answer
    target_auc : in (0.5, 1)

    Raises
    ------
    ValueError
        If ``target_auc`` is outside (0.5, 1) or every utility difference is zero.
    CalibrationError
        If the target is not bracketed (the pairs cannot reach it) or ``max_iter``
        bisections do not reach ``tol``.
    """
    if not 0.5 < target_auc < 1.0:
        raise ValueError(f"target_auc must be in (0.5, 1), got {target_auc}")
    scale = np.mean(np.abs(utility_diff))
    if not scale > 0:
        raise ValueError("utility differences are all zero: no temperature can reach any AUC")

    def gap(log_t: float) -> float:
        return expected_auc(utility_diff, np.exp(log_t), tie_margin, tie_prob) - target_auc

    lo, hi = np.log(scale * 1e-3), np.log(scale * 1e3)
    if not gap(lo) > 0 > gap(hi):
        raise CalibrationError(
            f"target AUC {target_auc} is not reachable: expected AUC spans "
            f"[{gap(hi) + target_auc:.4f}, {gap(lo) + target_auc:.4f}] over the temperature bracket"
        )
    for _ in range(max_iter):
        mid = 0.5 * (lo + hi)
        g = gap(mid)
        if abs(g) < tol:
            return float(np.exp(mid))
        lo, hi = (mid, hi) if g > 0 else (lo, mid)
    raise CalibrationError(f"no temperature within {tol} of AUC {target_auc} after {max_iter} bisections")


@dataclass(frozen=True)
class ChoiceModel:
    """How a simulated user turns a utility difference into an answer (see module docstring)."""

    temperature: float
    tie_margin: float = TIE_MARGIN
    tie_prob: float = TIE_PROB
    skip_rate: float = SKIP_RATE

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if not self.tie_margin >= 0:
            raise ValueError(f"tie_margin must be non-negative, got {self.tie_margin}")
        for name in ("tie_prob", "skip_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")

    def prob_a(self, utility_diff: np.ndarray) -> np.ndarray:
        """Bradley-Terry probability of preferring ``a`` among non-tie answers.

        .. math:: P(a \\succ b) = \\sigma(s / T), \\quad s = u(a) - u(b)
        """
        return expit(np.asarray(utility_diff, dtype=np.float64) / self.temperature)

    def answer(self, utility_diff: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Simulated answers, ``"a" | "b" | "tie" | "skip"``, same shape as ``utility_diff``."""
        s = np.asarray(utility_diff, dtype=np.float64)
        u_skip, u_tie, u_pick = rng.random((3,) + s.shape)
        choice = np.where(u_pick < self.prob_a(s), "a", "b").astype("<U4")
        choice[(np.abs(s) < self.tie_margin) & (u_tie < self.tie_prob)] = "tie"
        choice[u_skip < self.skip_rate] = "skip"
        return choice


@dataclass(frozen=True, eq=False)
class SimulatedUser:
    """One simulated user of the demo domain; items are response ids of ``domain``."""

    user_id: str
    archetype: str
    weights: np.ndarray
    domain: Domain
    choice_model: ChoiceModel

    def utility(self, items) -> np.ndarray:
        """True utilities ``w . x_i`` (n,) of a sequence of response ids."""
        return self.domain.attributes[self.domain.indices_of(items)] @ self.weights

    def answer(self, item_a: str, item_b: str, rng: np.random.Generator) -> str:
        """``"a"``, ``"b"``, ``"tie"`` or ``"skip"`` (don't know) for the question "a or b?"."""
        u_a, u_b = self.utility([item_a, item_b])
        return str(self.choice_model.answer(u_a - u_b, rng))


@dataclass(frozen=True, eq=False)
class Population:
    """A SIMULATED population and the pairs its users answered.

    Attributes
    ----------
    domain : Domain the responses index into
    weights : (n_users, len(DIMENSIONS)) true weights
    archetype : (n_users,) int, row of :data:`ARCHETYPE_NAMES`
    choice_model : ChoiceModel, with the calibrated temperature
    pair_user, item_a, item_b : (n_pairs,) int, user row and response indices (same prompt)
    choice : (n_pairs,) str, ``"a" | "b" | "tie" | "skip"``
    target_auc : the AUC the temperature was calibrated to
    seed : int
    """

    domain: Domain
    weights: np.ndarray
    archetype: np.ndarray
    choice_model: ChoiceModel
    pair_user: np.ndarray
    item_a: np.ndarray
    item_b: np.ndarray
    choice: np.ndarray
    target_auc: float
    seed: int

    @property
    def n_users(self) -> int:
        return len(self.weights)

    @cached_property
    def user_ids(self) -> tuple[str, ...]:
        return tuple(f"sim-{u:05d}" for u in range(self.n_users))

    @property
    def archetype_labels(self) -> tuple[str, ...]:
        return tuple(ARCHETYPE_NAMES[k] for k in self.archetype)

    def user(self, u: int) -> SimulatedUser:
        return SimulatedUser(
            user_id=self.user_ids[u],
            archetype=ARCHETYPE_NAMES[self.archetype[u]],
            weights=self.weights[u],
            domain=self.domain,
            choice_model=self.choice_model,
        )

    def provenance(self) -> dict:
        """JSON-ready description of how this population was simulated, for a pack manifest."""
        counts = {a: int((self.choice == a).sum()) for a in CHOICES}
        return {
            "simulated": True,
            "seed": self.seed,
            "n_users": self.n_users,
            "n_pairs": len(self.choice),
            "answers": counts,
            "temperature": self.choice_model.temperature,
            "target_auc": self.target_auc,
            "tie_margin": self.choice_model.tie_margin,
            "tie_prob": self.choice_model.tie_prob,
            "skip_rate": self.choice_model.skip_rate,
            "weight_sd": WEIGHT_SD,
            "archetypes": {name: {"share": s, "mean": m} for name, (s, m) in ARCHETYPES.items()},
        }


def draw_weights(n_users: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Archetypes and weights ``w_u = mu_k + WEIGHT_SD * eps``: ((n_users,) int, (n_users, 9))."""
    archetype = rng.choice(len(ARCHETYPE_NAMES), size=n_users, p=ARCHETYPE_SHARES)
    weights = ARCHETYPE_MEANS[archetype] + WEIGHT_SD * rng.standard_normal((n_users, len(DIMENSIONS)))
    return archetype, weights


def sample_pairs(
    domain: Domain, prompts: np.ndarray, n_users: int, pairs_per_user: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Questions for every user: two distinct responses to one prompt, no pair twice per user.

    Each user gets ``pairs_per_user`` pairs drawn uniformly without replacement from all
    within-prompt pairs of ``prompts``, each shown in random order.

    Returns
    -------
    pair_user, item_a, item_b : (n_users * pairs_per_user,) int
    """
    firsts, seconds = [], []
    for p in prompts:
        responses = domain.responses_of(p)
        a, b = np.triu_indices(len(responses), k=1)
        firsts.append(responses[a])
        seconds.append(responses[b])
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    if not 0 < pairs_per_user <= len(first):
        raise ValueError(f"pairs_per_user must be in [1, {len(first)}] (distinct within-prompt pairs), got {pairs_per_user}")
    picked = np.argsort(rng.random((n_users, len(first))), axis=1)[:, :pairs_per_user].ravel()
    swap = rng.random(picked.shape) < 0.5
    item_a = np.where(swap, second[picked], first[picked])
    item_b = np.where(swap, first[picked], second[picked])
    return np.repeat(np.arange(n_users), pairs_per_user), item_a, item_b


def _utility_diff(weights: np.ndarray, attributes: np.ndarray, user, item_a, item_b) -> np.ndarray:
    """.. math:: s = w_u^\\top (x_a - x_b), one per pair."""
    return np.einsum("ij,ij->i", weights[user], attributes[item_a] - attributes[item_b])


def simulate_population(
    domain: Domain,
    n_users: int = 1200,
    pairs_per_user: int = 40,
    seed: int = 0,
    *,
    target_auc: float = TARGET_AUC,
    tie_margin: float = TIE_MARGIN,
    tie_prob: float = TIE_PROB,
    skip_rate: float = SKIP_RATE,
) -> Population:
    """Simulate ``n_users`` users answering ``pairs_per_user`` questions on the *training* prompts.

    The temperature is calibrated (:func:`calibrate_temperature`) on the utility differences
    of the drawn pairs before any answer is drawn. Deterministic given ``seed``.
    """
    if n_users < 1:
        raise ValueError(f"n_users must be positive, got {n_users}")
    rng = np.random.default_rng(seed)
    archetype, weights = draw_weights(n_users, rng)
    user, item_a, item_b = sample_pairs(domain, domain.training_prompts, n_users, pairs_per_user, rng)
    diff = _utility_diff(weights, domain.attributes, user, item_a, item_b)
    temperature = calibrate_temperature(diff, target_auc, tie_margin=tie_margin, tie_prob=tie_prob)
    model = ChoiceModel(temperature, tie_margin=tie_margin, tie_prob=tie_prob, skip_rate=skip_rate)
    return Population(
        domain=domain,
        weights=weights,
        archetype=archetype,
        choice_model=model,
        pair_user=user,
        item_a=item_a,
        item_b=item_b,
        choice=model.answer(diff, rng),
        target_auc=target_auc,
        seed=seed,
    )


def true_model_ceiling(population: Population, pairs_per_user: int = 40, seed: int = 1) -> float:
    """ROC AUC of the true model on fresh held-out pairs: the ceiling for any learned model.

    Draws new questions over *all* prompts for the population's users, simulates their
    answers and scores the true utility difference against the outcome ``a`` vs ``b``
    (ties and "don't know" excluded).
    """
    rng = np.random.default_rng(seed)
    domain = population.domain
    user, item_a, item_b = sample_pairs(domain, np.arange(domain.n_prompts), population.n_users, pairs_per_user, rng)
    diff = _utility_diff(population.weights, domain.attributes, user, item_a, item_b)
    choice = population.choice_model.answer(diff, rng)
    decided = np.isin(choice, ("a", "b"))
    return roc_auc(diff[decided], choice[decided] == "a")


def write_training_csvs(domain: Domain, out_dir: str | Path, population: Population) -> tuple[Path, Path]:
    """Write the generic prefchat training input for the *training* prompts only.

    ``items.csv`` has columns ``item_id,text,title,tags,group`` (tags empty, group = the prompt
    text, which the chat shows above the two answers):
    the style annotations are never written. ``pairs.csv`` has columns
    ``user_id,item_a,item_b,choice`` with choice ``a``, ``b`` or ``tie``; "don't know"
    answers (``skip``) produce no row.

    Returns
    -------
    (items_path, pairs_path)

    Raises
    ------
    ValueError
        If a simulated pair names a response outside the training prompts.
    """
    paired = np.concatenate([population.item_a, population.item_b])
    outside = np.flatnonzero(~np.isin(domain.group[paired], domain.training_prompts))
    if outside.size:
        bad = domain.response_ids[paired[outside[0]]]
        raise ValueError(f"simulated pair with response {bad!r} is outside the training prompts")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items_path = out_dir / "items.csv"
    with open(items_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ITEMS_COLUMNS)
        for p in domain.training_prompts:
            prompt = domain.prompts[p]
            for r in domain.responses_of(p):
                writer.writerow(
                    [domain.response_ids[r], domain.texts[r], response_title(prompt.text, domain.texts[r]), "", prompt.text]
                )
    pairs_path = out_dir / "pairs.csv"
    with open(pairs_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PAIRS_COLUMNS)
        for u, a, b, choice in zip(population.pair_user, population.item_a, population.item_b, population.choice):
            if choice != "skip":
                writer.writerow([population.user_ids[u], domain.response_ids[a], domain.response_ids[b], choice])
    return items_path, pairs_path
