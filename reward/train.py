"""Learning K base reward functions from many users' preferences (PReF, stage 1).

Model (arXiv 2503.06358, eq. 3, with a content head so that new items have features):

.. math::

    \\phi(i) = [\\, f_\\theta(e(i)) + r_i,\\ p(i) \\,] \\in \\mathbb{R}^{K + P}, \\qquad
    P(a \\succ b \\mid u) = \\sigma(\\lambda_u^\\top (\\phi(a) - \\phi(b)))

with ``f_theta(e) = e W`` linear on the frozen sentence embedding, ``r_i`` an L2-shrunk
residual for items seen in training (the collaborative part; zero for unseen items) and
``p(i)`` the fixed population coordinates (log popularity, smoothed mean rating) that every
user weights. Training minimises the weighted pairwise logistic loss over all training users'
pairs plus L2 on lambda, W and r, by minibatch Adam from a truncated-SVD start, early-stopped
on validation users (see :func:`validation_score`).

Watching is not liking: implicit pairs (a rated item over an unrated one) are scored with
``lambda_u + delta``, where the shared *exposure* offset ``delta`` absorbs what makes people
watch popular items whether or not they rate them highly. ``lambda_u`` alone answers "which do
you prefer?"; ``lambda_u + delta`` answers "which would you rather watch?".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import svds

from ..elicitation.known import ledoit_wolf
from ..elicitation.metrics import pairwise_accuracy, recall_at_k, top_k
from ..elicitation.posterior import Comparison, laplace_posterior

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Interactions:
    """Users' evidence as index arrays (users and items are 0-based indices).

    ``rating_*`` arrays describe ratings (any numeric scale); ``pair_*`` arrays describe
    pairwise choices with ``pair_label`` 1.0 (a wins), 0.0 (b wins) or 0.5 (tie).
    """

    n_users: int
    n_items: int
    rating_user: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    rating_item: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    rating_value: np.ndarray = field(default_factory=lambda: np.empty(0))
    pair_user: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    pair_a: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    pair_b: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    pair_label: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def has_ratings(self) -> bool:
        return len(self.rating_user) > 0

    def subset(self, users: np.ndarray) -> Interactions:
        """The evidence of ``users`` only (user indices are kept)."""
        keep_r = np.isin(self.rating_user, users)
        keep_p = np.isin(self.pair_user, users)
        return Interactions(
            self.n_users, self.n_items,
            self.rating_user[keep_r], self.rating_item[keep_r], self.rating_value[keep_r],
            self.pair_user[keep_p], self.pair_a[keep_p], self.pair_b[keep_p], self.pair_label[keep_p],
        )


@dataclass(frozen=True)
class Hyperparameters:
    n_bases: int = 8
    l2: float = 1e-3
    implicit_weight: float = 1.0


@dataclass(frozen=True)
class FitResult:
    """A trained model: features of every catalog item and the training users' coefficients."""

    features: np.ndarray          # (n_items, n_bases)
    coef: np.ndarray              # (n_users, n_bases); rows of non-training users are unused
    exposure: np.ndarray          # (n_bases,) shared offset of implicit ("would rather watch") pairs
    head_weight: np.ndarray       # (d, K); no bias: pairwise differences cannot see one
    epochs: int
    validation: float
    history: list


# ----------------------------------------------------------------------------------------
# Pure pieces


