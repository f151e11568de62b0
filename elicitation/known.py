r"""The "watch" model of packs whose items must be known: base rewards carrying EASE's item-item
structure, and the conjugate posterior of the items a user is known to know.

Bases. With the training users' 0/1 matrix :math:`X = U S V^\top` (thin SVD, rank
:math:`r \le n_\text{train}`) and EASE's :math:`P = (X^\top X + \lambda I)^{-1}` (Steck 2019),
Woodbury gives :math:`X^\top (X X^\top + \lambda I)^{-1} X = V \operatorname{diag}(c) V^\top`,
:math:`c_k = s_k^2 / (s_k^2 + \lambda)`, so EASE's score of an item :math:`j` a user with the row
:math:`x` has not met is exactly

.. math:: (x^\top \hat B)_j = \frac{(x^\top V \operatorname{diag}(c) V^\top)_j}{\lambda P_{jj}}
          = (x^\top \Pi)^\top \phi_j, \qquad
          \Pi = V \operatorname{diag}(\sqrt c), \quad
          \phi_j = \frac{\Pi_j}{1 - \sum_k c_k V_{jk}^2},

a PReF model: a user is the coefficients :math:`x^\top \Pi` over :math:`r` base rewards
:math:`\phi` (:func:`components`, :func:`spectral_bases`; the K components of largest :math:`c` truncate it).

Posterior. A user's coefficient :math:`\theta` is the mean of :math:`\Pi_i` over the items the
user knows; a known item is a draw :math:`\Pi_i \sim N(\theta, \tau \Psi)`, the population prior
:math:`\theta \sim N(\mu, \Sigma)` (:func:`population`: the training users' :math:`\theta_u`, their
mean and Ledoit-Wolf covariance; :math:`\Psi` their pooled within-user scatter). Given the set
:math:`R` of items revealed as known the posterior is Gaussian, with no per-user fit
(:meth:`KnownModel.posterior`):

.. math:: S^{-1} = \Sigma^{-1} + \tfrac{|R|}{\tau} \Psi^{-1}, \qquad
          m = S \big(\Sigma^{-1} \mu + \tfrac{1}{\tau} \Psi^{-1} \textstyle\sum_{i \in R} \Pi_i\big).

As :math:`|R|` grows, :math:`m \to x^\top \Pi / |R|`: EASE's ranking, truncated to K. With few
items it leans on the population: before any answer the catalog ranks by what the average user
knows. :math:`\lambda`, K and :math:`\tau` are chosen on validation users when a pack is built.

Friends (:mod:`~prefchat.elicitation.social`) add pseudo-items to :math:`R`: the social prior; and
the items they know may add :math:`\gamma \log(1 + v_j)` to the score (the friends' items term).

The catalog score (:class:`KnownItemsScore`) is :math:`\log \phi_j^\top m`, the log of a
least-squares estimate of the chance the user knows :math:`j`, so the exposure control's
:math:`\gamma \operatorname{logit} f_j` divides it by about :math:`f_j^\gamma`: at :math:`\gamma = 1`
it ranks by lift over the population's own rate.

Calibration to base rates. At the prior mean, :math:`\phi_j^\top \mu` is the model's estimate of how
many users know :math:`j`; truncated to K bases it misses the population's own base rate
:math:`f_j`, so a user with no answers would be ranked below plain popularity. With base rates and a
calibration count :math:`c` (chosen on validation users, :meth:`KnownModel.scores`), the score
carries the prior's residual as an item bias that fades with the evidence count :math:`n`:

.. math:: s_j = \log \phi_j^\top m + \frac{c}{c + n} \big(\log f_j - \log \phi_j^\top \mu\big),

which ranks by :math:`f_j` (popularity) at :math:`n = 0`, and by the model alone as :math:`n` grows
(or always, at :math:`c = 0`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse
from scipy.linalg import eigh
from scipy.sparse.linalg import svds

from .onboarding import CatalogScore, known_items
from .personas import Personas, PersonaSettings, attend, split_personas
from .posterior import Answer, Posterior
from .social import SocialEvidence, different_friend, discovery_item

__all__ = ["KnownItemsScore", "KnownModel", "components", "ledoit_wolf", "population", "spectral_bases",
           "user_coefficients"]

SCORE_FLOOR = 1e-9
"""Scores :math:`\\phi^\\top m` below this share of the largest one are floored before the log."""


DENSE_SVD_LIMIT = 4000
"""Above this many users and items both, :func:`components` takes a truncated sparse SVD."""


def components(matrix, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Singular values :math:`s` (decreasing, the non-zero ones) and right vectors :math:`V` (n_items, r) of ``matrix``.

    ``matrix``: the 0/1 training matrix, dense or scipy sparse. ``k``: keep that many (default all;
    a matrix larger than :data:`DENSE_SVD_LIMIT` both ways needs one and gets a truncated sparse SVD).
    """
    if min(matrix.shape) > DENSE_SVD_LIMIT:
        if k is None:
            raise ValueError(f"a {matrix.shape} matrix needs k, the components of its truncated SVD")
        _, s, vt = svds(sparse.csr_matrix(matrix, dtype=np.float64), k=min(k, min(matrix.shape) - 1), random_state=0)
        order = np.argsort(-s)
        s, vt = s[order], vt[order]
    else:
        dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)
        _, s, vt = np.linalg.svd(dense.astype(np.float64), full_matrices=False)
    keep = s > 1e-9 * s.max()
    return s[keep][:k], vt[keep][:k].T


