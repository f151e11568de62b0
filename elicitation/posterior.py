r"""A user's posterior over coefficients: likelihoods, Newton's method and the Laplace approximation.

A user has coefficients ``coef`` (:math:`\lambda`, length ``n_bases``) over the base rewards
``features`` (:math:`\phi`, shape ``(n_items, n_bases)``). Two kinds of answers are understood:

- :class:`Comparison` "which of these two do you prefer?" with the logistic (Bradley-Terry) model

  .. math:: P(a \succ b \mid \lambda) = \sigma(\lambda^\top x), \qquad x = \phi(a) - \phi(b),

  where a tie ("both fine") is the soft label 1/2 and a skip ("don't know either") carries no
  likelihood term at all;
- :class:`KWayChoice` "which of these k would you pick?" with the multinomial (softmax) model

  .. math:: P(c \mid o_1, \dots, o_k, \lambda) = \frac{e^{\lambda^\top \phi(c)}}{\sum_j e^{\lambda^\top \phi(o_j)}}.

With the Gaussian prior :math:`N(\mu_0, \Sigma_0)` the posterior is approximated by Laplace's method:
:math:`N(m, S)` with :math:`m` the MAP (Newton's method) and :math:`S^{-1}` the Hessian of the
negative log posterior at :math:`m`. Everything here is pure numpy/scipy on arrays the caller passes.

For a catalog ranking ("which would they pick at all?"), :func:`predictive_logits` averages the
chance of a pick over the posterior, with item offsets from :func:`base_rate_offset` that make
the prior reproduce how often the population picks each item.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit, logit, logsumexp, softmax

from .blocks import each_block

__all__ = [
    "Answer",
    "Comparison",
    "ConvergenceError",
    "Evidence",
    "KWayChoice",
    "Posterior",
    "answer_pulls",
    "base_rate_offset",
    "batch_map",
    "kway_log_likelihood",
    "kway_log_likelihood_grad",
    "kway_log_likelihood_hess",
    "laplace_posterior",
    "log_likelihood",
    "log_likelihood_grad",
    "log_likelihood_hess",
    "log_sigmoid",
    "ml_fit",
    "neg_log_posterior",
    "neg_log_posterior_grad",
    "neg_log_posterior_hess",
    "picked",
    "predictive_logits",
    "predictive_moments",
    "predictive_scale",
]

CHOICES = ("a", "b", "tie", "skip")
_LABELS = {"a": 1.0, "b": 0.0, "tie": 0.5, "skip": None}


class ConvergenceError(RuntimeError):
    """Newton's method did not reach the requested tolerance."""


def _item_index(value, name: str) -> int:
    try:
        index = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer item index, got {value!r}") from None
    if index < 0:
        raise ValueError(f"{name} must be a non-negative item index, got {index}")
    return index


@dataclass(frozen=True)
class Comparison:
    """One answer to "which of these two do you prefer?".

    Parameters
    ----------
    item_a, item_b : int
        The two items, as shown ("a" first).
    choice : {"a", "b", "tie", "skip"}
        "tie" means both are fine (soft label 1/2); "skip" means the user knows neither, which
        adds no likelihood term and marks both items unknown to the user.
    """

    item_a: int
    item_b: int
    choice: str

    def __post_init__(self):
        object.__setattr__(self, "item_a", _item_index(self.item_a, "item_a"))
        object.__setattr__(self, "item_b", _item_index(self.item_b, "item_b"))
        if self.item_a == self.item_b:
            raise ValueError(f"a comparison needs two different items, got item {self.item_a} twice")
        if self.choice not in CHOICES:
            raise ValueError(f"choice must be one of {CHOICES}, got {self.choice!r}")

    @property
    def label(self) -> float | None:
        """1.0 if a was preferred, 0.0 if b, 0.5 for a tie, None for a skip."""
        return _LABELS[self.choice]

    @property
    def items(self) -> tuple[int, int]:
        return (self.item_a, self.item_b)


@dataclass(frozen=True)
class KWayChoice:
    """One answer to "which of these k would you pick?".

    Parameters
    ----------
    options : tuple of int, length k >= 2
        The items shown, all different.
    chosen : int
        The item picked; one of ``options``.
    """

    options: tuple[int, ...]
    chosen: int

    def __post_init__(self):
        options = tuple(_item_index(item, "an option") for item in self.options)
        if len(options) < 2:
            raise ValueError(f"a k-way choice needs at least two options, got {options}")
        if len(set(options)) != len(options):
            raise ValueError(f"options must be different items, got {options}")
        chosen = _item_index(self.chosen, "chosen")
        if chosen not in options:
            raise ValueError(f"chosen item {chosen} is not one of the options {options}")
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "chosen", chosen)

    @property
    def position(self) -> int:
        """Index of ``chosen`` within ``options``."""
        return self.options.index(self.chosen)

    @property
    def items(self) -> tuple[int, ...]:
        return self.options