def pairwise_logistic_loss(margins: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean negative log-likelihood of soft pairwise labels.

    .. math:: L = \\frac{\\sum_n w_n [\\, y_n \\log(1 + e^{-z_n}) + (1 - y_n) \\log(1 + e^{z_n}) \\,]}{\\sum_n w_n}

    with margins :math:`z_n = \\lambda_u^\\top(\\phi(a) - \\phi(b))`; ``y = 1/2`` is a tie.
    """
    nll = labels * torch.nn.functional.softplus(-margins) + (1 - labels) * torch.nn.functional.softplus(margins)
    return (weights * nll).sum() / weights.sum()


def population_coordinates(item: np.ndarray, value: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log popularity and smoothed mean rating of every item, standardised over the catalog.

    The smoothed mean is the empirical-Bayes (James-Stein) shrinkage of each item's mean
    rating towards the global mean, with prior strength :math:`m = \\sigma_w^2 / \\sigma_b^2`
    (within-item rating variance over between-item variance of the item means), so no
    smoothing constant is chosen by hand:

    .. math:: q_i = \\frac{\\sum_{r \\in R_i} r + m \\bar r}{|R_i| + m}

    Returns
    -------
    coordinates : (n_items, 2) standardised ``[log(1 + count), q]``
    count : (n_items,) ratings per item
    quality : (n_items,) ``q`` on the rating scale
    """
    count = np.bincount(item, minlength=n_items).astype(float)
    total = np.bincount(item, weights=value, minlength=n_items)
    global_mean = value.mean()
    rated = count > 0
    item_mean = np.where(rated, total / np.maximum(count, 1), global_mean)
    within = ((value - item_mean[item]) ** 2).mean()
    # Between-item variance of true means: variance of observed means minus their noise.
    between = item_mean[rated].var() - within * (1 / count[rated]).mean()
    strength = within / max(between, 1e-3 * within)
    quality = np.divide(total + strength * global_mean, count + strength, out=np.full(n_items, global_mean), where=count + strength > 0)
    coordinates = np.column_stack([np.log1p(count), quality])
    coordinates = (coordinates - coordinates.mean(0)) / np.maximum(coordinates.std(0), 1e-12)
    return coordinates, count, quality


def svd_start(user: np.ndarray, item: np.ndarray, value: np.ndarray, n_users: int, n_items: int, k: int, seed: int):
    """Truncated SVD of the user-centred user x item matrix: ``(U sqrt(S), V sqrt(S))``.

    .. math:: X_{ui} = v_{ui} - \\bar v_u \\approx U S V^\\top

    PReF reports this start matters (AUC 0.905 with it against 0.75 without).
    """
    user_mean = np.bincount(user, weights=value, minlength=n_users) / np.maximum(np.bincount(user, minlength=n_users), 1)
    matrix = csr_matrix((value - user_mean[user], (user, item)), shape=(n_users, n_items))
    k = min(k, min(matrix.shape) - 1)
    rng = np.random.default_rng(seed)
    u, s, vt = svds(matrix, k=k, v0=rng.standard_normal(min(matrix.shape)))
    order = np.argsort(-s)
    root = np.sqrt(s[order])
    return u[:, order] * root, vt[order].T * root


def variance_rotation(coef: np.ndarray) -> np.ndarray:
    """Orthogonal Q making the coefficient covariance diagonal, axes by decreasing variance.

    .. math:: \\mathrm{Cov}(\\lambda) = Q D Q^\\top, \\quad \\lambda \\mapsto \\lambda Q, \\ \\phi \\mapsto \\phi Q

    leaves every :math:`\\lambda^\\top \\phi` unchanged. Signs are fixed so that the mean
    coefficient on each axis is non-negative: the population leans to the positive end.
    """
    values, vectors = np.linalg.eigh(np.cov(coef, rowvar=False))
    q = vectors[:, np.argsort(-values)]
    signs = np.where((coef @ q).mean(0) < 0, -1.0, 1.0)
    return q * signs


# ----------------------------------------------------------------------------------------
# Training pairs


class PairSampler:
    """Per-epoch training pairs: explicit, implicit (BPR-style) and given pairs.

    Explicit: each rating is paired with a random other rating of the same user; pairs with
    equal ratings are dropped. Implicit: each rated item beats an item the user did not rate,
    drawn uniformly from the catalog and resampled each epoch, with weight ``implicit_weight``
    and ``implicit = 1`` so that the model can tell watching from liking.
    """

    def __init__(self, data: Interactions, implicit_weight: float):
        order = np.argsort(data.rating_user, kind="stable")
        self.user = data.rating_user[order]
        self.item = data.rating_item[order]
        self.value = data.rating_value[order]
        counts = np.bincount(self.user, minlength=data.n_users)
        self.start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.count = counts
        self.rated_keys = np.sort(self.user * data.n_items + self.item)
        self.n_items = data.n_items
        self.implicit_weight = implicit_weight
        self.given = (data.pair_user, data.pair_a, data.pair_b, data.pair_label)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Arrays ``(user, a, b, label, weight, implicit)`` of one epoch, shuffled."""
        n_given = len(self.given[0])
        parts = [(*self.given, np.ones(n_given), np.zeros(n_given))]
        if len(self.user):
            partner = self.start[self.user] + (rng.random(len(self.user)) * self.count[self.user]).astype(np.int64)
            differ = self.value != self.value[partner]
            label = (self.value[differ] > self.value[partner][differ]).astype(float)
            parts.append((self.user[differ], self.item[differ], self.item[partner][differ], label, np.ones(differ.sum()), np.zeros(differ.sum())))
            if self.implicit_weight > 0:
                negative = rng.integers(0, self.n_items, len(self.user))
                keys = self.user * self.n_items + negative
                found = np.searchsorted(self.rated_keys, keys)
                unrated = self.rated_keys[np.minimum(found, len(self.rated_keys) - 1)] != keys
                n = unrated.sum()
                parts.append((self.user[unrated], self.item[unrated], negative[unrated], np.ones(n), np.full(n, self.implicit_weight), np.ones(n)))
        arrays = [np.concatenate(column) for column in zip(*parts)]
        shuffle = rng.permutation(len(arrays[0]))
        return tuple(a[shuffle] for a in arrays)


# ----------------------------------------------------------------------------------------
# Validation: the product's own use, a posterior from a few answers


@dataclass(frozen=True)
class ValidationUser:
    """A validation user's ratings split into a QUERY half (answers) and an EVAL half."""

    query_pairs: tuple       # Comparison answers drawn from the query half
    implicit_pairs: tuple    # query item beats an unrated item
    eval_items: np.ndarray
    eval_ratings: np.ndarray
    query_items: np.ndarray  # excluded from the catalog ranking


MIN_VALIDATION_EVIDENCE = 4
"""Ratings (or pairs) a validation user needs: a QUERY and an EVAL half of at least two each."""


def make_validation_users(data: Interactions, users: np.ndarray, n_answers: int, seed: int) -> list[ValidationUser]:
    """Split each validation user's ratings in halves and draw ``n_answers`` query pairs.

    Users with fewer than :data:`MIN_VALIDATION_EVIDENCE` ratings and pairs are left out.
    """
    rng = np.random.default_rng(seed)
    result = []
    for u in users:
        mask = data.rating_user == u
        items, values = data.rating_item[mask], data.rating_value[mask]
        given = data.pair_user == u
        if len(items) < MIN_VALIDATION_EVIDENCE and given.sum() < MIN_VALIDATION_EVIDENCE:
            continue
        if len(items) >= MIN_VALIDATION_EVIDENCE:
            half = rng.permutation(len(items))
            q, e = half[: len(items) // 2], half[len(items) // 2 :]
            qa, qb = rng.integers(0, len(q), (2, 4 * n_answers))
            keep = values[q[qa]] != values[q[qb]]
            answers = [
                Comparison(int(items[q[i]]), int(items[q[j]]), "a" if values[q[i]] > values[q[j]] else "b")
                for i, j in list(zip(qa[keep], qb[keep]))[:n_answers]
            ]
            unrated = np.setdiff1d(rng.integers(0, data.n_items, 400), items)
            implicit = [Comparison(int(items[q[i % len(q)]]), int(unrated[i]), "a") for i in range(min(n_answers, len(unrated)))]
            result.append(ValidationUser(tuple(answers), tuple(implicit), items[e], values[e], items[q]))
        else:
            a, b, y = data.pair_a[given], data.pair_b[given], data.pair_label[given]
            half = rng.permutation(len(a))
            q, e = half[: len(a) // 2][:n_answers], half[len(a) // 2 :]
            answers = [Comparison(int(a[i]), int(b[i]), {1.0: "a", 0.0: "b", 0.5: "tie"}[float(y[i])]) for i in q]
            # Eval pairs as pseudo-ratings: each evaluated pair is scored on its own.
            result.append(ValidationUser(tuple(answers), (), np.column_stack([a[e], b[e]]), y[e], np.empty(0, np.int64)))
    return result


def _pair_accuracy(features: np.ndarray, coef: np.ndarray, user: ValidationUser) -> float:
    """Share of the user's decided EVAL pairs whose winner scores higher."""
    margin = (features[user.eval_items[:, 0]] - features[user.eval_items[:, 1]]) @ coef
    decided = user.eval_ratings != 0.5
    return float(((margin[decided] > 0) == (user.eval_ratings[decided] > 0.5)).mean()) if decided.any() else np.nan


def _watch_recall(features: np.ndarray, coef: np.ndarray, user: ValidationUser, k: int = 20) -> float:
    """Recall@k of the user's EVAL items when ranking the catalog without the QUERY items."""
    return recall_at_k(top_k(features @ coef, k, exclude=user.query_items), user.eval_items, k)


def validation_parts(features: np.ndarray, prior_mean: np.ndarray, prior_cov: np.ndarray, users: list[ValidationUser],
                     exposure: np.ndarray | None = None, watch_cov: np.ndarray | None = None) -> dict[str, float]:
    """Held-out ranking quality with no answers (cold start) and after the query answers.

    Each user's answers give a Laplace posterior (the product's own estimator). ``prefer``:
    pairwise accuracy of the EVAL ratings (or, for pair data, of the EVAL pairs) under the prior
    mean and after the explicit answers. ``watch`` (rating data only, else nan): Recall@20 of
    EVAL items when ranking the catalog without the QUERY items, under the watch prior
    (mean shifted by ``exposure``, covariance ``watch_cov``, default ``prior_cov``) and after
    the implicit answers. Each is the mean of two numbers per user.
    """
    watch_mean = prior_mean if exposure is None else prior_mean + exposure
    watch_cov = prior_cov if watch_cov is None else watch_cov
    prefer, watch = [], []
    for user in users:
        answered = laplace_posterior(prior_mean, prior_cov, features, list(user.query_pairs)).mean
        if user.eval_items.ndim == 2:
            prefer += [_pair_accuracy(features, coef, user) for coef in (prior_mean, answered)]
            continue
        watched = laplace_posterior(watch_mean, watch_cov, features, list(user.implicit_pairs)).mean
        prefer += [pairwise_accuracy(features[user.eval_items] @ coef, user.eval_ratings) for coef in (prior_mean, answered)]
        watch += [_watch_recall(features, coef, user) for coef in (watch_mean, watched)]
    return {"prefer": float(np.nanmean(prefer)), "watch": float(np.nanmean(watch)) if watch else float("nan")}


def validation_score(features: np.ndarray, prior_mean: np.ndarray, prior_cov: np.ndarray, users: list[ValidationUser],
                     exposure: np.ndarray | None = None) -> float:
    """The mean of the :func:`validation_parts` a data set has: what fitting and selection maximise."""
    return float(np.nanmean(list(validation_parts(features, prior_mean, prior_cov, users, exposure).values())))


# ----------------------------------------------------------------------------------------
# Fitting


def population_prior(coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Population prior N(mean, Ledoit-Wolf shrunk covariance) of the training users' coefs."""
    return coef.mean(0), ledoit_wolf(coef)


def fit(
    data: Interactions,
    embeddings: np.ndarray,
    population: np.ndarray,
    train_users: np.ndarray,
    validation_users: list[ValidationUser],
    hyper: Hyperparameters,
    seed: int = 0,
    max_epochs: int = 30,
    patience: int = 3,
    steps_per_epoch: int = 50,
    learning_rate: float = 0.01,
) -> FitResult:
    """Fit features and the training users' coefficients; keep the best validation epoch.

    Parameters
    ----------
    data : all users' evidence; only ``train_users`` rows are used for fitting
    embeddings : (n_items, d) frozen sentence embeddings
    population : (n_items, P) fixed population coordinates (P may be 0)
    train_users : user indices to fit
    validation_users : held-out users scored by :func:`validation_score` after every epoch
    steps_per_epoch : minibatches per epoch; the batch size follows from the number of pairs
    """
    threads = torch.get_num_threads()
    # The steps are small dense products: handing them to a thread pool costs more than it
    # saves (4x slower with two threads on a busy 2-core machine), so fit single-threaded.
    torch.set_num_threads(1)
    try:
        return _fit(data, embeddings, population, train_users, validation_users, hyper, seed, max_epochs, patience, steps_per_epoch, learning_rate)
    finally:
        torch.set_num_threads(threads)


def _fit(data, embeddings, population, train_users, validation_users, hyper, seed, max_epochs, patience, steps_per_epoch, learning_rate) -> FitResult:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = data.subset(train_users)
    k, n_pop = hyper.n_bases, population.shape[1]

    # Truncated-SVD start on ratings (or on +-1 pair outcomes when there are no ratings).
    if train.has_ratings:
        su, si, sv = train.rating_user, train.rating_item, train.rating_value
    else:
        signed = 2 * train.pair_label - 1
        su = np.concatenate([train.pair_user, train.pair_user])
        si = np.concatenate([train.pair_a, train.pair_b])
        sv = np.concatenate([signed, -signed])
    user_start, item_start = svd_start(su, si, sv, data.n_users, data.n_items, k, seed)
    k = user_start.shape[1]
    seen = np.bincount(np.concatenate([si]), minlength=data.n_items) > 0
    e = embeddings.astype(np.float64)
    # Ridge map from embeddings to the SVD item factors of seen items: W = (E'E + I)^-1 E'V.
    gram = e[seen].T @ e[seen] + np.eye(e.shape[1])
    w_start = np.linalg.solve(gram, e[seen].T @ item_start[seen])
    r_start = np.where(seen[:, None], item_start - e @ w_start, 0.0)

    emb_t = torch.as_tensor(e, dtype=torch.float32)
    pop_t = torch.as_tensor(population, dtype=torch.float32)
    seen_t = torch.as_tensor(seen[:, None], dtype=torch.float32)
    weight = torch.nn.Parameter(torch.as_tensor(w_start, dtype=torch.float32))
    residual = torch.nn.Parameter(torch.as_tensor(r_start, dtype=torch.float32))
    coef_start = np.zeros((data.n_users, k + n_pop))
    coef_start[:, :k] = user_start
    coef = torch.nn.Parameter(torch.as_tensor(coef_start, dtype=torch.float32))
    exposure = torch.nn.Parameter(torch.zeros(k + n_pop))
    optimizer = torch.optim.Adam([weight, residual, coef, exposure], lr=learning_rate)
    sampler = PairSampler(train, hyper.implicit_weight)

    def feature_table() -> torch.Tensor:
        """phi of every catalog item, (n_items, n_bases): one matmul per step, then gathers."""
        return torch.cat([emb_t @ weight + residual * seen_t, pop_t], dim=1)

    def all_features() -> np.ndarray:
        with torch.no_grad():
            return feature_table().double().numpy()

    def snapshot() -> tuple[np.ndarray, ...]:
        return tuple(p.detach().double().numpy().copy() for p in (coef, weight, exposure))

    def score(features: np.ndarray) -> float:
        mean, cov = population_prior(coef.detach().double().numpy()[train_users])
        return validation_score(features, mean, cov, validation_users, exposure.detach().double().numpy())

    best = (score(all_features()), 0, all_features(), snapshot())
    history = [{"epoch": 0, "validation": best[0]}]
    stale = 0
    for epoch in range(1, max_epochs + 1):
        started = time.perf_counter()
        user, a, b, label, w, implicit = (torch.as_tensor(x) for x in sampler.sample(rng))
        label, w, implicit = label.float(), w.float(), implicit.float()
        n = len(user)
        batch_size = max(256, -(-n // steps_per_epoch))
        total = 0.0
        for lo in range(0, n, batch_size):
            sl = slice(lo, lo + batch_size)
            ub, ab, bb = user[sl], a[sl], b[sl]
            table = feature_table()
            # Implicit pairs ("watched over not watched") add the shared exposure offset.
            user_coef = coef[ub] + implicit[sl, None] * exposure
            margins = (user_coef * (table[ab] - table[bb])).sum(1)
            loss = pairwise_logistic_loss(margins, label[sl], w[sl])
            penalty = (coef[ub] ** 2).sum(1).mean() + ((residual[ab] ** 2).sum(1) + (residual[bb] ** 2).sum(1)).mean()
            penalty = penalty + (weight**2).sum() * len(ub) / n
            objective = loss + hyper.l2 * penalty
            optimizer.zero_grad()
            objective.backward()
            optimizer.step()
            total += loss.item() * len(ub)
        features = all_features()
        current = score(features)
        history.append({"epoch": epoch, "loss": total / n, "validation": current, "seconds": time.perf_counter() - started})
        log.info("epoch %d: loss %.4f, validation %.4f", epoch, total / n, current)
        if current > best[0]:
            best = (current, epoch, features, snapshot())
            stale = 0
        else:
            stale += 1
            if stale >= patience:
                break
    validation, epoch, features, (coef_np, weight_np, exposure_np) = best
    return FitResult(features, coef_np, exposure_np, weight_np, epoch, validation, history)