def spectral_bases(values: np.ndarray, vectors: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    r"""``(Pi, phi)`` of the module docstring, each (n_items, K), from the :func:`components` kept.

    Components come by decreasing :math:`c`, so ``[:, :K]`` truncates. With truncated components,
    :math:`P_{jj}` is that of the kept ones. Items no training user rated have :math:`\Pi_j = \phi_j = 0`.
    """
    if not l2 > 0:
        raise ValueError(f"l2 must be positive, got {l2!r}")
    c = values**2 / (values**2 + l2)
    emission = vectors * np.sqrt(c)
    return emission, emission / (1.0 - (vectors**2 * c).sum(1))[:, None]


def ledoit_wolf(samples: np.ndarray) -> np.ndarray:
    r"""Ledoit-Wolf shrinkage of the sample covariance towards a scaled identity.

    .. math:: \hat\Sigma = (1 - \delta) S + \delta \mu I, \quad
              \mu = \mathrm{tr}(S)/p, \quad
              \delta = \min\Big(1, \frac{\frac1{n^2}\sum_i \|x_i x_i^\top - S\|_F^2}{\|S - \mu I\|_F^2}\Big)

    (Ledoit & Wolf 2004, Lemma 3.2-3.4), with :math:`\sum_i \|x_i x_i^\top - S\|_F^2 =
    \sum_i \|x_i\|^4 - n \|S\|_F^2`, so no (n, p, p) array is formed.
    """
    x = samples - samples.mean(0)
    n, p = x.shape
    cov = x.T @ x / n
    mu = np.trace(cov) / p
    target_distance = ((cov - mu * np.eye(p)) ** 2).sum()
    spread = (((x**2).sum(1) ** 2).sum() - n * (cov**2).sum()) / n**2
    delta = 1.0 if target_distance == 0 else min(1.0, max(spread, 0.0) / target_distance)
    return (1 - delta) * cov + delta * mu * np.eye(p)


def user_coefficients(matrix, emission: np.ndarray) -> np.ndarray:
    r"""(n_users, K) :math:`\theta_u = x_u^\top \Pi / n_u` of each row of the 0/1 ``matrix`` (a row of none: nan)."""
    x = sparse.csr_matrix(matrix, dtype=np.float64)
    counts = np.asarray(x.sum(1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(x @ emission) / counts[:, None]


def population(matrix: np.ndarray, emission: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The prior :math:`N(\mu, \Sigma)` and within-user scatter :math:`\Psi` of the training users.

    .. math:: \theta_u = \frac{x_u^\top \Pi}{n_u}, \qquad
              \Psi = \frac{\sum_u \sum_{i \in x_u} (\Pi_i - \theta_u)(\Pi_i - \theta_u)^\top}{\sum_u n_u}
                   = \frac{\Pi^\top \operatorname{diag}(X^\top 1)\, \Pi - \sum_u n_u \theta_u \theta_u^\top}{\sum_u n_u}

    Users who rated nothing are left out.
    """
    x = sparse.csr_matrix(matrix, dtype=np.float64)
    counts = np.asarray(x.sum(1)).ravel()
    x, counts = x[counts > 0], counts[counts > 0]
    theta = user_coefficients(x, emission)
    scatter = emission.T @ (emission * np.asarray(x.sum(0)).ravel()[:, None]) - (theta.T * counts) @ theta
    within = scatter / counts.sum()
    within = 0.5 * (within + within.T) + 1e-9 * np.trace(within) / len(within) * np.eye(len(within))
    return theta.mean(0), ledoit_wolf(theta), within


@dataclass(frozen=True, eq=False)
class KnownModel:
    r"""The known-items model of the module docstring.

    Attributes
    ----------
    features : (n_items, K) the base rewards :math:`\phi`
    emission : (n_items, K) :math:`\Pi`, what knowing an item says about :math:`\theta`; both tables
        are kept in single precision (a catalog ranking reads all of one: half the bytes, a tenth
        of the time, far below the model's own error)
    prior_mean : (K,) :math:`\mu` and prior_cov : (K, K) :math:`\Sigma`
    within : (K, K) :math:`\Psi`
    tau : the validated width of a known item's likelihood
    base_rates : (n_items,) :math:`f` in (0, 1], the population's base rates, or None
    calibration : :math:`c \ge 0`, the evidence count at which the base rates' item bias has half its
        weight (module docstring); 0 (the default) or no base rates: no bias
    personas : the validated settings of a user's several tastes (:mod:`~prefchat.elicitation.personas`);
        the default, one persona, is the single taste of the module docstring
    """

    features: np.ndarray
    emission: np.ndarray
    prior_mean: np.ndarray
    prior_cov: np.ndarray
    within: np.ndarray
    tau: float
    base_rates: np.ndarray | None = None
    calibration: float = 0.0
    personas: PersonaSettings = PersonaSettings()

    def __post_init__(self):
        n, k = np.shape(self.features)
        shapes = {"emission": (n, k), "prior_mean": (k,), "prior_cov": (k, k), "within": (k, k)}
        for name, shape in shapes.items():
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"known model: {name} has shape {np.shape(getattr(self, name))}, expected {shape}")
        if not (np.isfinite(self.tau) and self.tau > 0):
            raise ValueError(f"known model: tau must be finite and positive, got {self.tau!r}")
        if not (np.isfinite(self.calibration) and self.calibration >= 0):
            raise ValueError(f"known model: calibration must be finite and >= 0, got {self.calibration!r}")
        if self.base_rates is not None:
            rates = np.asarray(self.base_rates, dtype=np.float64)
            if rates.shape != (n,) or not np.all((rates > 0) & (rates <= 1)):
                raise ValueError(f"known model: base_rates must be ({n},) rates in (0, 1], got shape {rates.shape}")
            object.__setattr__(self, "base_rates", rates)
        for name in ("features", "emission"):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.float32))

    @property
    def n_bases(self) -> int:
        return self.features.shape[1]

    @cached_property
    def _eigen(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r"""The joint eigenbasis of the two precisions, computed once.

        :math:`V^\top \Sigma^{-1} V = I`, :math:`V^\top \Psi^{-1} V = \operatorname{diag}(\omega)`
        (the generalised symmetric eigenproblem), so that
        :math:`S = V \operatorname{diag}(1 / (1 + |R| \omega / \tau)) V^\top` for any :math:`|R|`.
        Returns :math:`V`, :math:`\omega / \tau`, :math:`\Psi^{-1} / \tau` and :math:`V^\top \Sigma^{-1} \mu`.
        """
        within_precision = np.linalg.inv(self.within)
        within_precision = 0.5 * (within_precision + within_precision.T)
        prior_precision = np.linalg.inv(self.prior_cov)
        omega, basis = eigh(within_precision, 0.5 * (prior_precision + prior_precision.T))
        return basis, omega / self.tau, within_precision / self.tau, basis.T @ (prior_precision @ self.prior_mean)

    def posterior(self, known: Collection[int], social: SocialEvidence | None = None) -> tuple[np.ndarray, np.ndarray]:
        r"""The posterior mean :math:`m` and covariance :math:`S` given the items ``known`` (module docstring),
        and the friends' pseudo-items ``social`` (:mod:`~prefchat.elicitation.social`) where there are any."""
        shrink, rotated = self._rotated(known, social)
        basis = self._eigen[0]
        return basis @ (shrink * rotated), (basis * shrink) @ basis.T

    def posterior_mean(self, known: Collection[int], social: SocialEvidence | None = None) -> np.ndarray:
        """:math:`m` of :meth:`posterior` alone, in :math:`O(K^2)`."""
        shrink, rotated = self._rotated(known, social)
        return self._eigen[0] @ (shrink * rotated)

    def _rotated(self, known: Collection[int], social: SocialEvidence | None) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`1 / (1 + n \omega / \tau)` and :math:`V^\top (\Sigma^{-1} \mu + \Psi^{-1} t / \tau)`, with
        :math:`n = |R|`, :math:`t = \sum_R \Pi_i`, or with friends :math:`n = |R| + c`, :math:`t = \sum_R \Pi_i + c \bar\theta_F`."""
        index = np.fromiter((int(i) for i in known), dtype=np.intp, count=len(known))
        if index.size and (index.min() < 0 or index.max() >= len(self.features)):
            raise ValueError(f"known item index outside 0..{len(self.features) - 1}")
        basis, omega, within_precision, prior_term = self._eigen
        count, total = float(index.size), self.emission[index].sum(0, dtype=np.float64)
        if social is not None:
            if np.shape(social.mean) != (self.n_bases,):
                raise ValueError(f"social evidence of shape {np.shape(social.mean)} for a model of {self.n_bases} bases")
            count, total = count + social.count, total + social.count * social.mean
        shrink = 1.0 / (1.0 + count * omega)
        return shrink, prior_term + basis.T @ (within_precision @ total)

    @cached_property
    def _projected(self) -> np.ndarray:
        r""":math:`\Phi V` (n_items, K), single precision: :math:`\phi_j^\top S \phi_j = \sum_k s_k (\phi_j^\top V_k)^2`
        for the posterior :math:`S = V \operatorname{diag}(s) V^\top` of any evidence (:meth:`_eigen`)."""
        return np.ascontiguousarray(self.features @ self._eigen[0].astype(np.float32))

    def doubt(self, known: Collection[int], social: SocialEvidence | None = None) -> np.ndarray:
        r"""(n_items,) :math:`z_j = \phi_j^\top (m - \mu) / \sqrt{\phi_j^\top S \phi_j}`: how far the posterior puts
        item :math:`j` above the population, in its own standard deviations (below: negative)."""
        shrink, rotated = self._rotated(known, social)
        mean = self._eigen[0] @ (shrink * rotated)
        spread = np.sqrt(np.maximum((self._projected**2) @ shrink.astype(np.float32), SCORE_FLOOR))
        return (self.features @ (mean - self.prior_mean).astype(np.float32)) / spread

    def lift(self, coefficient: np.ndarray) -> np.ndarray:
        r"""(n_items,) :math:`\log \phi_j^\top \theta - \log \phi_j^\top \mu`, floored as :meth:`scores`: how much
        more a user of coefficient :math:`\theta` is to know item :math:`j` than the average user."""
        linear = self.features @ np.stack([coefficient, self.prior_mean], axis=1).astype(np.float32)
        logs = _floored_log(linear)
        return logs[:, 0] - logs[:, 1]

    def discovery(self, known: Collection[int], social: SocialEvidence | None, excluded: np.ndarray) -> int | None:
        """The discovery slot's item (:func:`~prefchat.elicitation.social.discovery_item`) for a user who knows
        ``known``, with friends ``social``, outside ``excluded``; None without friends or a qualifying item."""
        if social is None or social.friends is None or not len(social.friends):
            return None
        friend = social.friends[different_friend(social.friends, self.posterior_mean(known, social), np.diag(self.prior_cov))]
        return discovery_item(self.lift(friend), self.doubt(known, social), excluded)

    def knowing(self, known: Collection[int], items: np.ndarray | None = None) -> np.ndarray:
        r"""The chance that a user who knows ``known`` knows each of ``items`` (default all), from the single taste's
        posterior mean :math:`m` whatever the personas (a question's answerability, not a ranking):

        .. math:: k_j = \min\big(\max(\phi_j^\top m, \epsilon)\, e^{w b_j}, 1\big), \qquad w = \frac{c}{c + |R|},

        the least-squares estimate, with the base rates' fading bias :math:`b_j` (module docstring) where the
        model has one, so exactly the base rates before any evidence; :math:`\epsilon` = :data:`SCORE_FLOOR`.
        ``items`` costs :math:`O(|items| K)`, not a pass over the catalog: a question reads its pool only."""
        index = np.arange(len(self.features)) if items is None else np.asarray(items, dtype=np.intp)
        linear = self.features[index] @ self.posterior_mean(known).astype(np.float32)
        chance = np.maximum(linear.astype(np.float64), SCORE_FLOOR)
        if self.base_rates is not None and self.calibration:
            chance *= np.exp(self.calibration / (self.calibration + len(known)) * self._base_rate_bias[index])
        return np.minimum(chance, 1.0)

    def scores(self, known: Collection[int], social: SocialEvidence | None = None) -> np.ndarray:
        r""":math:`\log \max(\phi_j^\top m, \epsilon)` of every item, :math:`\epsilon` :data:`SCORE_FLOOR` of the largest,
        plus the base rates' fading item bias where the model has one (module docstring), plus the friends'
        items term of ``social`` where it has one (:meth:`~prefchat.elicitation.social.SocialEvidence.term`)."""
        return self.scores_of([known], [social])[0]

    def scores_of(self, sets: Sequence[Collection[int]], social: Sequence[SocialEvidence | None] | None = None) -> np.ndarray:
        """(n_sets, n_items): :meth:`scores` of each set of known items (with each ``social`` evidence), in one matrix product."""
        social = [None] * len(sets) if social is None else social
        if len(social) != len(sets):
            raise ValueError(f"{len(social)} social evidences for {len(sets)} sets of known items")
        if self.personas.max_personas > 1:
            scores = np.stack([self.persona_scores(known, friends)[0] for known, friends in zip(sets, social)]) if len(sets) \
                else np.zeros((0, len(self.features)), dtype=np.float32)
        else:
            means = (np.stack([self.posterior_mean(known, friends) for known, friends in zip(sets, social)]) if len(sets)
                     else np.zeros((0, self.n_bases)))
            scores = _floored_log(self.features @ means.T.astype(np.float32)).T  # (n_sets, n_items)
        if self.base_rates is not None and self.calibration:
            counts = np.array([len(known) + (friends.count if friends is not None else 0.0)
                               for known, friends in zip(sets, social)])
            weight = (self.calibration / (self.calibration + counts)).astype(np.float32)
            scores = scores + weight[:, None] * self._base_rate_bias
        for row, friends in enumerate(social):  # the friends' items term (social module docstring)
            term = None if friends is None else friends.term()
            if term is not None:
                scores[row, term[0]] += term[1].astype(np.float32)
        return scores

    @cached_property
    def _whitening(self) -> np.ndarray:
        r""":math:`(\tau \Psi)^{-1/2} U` (K, K), :math:`U` the eigenvectors of the population's spread in the
        whitened coordinates, :math:`(\tau\Psi)^{-1/2} \Sigma (\tau\Psi)^{-1/2}`, by decreasing eigenvalue: its first
        :math:`d` columns give the rows :math:`z_i` a persona split reads (:func:`~prefchat.elicitation.personas.split_personas`)."""
        values, vectors = np.linalg.eigh(self.within)
        root = vectors / np.sqrt(self.tau * np.maximum(values, 1e-12 * values.max()))
        spread, directions = np.linalg.eigh(root.T @ self.prior_cov @ root)
        return root @ directions[:, np.argsort(-spread, kind="stable")]

    def split(self, known: Collection[int]) -> Personas:
        """The personas of the items ``known`` (:func:`~prefchat.elicitation.personas.split_personas`, by the
        model's :attr:`personas` settings): one persona holding them all where the settings allow one."""
        items = np.array(sorted(int(i) for i in known), dtype=np.intp)
        if self.personas.max_personas == 1 or not items.size:
            return Personas((tuple(items.tolist()),))
        d = self.personas.dimensions or self.n_bases
        return split_personas(items, self.emission[items].astype(np.float64) @ self._whitening[:, :d], self.personas)

    def persona_scores(self, known: Collection[int], social: SocialEvidence | None = None,
                       ) -> tuple[np.ndarray, Personas, np.ndarray]:
        r"""The attention score :math:`\log`-sum-exp of the personas (:func:`~prefchat.elicitation.personas.attend`),
        before the base rates' bias; the personas; and (P, n_items) each persona's own score :math:`s_{pj}`
        (its items' posterior, the friends' ``social`` evidence in each). One persona: exactly the
        score of the single taste."""
        personas = self.split(known)
        means = np.stack([self.posterior_mean(group, social) for group in personas.groups] if len(personas) > 1
                         else [self.posterior_mean(known, social)])  # one persona: the single taste's sum, term for term
        own = _floored_log(self.features @ means.T.astype(np.float32)).T  # (P, n_items)
        return attend(own, personas.shares, self.personas.temperature), personas, own

    @cached_property
    def _base_rate_bias(self) -> np.ndarray:
        r"""(n_items,) :math:`\log f_j - \log \phi_j^\top \mu` (floored as :meth:`scores`): what the prior mean's
        ranking misses of the population's base rates (module docstring)."""
        assert self.base_rates is not None
        prior = _floored_log((self.features @ self.prior_mean.astype(np.float32))[:, None])[:, 0]
        return (np.log(self.base_rates) - prior).astype(np.float32)


def _floored_log(linear: np.ndarray) -> np.ndarray:
    r""":math:`\log \max(x, \epsilon)` of each column of ``linear``, :math:`\epsilon` :data:`SCORE_FLOOR` of the column's largest."""
    floor = SCORE_FLOOR * np.maximum(linear.max(0, initial=SCORE_FLOOR), SCORE_FLOOR)
    return np.log(np.maximum(linear, floor))


@dataclass(frozen=True, eq=False)
class KnownItemsScore(CatalogScore):
    r"""The "watch" catalog score of a pack with a :class:`KnownModel`: :meth:`KnownModel.scores` of the
    items the posterior's answers show the user knows (:func:`~prefchat.elicitation.onboarding.known_items`),
    less the exposure control's :math:`\gamma \operatorname{logit} f` (:class:`CatalogScore`)."""

    model: KnownModel | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.model is None:
            raise ValueError("a known-items score needs its model")

    def known(self, known: Collection[int], social: SocialEvidence | None = None) -> np.ndarray:
        """(n_items,) scores given the items ``known`` (and the friends' ``social`` evidence)."""
        assert self.model is not None
        return self.model.scores(known, social) - self.penalty()

    def __call__(self, posterior: Posterior) -> np.ndarray:
        return self.known(known_items(posterior.answers))

    def knowing(self, answers: Sequence[Answer], items: np.ndarray) -> np.ndarray:
        """:meth:`KnownModel.knowing` of ``items`` for the items the ``answers`` show the user knows: the questions'
        familiarity where the pack chose so (:attr:`~prefchat.elicitation.onboarding.Policy.knowing`)."""
        assert self.model is not None
        return self.model.knowing(known_items(answers), items)