Answer = Comparison | KWayChoice


def picked(answer: Answer) -> tuple[int, tuple[int, ...]] | None:
    """(the item picked, the items passed over) of an answer that picked one; None for a tie or a skip."""
    if isinstance(answer, KWayChoice):
        return answer.chosen, tuple(o for o in answer.options if o != answer.chosen)
    if answer.choice == "a":
        return answer.item_a, (answer.item_b,)
    if answer.choice == "b":
        return answer.item_b, (answer.item_a,)
    return None


# --------------------------------------------------------------------------- likelihoods


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    r"""Elementwise :math:`\log \sigma(x) = -\log(1 + e^{-x})`, finite for every finite x."""
    return -np.logaddexp(0.0, -x)


def _pair_nll(margin: np.ndarray, labels: np.ndarray) -> np.ndarray:
    r"""Per-pair negative log-likelihood :math:`-[y \log\sigma(z) + (1-y)\log\sigma(-z)]`."""
    return -(labels * log_sigmoid(margin) + (1.0 - labels) * log_sigmoid(-margin))


def log_likelihood(coef: np.ndarray, diffs: np.ndarray, labels: np.ndarray) -> float:
    r"""Log-likelihood of pairwise answers with soft labels.

    .. math:: \ell(\lambda) = \sum_i y_i \log s_i + (1 - y_i) \log(1 - s_i),
              \qquad s_i = \sigma(\lambda^\top x_i)

    Parameters
    ----------
    coef : (n_bases,) array
    diffs : (n_pairs, n_bases) array, :math:`x_i = \phi(a_i) - \phi(b_i)`
    labels : (n_pairs,) array, :math:`y_i \in \{0, 1/2, 1\}`
    """
    return -float(np.sum(_pair_nll(diffs @ coef, labels)))


