r"""Tastes move: a user's coefficients as a mean-reverting random walk, and their posterior from dated evidence.

Not served: this is the model part of issue 25, measured by ``bench/drift.py`` before it may be.

The walk. Between two moments :math:`\Delta` apart the coefficients move as an
Ornstein-Uhlenbeck process whose stationary law is the population prior :math:`N(\mu, \Sigma)`,

.. math:: \theta(t + \Delta) = \mu + a (\theta(t) - \mu) + \varepsilon, \qquad
          \varepsilon \sim N\big(0, (1 - a^2) \Sigma\big), \qquad a = e^{-\kappa \Delta},

so a posterior :math:`N(m, S)` ages into (:func:`predict`, the Kalman filter's prediction step)

.. math:: m \leftarrow \mu + a (m - \mu), \qquad S \leftarrow a^2 S + (1 - a^2) \Sigma :

its covariance grows with the elapsed time (:math:`S \approx S + 2 \kappa \Delta (\Sigma - S)` for small
:math:`\Delta`), and after long enough nothing is left but the population. :math:`\kappa = 0` is
today's timeless model; :math:`1 / \kappa` is the timescale on which a taste is forgotten.

The evidence. Dated observations :math:`y_i \sim N(\theta(t_i), R)` (a known item's :math:`\Pi_i`
with :math:`R = \tau \Psi` in :mod:`~prefchat.elicitation.known`) are filtered in time order:
predict to :math:`t_i`, then update (:meth:`Drift.posterior`), and predict to ``now``. An old
observation thus loses weight as it ages. With :math:`\kappa = 0` the result is exactly the
conjugate posterior of all the observations at once.

Computation. In the joint eigenbasis of the two covariances (:math:`V^\top \Sigma^{-1} V = I`,
:math:`V^\top R^{-1} V = \operatorname{diag}(\omega)`, with :math:`\theta = V z`), the prior, the walk and
the noise are all diagonal: :math:`z \sim N(V^\top \Sigma^{-1} \mu, I)`, noise variances
:math:`1 / \omega_k`, walk variances :math:`1 - a^2`. The filter is K independent scalar
filters, :math:`O(K)` per observation.

Time comes from a :class:`Clock` the caller passes (``time.time`` in a server, a :class:`SetClock`
in tests and replays), never from this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
from scipy.linalg import eigh

from .metrics import recall_at_k, top_k

__all__ = ["RATE_MULTIPLES", "Clock", "Drift", "SetClock", "choose_rate", "predict", "retention"]

RATE_MULTIPLES = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
r""":func:`choose_rate` tries :math:`\kappa` = these multiples of 1 / (the training ratings' time span):
0 (timeless) up to a taste forgotten in 1/32 of the span (about 8 months of ml-latest-small's 22 years)."""


class Clock(Protocol):
    """What time it is, in the unit of the data's timestamps (seconds since 1970 for a server's ``time.time``)."""

    def __call__(self) -> float: ...


@dataclass
class SetClock:
    """A clock the caller sets: tests and replays."""

    now: float

    def __call__(self) -> float:
        return self.now


def retention(elapsed: float, rate: float) -> float:
    r""":math:`a = e^{-\kappa \Delta}`: how much of a deviation from the population is left after ``elapsed``."""
    if elapsed < 0 or rate < 0:
        raise ValueError(f"elapsed time and rate must be non-negative, got {elapsed!r} and {rate!r}")
    return float(np.exp(-rate * elapsed))


def predict(mean: np.ndarray, cov: np.ndarray, prior_mean: np.ndarray, prior_cov: np.ndarray, elapsed: float,
            rate: float) -> tuple[np.ndarray, np.ndarray]:
    r"""A posterior :math:`N(m, S)` aged by ``elapsed``: :math:`\mu + a (m - \mu)`, :math:`a^2 S + (1 - a^2) \Sigma`."""
    a = retention(elapsed, rate)
    return prior_mean + a * (np.asarray(mean) - prior_mean), a * a * np.asarray(cov) + (1.0 - a * a) * prior_cov


@dataclass(frozen=True, eq=False)
class Drift:
    r"""The walk of rate :math:`\kappa` (``rate``) around the prior :math:`N(\mu, \Sigma)`, observed with noise :math:`R`.

    Attributes
    ----------
    prior_mean : (K,) :math:`\mu`; prior_cov : (K, K) :math:`\Sigma`
    noise_cov : (K, K) :math:`R`, the covariance of one observation about :math:`\theta(t)`
    rate : :math:`\kappa \ge 0`, per unit of the timestamps
    """

    prior_mean: np.ndarray
    prior_cov: np.ndarray
    noise_cov: np.ndarray
    rate: float

    def __post_init__(self):
        k = np.shape(self.prior_mean)[0]
        if np.shape(self.prior_cov) != (k, k) or np.shape(self.noise_cov) != (k, k):
            raise ValueError(f"drift: prior_cov {np.shape(self.prior_cov)} and noise_cov {np.shape(self.noise_cov)} "
                             f"must be ({k}, {k})")
        if not (np.isfinite(self.rate) and self.rate >= 0):
            raise ValueError(f"drift: the rate must be finite and non-negative, got {self.rate!r}")

    @cached_property
    def _basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r""":math:`V`, the noise variances :math:`1 / \omega`, :math:`W = V^\top \Sigma^{-1}` (:math:`z = W \theta`)
        and the prior mean :math:`W \mu` of the module docstring's eigenbasis."""
        prior_precision = np.linalg.inv(self.prior_cov)
        prior_precision = 0.5 * (prior_precision + prior_precision.T)
        noise_precision = np.linalg.inv(self.noise_cov)
        omega, basis = eigh(0.5 * (noise_precision + noise_precision.T), prior_precision)
        to_z = basis.T @ prior_precision
        return basis, 1.0 / omega, to_z, to_z @ self.prior_mean

    def posterior(self, observations: np.ndarray, times: np.ndarray, now: float) -> tuple[np.ndarray, np.ndarray]:
        """The posterior mean and covariance of :math:`\\theta(\\text{now})` given dated ``observations``.

        Parameters
        ----------
        observations : (n, K) the :math:`y_i`; times : (n,) their dates, in any order, none after ``now``
        now : the moment of the posterior (a :class:`Clock`'s reading)
        """
        observations, times = np.atleast_2d(np.asarray(observations, dtype=float)), np.asarray(times, dtype=float)
        if times.size == 0:
            observations = observations.reshape(0, len(self.prior_mean))
        if observations.shape != (times.size, len(self.prior_mean)):
            raise ValueError(f"drift: {observations.shape} observations for {times.size} times and "
                             f"{len(self.prior_mean)} coefficients")
        if times.size and times.max() > now:
            raise ValueError(f"drift: an observation dated {times.max():g} is after now ({now:g})")
        basis, noise, to_z, centre = self._basis
        z, v = centre.copy(), np.ones_like(centre)
        order = np.argsort(times, kind="stable")
        y = observations[order] @ to_z.T
        previous = times[order[0]] if times.size else now
        for when, observed in zip(times[order], y):
            a = retention(when - previous, self.rate)
            z, v = centre + a * (z - centre), a * a * v + (1.0 - a * a)   # predict
            gain = v / (v + noise)
            z, v = z + gain * (observed - z), v * noise / (v + noise)      # update
            previous = when
        a = retention(now - previous, self.rate)
        z, v = centre + a * (z - centre), a * a * v + (1.0 - a * a)
        return basis @ z, (basis * v) @ basis.T


def choose_rate(emission: np.ndarray, features: np.ndarray, prior_mean: np.ndarray, prior_cov: np.ndarray,
                noise_cov: np.ndarray, span: float, users: Sequence[tuple[np.ndarray, np.ndarray, float, np.ndarray]],
                k: int = 20) -> tuple[float, list[dict]]:
    r"""The rate of :data:`RATE_MULTIPLES` / ``span`` whose posterior ranks validation users' later items best.

    Each user's known items :math:`i` are observed as :math:`y_i = \Pi_i` (``emission``) at their
    dates; the catalog is ranked by :math:`\phi_j^\top m` (``features``; the known-items model's
    score is its log, the same order among the items it ranks first) at ``as_of``, without the known
    items, and judged by Recall@k of the held-out ones.

    Parameters
    ----------
    users : (known items, their dates, as_of, held-out items) of each validation user
    span : the time unit of the grid (e.g. the training ratings' time span)

    Returns
    -------
    the chosen rate (the smallest among equals), and one ``{"rate", "recall@k"}`` per rate tried
    """
    if not users or not span > 0:
        raise ValueError(f"choose_rate needs validation users and a positive span, got {len(users)} and {span!r}")
    table = []
    for multiple in RATE_MULTIPLES:
        drift = Drift(prior_mean, prior_cov, noise_cov, multiple / span)
        recalls = []
        for known, dates, as_of, held_out in users:
            mean, _ = drift.posterior(emission[known], dates, as_of)
            recalls.append(recall_at_k(top_k(features @ mean, k, exclude=known), held_out, k))
        table.append({"rate": multiple / span, f"recall@{k}": float(np.nanmean(recalls))})
    best = max(range(len(table)), key=lambda c: (table[c][f"recall@{k}"], -c))
    return table[best]["rate"], table