def log_likelihood_grad(coef: np.ndarray, diffs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    r"""Gradient of :func:`log_likelihood`, shape (n_bases,).

    .. math:: \nabla \ell = \sum_i (y_i - s_i)\, x_i
    """
    return diffs.T @ (labels - expit(diffs @ coef))


def log_likelihood_hess(coef: np.ndarray, diffs: np.ndarray) -> np.ndarray:
    r"""Hessian of :func:`log_likelihood`, shape (n_bases, n_bases); it does not depend on the labels.

    .. math:: \nabla^2 \ell = -\sum_i w_i\, x_i x_i^\top, \qquad w_i = s_i (1 - s_i)
    """
    s = expit(diffs @ coef)
    return -(diffs.T * (s * (1.0 - s))) @ diffs


def kway_log_likelihood(coef: np.ndarray, options: np.ndarray, chosen: np.ndarray) -> float:
    r"""Log-likelihood of k-way choices under the multinomial logit.

    .. math:: \ell(\lambda) = \sum_n \Big[u_{n c_n} - \log \sum_j e^{u_{nj}}\Big],
              \qquad u_{nj} = \lambda^\top \phi_{nj}

    Parameters
    ----------
    coef : (n_bases,) array
    options : (n_choices, k, n_bases) array, the features of the options shown
    chosen : (n_choices,) int array, the position of the chosen option
    """
    utility = options @ coef
    picked = np.take_along_axis(utility, chosen[:, None], axis=1)[:, 0]
    return float(np.sum(picked - logsumexp(utility, axis=1)))


def kway_log_likelihood_grad(coef: np.ndarray, options: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    r"""Gradient of :func:`kway_log_likelihood`, shape (n_bases,).

    .. math:: \nabla \ell = \sum_n \Big(\phi_{n c_n} - \sum_j p_{nj} \phi_{nj}\Big),
              \qquad p_n = \operatorname{softmax}(u_n)
    """
    p = softmax(options @ coef, axis=1)
    picked = np.take_along_axis(options, chosen[:, None, None], axis=1)[:, 0]
    return picked.sum(axis=0) - np.einsum("nj,njk->k", p, options)


def kway_log_likelihood_hess(coef: np.ndarray, options: np.ndarray) -> np.ndarray:
    r"""Hessian of :func:`kway_log_likelihood`, shape (n_bases, n_bases); independent of the choices.

    .. math:: \nabla^2 \ell = -\sum_n \Phi_n^\top \big(\operatorname{diag}(p_n) - p_n p_n^\top\big) \Phi_n

    For k = 2 this is the pairwise :math:`-w\, x x^\top`.
    """
    p = softmax(options @ coef, axis=1)
    centre = np.einsum("nj,njk->nk", p, options)
    return centre.T @ centre - np.einsum("nj,njk,njl->kl", p, options, options)


# --------------------------------------------------------------------------- posterior


@dataclass(frozen=True, eq=False)
class Evidence:
    r"""The answers as the arrays the likelihoods take; skips are left out.

    Attributes
    ----------
    diffs : (n_pairs, n_bases) array, :math:`\phi(a) - \phi(b)` of each non-skipped comparison
    labels : (n_pairs,) array of 1, 0 or 1/2
    kway : tuple of (options, chosen) pairs, one per distinct k: options (n_choices, k, n_bases),
        chosen (n_choices,) positions
    """

    diffs: np.ndarray
    labels: np.ndarray
    kway: tuple[tuple[np.ndarray, np.ndarray], ...] = ()

    @classmethod
    def from_answers(cls, features: np.ndarray, answers: Sequence[Answer]) -> Evidence:
        features = _feature_matrix(features)
        n_items = features.shape[0]
        pairs: list[tuple[int, int]] = []
        labels: list[float] = []
        by_k: dict[int, list[KWayChoice]] = {}
        for answer in answers:
            for item in answer.items:
                if item >= n_items:
                    raise ValueError(f"item {item} is out of range for {n_items} items")
            if isinstance(answer, KWayChoice):
                by_k.setdefault(len(answer.options), []).append(answer)
            elif isinstance(answer, Comparison):
                if answer.label is not None:
                    pairs.append(answer.items)
                    labels.append(answer.label)
            else:
                raise ValueError(f"an answer must be a Comparison or a KWayChoice, got {answer!r}")
        index = np.asarray(pairs, dtype=np.intp).reshape(-1, 2)
        kway = tuple(
            (
                features[np.array([c.options for c in group])],
                np.array([c.position for c in group], dtype=np.intp),
            )
            for group in by_k.values()
        )
        diffs = features[index[:, 0]] - features[index[:, 1]]
        if not (np.isfinite(diffs).all() and all(np.isfinite(options).all() for options, _ in kway)):
            raise ValueError("features of the answered items must be finite")
        return cls(diffs, np.asarray(labels, dtype=float), kway)


def neg_log_posterior(
    coef: np.ndarray, prior_mean: np.ndarray, prior_precision: np.ndarray, evidence: Evidence
) -> float:
    r"""Negative log posterior up to a constant.

    .. math:: f(\lambda) = \tfrac12 (\lambda - \mu_0)^\top \Sigma_0^{-1} (\lambda - \mu_0)
              - \ell_\text{pairs}(\lambda) - \ell_\text{k-way}(\lambda)
    """
    centred = coef - prior_mean
    value = 0.5 * centred @ prior_precision @ centred - log_likelihood(coef, evidence.diffs, evidence.labels)
    return float(value - sum(kway_log_likelihood(coef, options, chosen) for options, chosen in evidence.kway))


def neg_log_posterior_grad(
    coef: np.ndarray, prior_mean: np.ndarray, prior_precision: np.ndarray, evidence: Evidence
) -> np.ndarray:
    r"""Gradient of :func:`neg_log_posterior`, shape (n_bases,).

    .. math:: \nabla f = \Sigma_0^{-1} (\lambda - \mu_0) - \nabla \ell_\text{pairs} - \nabla \ell_\text{k-way}
    """
    grad = prior_precision @ (coef - prior_mean) - log_likelihood_grad(coef, evidence.diffs, evidence.labels)
    for options, chosen in evidence.kway:
        grad -= kway_log_likelihood_grad(coef, options, chosen)
    return grad


def neg_log_posterior_hess(
    coef: np.ndarray, prior_mean: np.ndarray, prior_precision: np.ndarray, evidence: Evidence
) -> np.ndarray:
    r"""Hessian of :func:`neg_log_posterior`: the Laplace posterior precision at ``coef``.

    .. math:: S^{-1} = \Sigma_0^{-1} + \sum_i w_i x_i x_i^\top
              + \sum_n \Phi_n^\top \big(\operatorname{diag}(p_n) - p_n p_n^\top\big) \Phi_n

    ``prior_mean`` is unused; it is accepted so that the three functions share one signature.
    """
    hess = prior_precision - log_likelihood_hess(coef, evidence.diffs)
    for options, _ in evidence.kway:
        hess -= kway_log_likelihood_hess(coef, options)
    return hess


def _newton(
    value: Callable[[np.ndarray], np.ndarray],
    derivatives: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    init: np.ndarray,
    tol: float,
    max_iter: int,
) -> np.ndarray:
    r"""Minimise a batch of strictly convex functions by damped Newton's method.

    ``value`` maps (batch, n_bases) points to (batch,) values, ``derivatives`` to the gradients
    (batch, n_bases) and Hessians (batch, n_bases, n_bases). Each step solves
    :math:`H d = -g` (numpy's batched LAPACK solve: scipy's per-call overhead dominated these
    small systems) and halves its length until Armijo's condition
    :math:`f(\lambda + t d) \le f(\lambda) - \tfrac14 t\, \delta^2` holds, so every accepted step
    descends. Converged when half the Newton decrement :math:`\delta^2 = g^\top H^{-1} g` (the
    predicted distance to the minimum in objective value) is at most ``tol`` for every row; that
    last step is taken in full.
    """
    coef = init.copy()
    current = value(coef)
    for _ in range(max_iter):
        grad, hess = derivatives(coef)
        step = -np.linalg.solve(hess, grad[..., None])[..., 0]
        decrement = -np.einsum("bk,bk->b", grad, step)
        converged = decrement <= 2.0 * tol
        length = np.ones(len(coef))
        while True:
            candidate = coef + length[:, None] * step
            new = value(candidate)
            accepted = converged | (new <= current - 0.25 * length * decrement)
            if accepted.all():
                break
            length = np.where(accepted, length, 0.5 * length)
            if length.min() < 1e-12:
                raise ConvergenceError(
                    f"line search failed: no descent along the Newton step (decrement {decrement.max():.3g})"
                )
        coef, current = candidate, new
        if converged.all():
            return coef
    raise ConvergenceError(
        f"Newton's method did not reach tol={tol:g} in max_iter={max_iter} iterations "
        f"(half Newton decrement still {0.5 * decrement.max():.3g})"
    )


def _feature_matrix(features) -> np.ndarray:
    """``features`` as an (n_items, n_bases) float array; only the rows used are checked finite
    (:meth:`Evidence.from_answers`): an answer reads two rows, not a whole catalog."""
    features = np.asarray(features, dtype=float)
    if features.ndim != 2:
        raise ValueError(f"features must be an (n_items, n_bases) array, got shape {features.shape}")
    return features


def _features(features) -> np.ndarray:
    """:func:`_feature_matrix`, every row checked finite (for what reads every row)."""
    features = _feature_matrix(features)
    if not np.all(np.isfinite(features)):
        raise ValueError(f"features must be a finite (n_items, n_bases) array, got shape {features.shape}")
    return features


def _gaussian(mean, cov, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a Gaussian; return mean, cov and the lower Cholesky factor of cov."""
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if mean.ndim != 1 or cov.shape != (mean.size, mean.size):
        raise ValueError(f"{name}: mean shape {mean.shape} and cov shape {cov.shape} do not match")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov)) and np.allclose(cov, cov.T)):
        raise ValueError(f"{name}: mean and cov must be finite and cov symmetric")
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name}: cov is not positive definite") from None
    return mean, cov, chol


def _precision(chol: np.ndarray) -> np.ndarray:
    """Inverse of :math:`L L^\\top` from its Cholesky factor: :math:`L^{-\\top} L^{-1}`, symmetrised."""
    factor = np.linalg.inv(chol)
    inverse = factor.T @ factor
    return 0.5 * (inverse + inverse.T)


@dataclass(frozen=True, eq=False)
class Posterior:
    r"""Laplace posterior :math:`N(m, S)` over a user's coefficients, with what it is conditioned on.

    Attributes
    ----------
    mean : (n_bases,) array, the MAP :math:`m`
    cov : (n_bases, n_bases) array, :math:`S`, symmetric positive definite
    prior_mean : (n_bases,) array, :math:`\mu_0`
    prior_cov : (n_bases, n_bases) array, :math:`\Sigma_0`
    answers : tuple of Answer, everything the posterior is conditioned on, in order

    Notes
    -----
    :math:`S^{-1} = \Sigma_0^{-1} + \sum_i w_i x_i x_i^\top` with the weights :math:`w_i` taken at
    the current mean, so the variance along an asked direction never exceeds the prior's. It can
    grow, though, after a further answer moves the mean so that an earlier answer becomes far
    more certain (its :math:`w_i` collapses): a property of the Laplace approximation, not a bug.
    """

    mean: np.ndarray
    cov: np.ndarray
    prior_mean: np.ndarray
    prior_cov: np.ndarray
    answers: tuple[Answer, ...] = ()

    @classmethod
    def from_prior(cls, prior_mean, prior_cov) -> Posterior:
        """The posterior before any answer: the prior itself."""
        prior_mean, prior_cov, _ = _gaussian(prior_mean, prior_cov, "prior")
        return cls(prior_mean, prior_cov, prior_mean, prior_cov)

    @property
    def n_bases(self) -> int:
        return self.mean.size

    def update(self, features: np.ndarray, answer: Answer, *, tol: float = 1e-9, max_iter: int = 50) -> Posterior:
        """Condition on one more answer; Newton's method warm-starts from the current mean."""
        return laplace_posterior(
            self.prior_mean, self.prior_cov, features, (*self.answers, answer), init=self.mean, tol=tol, max_iter=max_iter
        )


def laplace_posterior(
    prior_mean: np.ndarray,
    prior_cov: np.ndarray,
    features: np.ndarray,
    answers: Sequence[Answer],
    init: np.ndarray | None = None,
    tol: float = 1e-9,
    max_iter: int = 50,
) -> Posterior:
    r"""Laplace approximation of the posterior over coefficients given some answers.

    .. math:: m = \arg\min_\lambda f(\lambda), \qquad
              S = \big(\nabla^2 f(m)\big)^{-1}, \qquad
              S^{-1} = \Sigma_0^{-1} + \sum_i w_i x_i x_i^\top + (\text{k-way terms})

    with :math:`f` the :func:`neg_log_posterior` and :math:`w_i = s_i(1 - s_i)` at :math:`m`.

    Parameters
    ----------
    prior_mean : (n_bases,) array
    prior_cov : (n_bases, n_bases) array, symmetric positive definite
    features : (n_items, n_bases) array
    answers : sequence of Comparison or KWayChoice
    init : (n_bases,) array, optional
        Where Newton's method starts (default: the prior mean). Pass the previous mean to update.
    tol : float
        Stop when half the Newton decrement is at most this (see :func:`_newton`).
    max_iter : int
        Newton iterations allowed before :class:`ConvergenceError`.
    """
    prior_mean, prior_cov, prior_chol = _gaussian(prior_mean, prior_cov, "prior")
    features = _feature_matrix(features)
    if features.shape[1] != prior_mean.size:
        raise ValueError(f"features have {features.shape[1]} bases but the prior has {prior_mean.size}")
    precision = _precision(prior_chol)
    evidence = Evidence.from_answers(features, answers)
    start = prior_mean if init is None else np.asarray(init, dtype=float)
    if start.shape != prior_mean.shape:
        raise ValueError(f"init has shape {start.shape}, expected {prior_mean.shape}")

    def value(coef):
        return np.array([neg_log_posterior(coef[0], prior_mean, precision, evidence)])

    def derivatives(coef):
        args = (coef[0], prior_mean, precision, evidence)
        return neg_log_posterior_grad(*args)[None], neg_log_posterior_hess(*args)[None]

    mean = _newton(value, derivatives, start[None], tol, max_iter)[0]
    hess = neg_log_posterior_hess(mean, prior_mean, precision, evidence)
    return Posterior(mean, _precision(np.linalg.cholesky(hess)), prior_mean, prior_cov, tuple(answers))


def ml_fit(
    features: np.ndarray, answers: Sequence[Answer], ridge: float = 1e-3, tol: float = 1e-9, max_iter: int = 100
) -> Posterior:
    r"""The plain maximum-likelihood fit of the answers, with no population prior.

    Pairwise logistic likelihoods have no finite maximiser when the answers are separable (always
    the case with fewer answers than bases), so a tiny ridge :math:`\tfrac{r}{2}\lVert u\rVert^2`
    makes the fit unique; it is the MAP under :math:`N(0, I/r)`. The returned ``cov`` is then
    :math:`(r I + \sum_i \sigma'(u^\top x_i)\, x_i x_i^\top)^{-1}`, the inverse of PReF's
    :math:`\Sigma` when ``ridge=0.001``.
    """
    if not ridge > 0:
        raise ValueError(f"ridge must be positive, got {ridge!r}")
    n_bases = _features(features).shape[1]
    return laplace_posterior(np.zeros(n_bases), np.eye(n_bases) / ridge, features, answers, tol=tol, max_iter=max_iter)


def batch_map(
    features: np.ndarray,
    users: np.ndarray,
    items_a: np.ndarray,
    items_b: np.ndarray,
    labels: np.ndarray,
    prior_mean: np.ndarray,
    prior_cov: np.ndarray,
    n_users: int | None = None,
    tol: float = 1e-9,
    max_iter: int = 50,
    return_cov: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""MAP coefficients of many users at once from pairwise answers (no k-way terms).

    Row ``u`` of the result minimises the :func:`neg_log_posterior` of user ``u``'s pairs,

    .. math:: \hat\lambda_u = \arg\min_\lambda \tfrac12 (\lambda - \mu_0)^\top \Sigma_0^{-1}
              (\lambda - \mu_0) - \sum_{i:\, u_i = u} \big[y_i \log s_i + (1 - y_i) \log(1 - s_i)\big],

    all users stepping together through one batched Newton iteration (per-pair terms are summed
    per user with a sparse user-by-pair incidence matrix). Users with no pairs get the prior mean.

    Parameters
    ----------
    features : (n_items, n_bases) array
    users : (n_pairs,) int array, the user of each pair, in ``range(n_users)``
    items_a, items_b : (n_pairs,) int arrays, the compared items
    labels : (n_pairs,) array, 1 if a was preferred, 0 if b, 1/2 for a tie
    prior_mean, prior_cov : the shared Gaussian prior
    n_users : int, optional, default ``users.max() + 1``
    return_cov : also return each user's Laplace covariance, the inverse Hessian at the MAP

    Returns
    -------
    (n_users, n_bases) array, and with ``return_cov`` an (n_users, n_bases, n_bases) array
    """
    features = _features(features)
    prior_mean, _, prior_chol = _gaussian(prior_mean, prior_cov, "prior")
    precision = _precision(prior_chol)
    users, items_a, items_b = (np.asarray(v, dtype=np.intp) for v in (users, items_a, items_b))
    labels = np.asarray(labels, dtype=float)
    if not users.shape == items_a.shape == items_b.shape == labels.shape or users.ndim != 1:
        raise ValueError("users, items_a, items_b and labels must be 1-D arrays of one length")
    if np.any((labels < 0) | (labels > 1)):
        raise ValueError(f"labels must lie in [0, 1], got {labels[(labels < 0) | (labels > 1)][0]}")
    n_users = int(users.max(initial=-1)) + 1 if n_users is None else n_users
    if users.size and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"users must lie in range({n_users}), got {users.min()}..{users.max()}")
    diffs = features[items_a] - features[items_b]
    per_user = sparse.csr_array((np.ones(users.size), (users, np.arange(users.size))), shape=(n_users, users.size))

    def value(coef):
        centred = coef - prior_mean
        prior = 0.5 * np.einsum("uk,kl,ul->u", centred, precision, centred)
        return prior + per_user @ _pair_nll(np.einsum("ik,ik->i", diffs, coef[users]), labels)

    def derivatives(coef):
        s = expit(np.einsum("ik,ik->i", diffs, coef[users]))
        grad = (coef - prior_mean) @ precision - per_user @ ((labels - s)[:, None] * diffs)
        weighted = (s * (1.0 - s))[:, None] * diffs
        fisher = np.stack([per_user @ (weighted * diffs[:, [k]]) for k in range(diffs.shape[1])], axis=1)
        return grad, precision + fisher

    coef = _newton(value, derivatives, np.tile(prior_mean, (n_users, 1)), tol, max_iter)
    if not return_cov:
        return coef
    return coef, np.linalg.inv(derivatives(coef)[1])


def answer_pulls(features: np.ndarray, mean: np.ndarray, prior_cov: np.ndarray, answers: Sequence[Answer]) -> np.ndarray:
    r"""How far each answer pulled the MAP :math:`m` from the prior mean: one row per answer, summing to :math:`m - \mu_0`.

    At the MAP the gradient of the negative log posterior vanishes,
    :math:`\Sigma_0^{-1}(m - \mu_0) = \sum_p g_p` with :math:`g_p` answer p's log-likelihood
    gradient at :math:`m`, so

    .. math:: m - \mu_0 = \sum_p \Sigma_0\, g_p, \qquad
              g_p = \begin{cases}
                  (y_p - \sigma(m^\top x_p))\, x_p, \; x_p = \phi(a_p) - \phi(b_p) & \text{a pair, label } y_p \\
                  \phi(c_p) - \sum_j \pi_{pj} \phi(o_{pj}), \; \pi_p = \operatorname{softmax}(\phi(o_p) m) & \text{a k-way choice} \\
                  0 & \text{a skip}
              \end{cases}

    exactly where ``mean`` is the MAP of ``answers`` under the prior (:func:`laplace_posterior`);
    row p is :math:`\Sigma_0 g_p`. An item's score moves by :math:`\phi(i)^\top \Sigma_0 g_p` for
    answer p: the answers that moved a pick most are the ones to name as its reason.

    Parameters
    ----------
    features : (n_items, n_bases), the rows the answers index
    mean : (n_bases,) the MAP :math:`m`
    prior_cov : (n_bases, n_bases) :math:`\Sigma_0`

    Returns
    -------
    (n_answers, n_bases)
    """
    features = _feature_matrix(features)
    mean = np.asarray(mean, dtype=float)
    gradients = np.zeros((len(answers), len(mean)))
    for p, answer in enumerate(answers):
        if isinstance(answer, KWayChoice):
            options = features[list(answer.options)]
            gradients[p] = features[answer.chosen] - softmax(options @ mean) @ options
        elif answer.label is not None:
            x = features[answer.item_a] - features[answer.item_b]
            gradients[p] = (answer.label - expit(x @ mean)) * x
    return gradients @ np.asarray(prior_cov, dtype=float).T


# --------------------------------------------------------------------------- predictive


PROBIT_VARIANCE = np.pi / 8.0  # E[sigma(f)], f ~ N(mu, v): ~ sigma(mu / sqrt(1 + pi v / 8))


def predictive_scale(features: np.ndarray, cov: np.ndarray,
                     reference: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    r""":math:`\kappa_i = \sqrt{1 + \pi v_i / 8}`, :math:`v_i = \phi_i^\top S \phi_i`: how much the
    uncertainty of item i's utility flattens the chance of a pick (see :func:`predictive_logits`);
    ``reference`` as in :func:`predictive_moments`."""
    cov = np.asarray(cov, dtype=float)
    return predictive_moments(features, np.zeros(len(cov)), cov, reference)[1]


def predictive_moments(features: np.ndarray, mean: np.ndarray, cov: np.ndarray,
                       reference: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Every item's mean utility :math:`\phi_i^\top m` and :math:`\kappa_i` of :func:`predictive_scale`,
    from one product over the features (a catalog is read once, not twice), in the features' precision.

    :math:`S` is written as a sum of rank-one terms, :math:`S = \sum_j \lambda_j u_j u_j^\top`, so that

    .. math:: v_i = \phi_i^\top S \phi_i = \sum_j \operatorname{sign}(\lambda_j) (\phi_i^\top w_j)^2,
              \qquad w_j = \sqrt{|\lambda_j|}\, u_j,

    computed block by block of rows (:func:`~prefchat.elicitation.blocks.each_block`), in place. With
    ``reference`` :math:`(S_0, v^0)`, the variances :math:`v^0_i = \phi_i^\top S_0 \phi_i` of every item
    under a covariance already known (the session prior), the terms are those of the difference,
    :math:`v_i = v^0_i + \sum_j \lambda_j (\phi_i^\top u_j)^2` with :math:`S - S_0 = \sum_j \lambda_j u_j u_j^\top`,
    of rank r after r pairwise answers (a k-way answer adds up to k - 1): O(n r K) where r < K; otherwise the
    terms are :math:`S`'s own K (eigenvalues :math:`|\lambda_j|` above :math:`10^{-12}` of the largest).
    """
    mean, cov = np.asarray(mean, dtype=float), np.asarray(cov, dtype=float)
    features = np.asarray(features)
    if features.dtype != np.float32:
        features = features.astype(np.float64, copy=False)
    terms, known_variance = None, None
    if reference is not None:
        change = np.linalg.eigh(cov - reference[0])
        if (np.abs(change[0]) > 1e-12 * np.abs(change[0]).max(initial=0.0)).sum() < len(change[0]):
            terms, known_variance = change, np.asarray(reference[1])
    values, vectors = np.linalg.eigh(cov) if terms is None else terms
    keep = np.abs(values) > 1e-12 * np.abs(values).max(initial=0.0)
    weights = np.column_stack([mean, vectors[:, keep] * np.sqrt(np.abs(values[keep]))]).astype(features.dtype)
    return _low_rank_moments(features, weights, np.sign(values[keep]).astype(features.dtype), known_variance)


def _low_rank_moments(features: np.ndarray, weights: np.ndarray, signs: np.ndarray,
                      reference_variance: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    r""":func:`predictive_moments` of ``weights`` :math:`[m, w_1, \dots, w_r]`: each block of rows'
    product, its squares and :math:`\kappa` computed in place, in the features' precision."""
    linear, scale = np.empty(len(features), features.dtype), np.empty(len(features), features.dtype)

    def block(rows: slice) -> None:
        product = features[rows] @ weights
        linear[rows] = product[:, 0]
        squares = np.square(product[:, 1:], out=product[:, 1:])
        variance = np.matmul(squares, signs, out=scale[rows])
        if reference_variance is not None:
            variance += reference_variance[rows]
        np.maximum(variance, 0.0, out=variance)
        variance *= PROBIT_VARIANCE
        variance += 1.0
        np.sqrt(variance, out=variance)

    each_block(len(features), block)
    return linear, scale


def predictive_logits(features: np.ndarray, mean: np.ndarray, cov: np.ndarray, offset: np.ndarray) -> np.ndarray:
    r"""Logits of the chance that the user picks each item at all, averaged over the posterior.

    With an item offset :math:`a_i` (see :func:`base_rate_offset`) and :math:`\lambda \sim N(m, S)`,
    the probit approximation of the logistic-normal integral gives

    .. math:: E\,\sigma(\phi_i^\top \lambda + a_i) \approx \sigma(z_i), \qquad
              z_i = \frac{\phi_i^\top m + a_i}{\sqrt{1 + \pi v_i / 8}}, \quad v_i = \phi_i^\top S \phi_i.

    Parameters
    ----------
    features : (n_items, n_bases) array
    mean, cov : the posterior
    offset : (n_items,) array, the :math:`a_i`

    Returns
    -------
    (n_items,) array :math:`z`
    """
    linear, scale = predictive_moments(_features(features), mean, cov)
    return (linear + offset) / scale


def base_rate_offset(features: np.ndarray, prior_mean: np.ndarray, prior_cov: np.ndarray, base_rate: np.ndarray) -> np.ndarray:
    r"""Item offsets that make the prior's :func:`predictive_logits` the population's base rates.

    Pairwise answers fix utilities only up to what is common to every item, so how often the
    population picks each item at all (watches a film, say) is a fact the coefficients do not
    hold. With :math:`f_i` that base rate, the offset

    .. math:: a_i = \sqrt{1 + \pi v^0_i / 8}\; \operatorname{logit} f_i - \phi_i^\top \mu_0,
              \qquad v^0_i = \phi_i^\top \Sigma_0 \phi_i,

    gives :math:`z_i = \operatorname{logit} f_i` under the prior, so before any answer items rank
    by base rate. After answers,
    :math:`z_i = (\phi_i^\top (m - \mu_0) + \sqrt{1 + \pi v^0_i/8}\,\operatorname{logit} f_i) / \sqrt{1 + \pi v_i/8}`:
    the base rate, moved by what the answers taught about this user against the population,
    sharpened as the item's uncertainty shrinks.

    Parameters
    ----------
    features : (n_items, n_bases) array
    prior_mean, prior_cov : the population prior :math:`N(\mu_0, \Sigma_0)`
    base_rate : (n_items,) array in (0, 1), :math:`f_i`
    """
    features = _features(features)
    base_rate = np.asarray(base_rate, dtype=float)
    if base_rate.shape != (features.shape[0],):
        raise ValueError(f"base_rate must have shape ({features.shape[0]},), got {base_rate.shape}")
    outside = ~((base_rate > 0) & (base_rate < 1))
    if outside.any():
        raise ValueError(f"base_rate must lie strictly between 0 and 1, got {base_rate[outside][0]!r} for item {np.flatnonzero(outside)[0]}")
    return predictive_scale(features, prior_cov) * logit(base_rate) - features @ np.asarray(prior_mean, dtype=float)
