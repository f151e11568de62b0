r"""Choosing the ranking's settings on validation users: the summary's weights beta, watch_beta, watch_stated_beta.

Run when a pack is built (:func:`calibrate`, called by :func:`~prefchat.reward.build.build_pack`,
recorded in the manifest's hyperparameters and selection tables); served by
:class:`~prefchat.assistant.recommender.Recommender`, whose scores are the
:class:`~prefchat.reward.scoring.Scorer`'s this module measures: what is chosen here is chosen on
exactly what the app serves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from ..elicitation.metrics import pairwise_accuracy, pairwise_auc, recall_at_k, roc_auc, top_k
from ..elicitation.onboarding import known_items, replay
from .pack import Pack
from .scoring import Scorer, Taste, like_factor, liked_carriers, stated_exclusions
from .summary import (
    STATED_WEIGHT,
    Summary,
    descriptor_weights,
    stated_affinity,
    summary_affinity,
    with_stated,
)

if TYPE_CHECKING:
    from .train import ValidationUser

__all__ = ["BETA_MULTIPLIERS", "StatedTrial", "WeightTrial", "calibrate", "choose_beta", "choose_watch_beta",
           "held_out_recall", "served_statement", "stated_preference_fits", "strongest_stated"]

BETA_MULTIPLIERS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
"""The grid of :func:`choose_beta`, in units of the natural scale."""


def _held_out(user: ValidationUser, scores: np.ndarray) -> tuple[float, float]:
    """Pairwise accuracy and AUC of ``scores`` on a validation user's EVAL half.

    Ratings: over the unequally rated EVAL items (:func:`pairwise_accuracy`, :func:`pairwise_auc`).
    Pairs (``eval_items`` of shape (n, 2)): each pair on its own, ties left out.
    """
    if user.eval_items.ndim == 1:
        mine = scores[user.eval_items]
        return pairwise_accuracy(mine, user.eval_ratings), pairwise_auc(mine, user.eval_ratings)
    decided = user.eval_ratings != 0.5
    if not decided.any():
        return np.nan, np.nan
    margin = scores[user.eval_items[decided, 0]] - scores[user.eval_items[decided, 1]]
    won = user.eval_ratings[decided] > 0.5
    accuracy = float(np.mean(np.where(margin == 0, 0.5, (margin > 0) == won)))
    return accuracy, roc_auc(margin, won)


def choose_beta(pack: Pack, validation: Sequence[ValidationUser],
                multipliers: Sequence[float] = BETA_MULTIPLIERS) -> tuple[float, list[dict]]:
    r"""The summary weight :math:`\beta` that ranks validation users' held-out items best.

    For each validation user (:func:`prefchat.reward.train.make_validation_users`: ten explicit
    answers from a QUERY half, an EVAL half held out): the posterior the onboarding loop holds after
    them (:func:`~prefchat.elicitation.onboarding.replay` from the "prefer" session prior),
    the summary's weights (:func:`~prefchat.reward.summary.descriptor_weights`), and the "prefer" scores
    :math:`m^\top\phi + \beta s` for every :math:`\beta` of the grid

    .. math:: \beta = \mu \cdot \mathrm{median}_u \frac{\mathrm{sd}_i(m_u^\top \phi(i))}{\mathrm{sd}_i(s_u(i))},
              \qquad \mu \in \texttt{multipliers}

    (the median over users whose summary is not empty: at :math:`\mu = 1` the two terms spread
    alike). The chosen :math:`\beta` maximises mean pairwise accuracy plus mean AUC on the EVAL
    halves; among equals, the smallest.

    Parameters
    ----------
    pack : the trained pack (its items index the users' arrays)
    validation : validation users, never training or test users
    multipliers : the grid, in units of the natural scale

    Returns
    -------
    beta : float
    table : one dict per multiplier: ``multiplier``, ``beta``, ``pairwise_accuracy``, ``auc``
        (means over users), ``n_users``
    """
    if not validation:
        raise ValueError("choose_beta needs at least one validation user, got none")
    prior = pack.serving.session_prior("prefer")
    fits, ratios = [], []
    for user in validation:
        answers = list(user.query_pairs)
        posterior = replay(prior, pack.features, answers)
        summary = Summary("", descriptor_weights(pack, posterior.mean, posterior.cov, answers=answers), len(answers), 0)
        coefficients, affinity = pack.features @ posterior.mean, summary_affinity(pack, summary)
        if affinity.std() > 0:
            ratios.append(coefficients.std() / affinity.std())
        fits.append((user, coefficients, affinity))
    scale = float(np.median(ratios)) if ratios else 0.0
    table = []
    for multiplier in multipliers:
        beta = multiplier * scale
        values = np.array([_held_out(user, coefficients + beta * affinity) for user, coefficients, affinity in fits])
        table.append({"multiplier": float(multiplier), "beta": beta, "pairwise_accuracy": float(np.nanmean(values[:, 0])),
                      "auc": float(np.nanmean(values[:, 1])), "n_users": int(np.isfinite(values[:, 0]).sum())})
    best = max(table, key=lambda row: (row["pairwise_accuracy"] + row["auc"], -row["beta"]))
    return best["beta"], table


WATCH_BETA_MULTIPLIERS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
"""The grid of :func:`choose_watch_beta`, in units of its natural scale: all positive, so that what a
user states always moves their recommendations."""
STATED_MULTIPLIERS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""The grid of the stated weight, in units of its natural scale: it reaches three decades below it,
because a scale whose spread is dominated by a few items (the known-items model's log scores) makes
the natural unit far too strong."""
HONOURED = 0.9
"""Share of validation users whose statement, either way, must move their top 20 its way (:func:`_honoured`)."""
STATED_SIMULATION_ANSWERS = 10
"""Answers of a simulated user before they state a preference (the served session's length)."""


class WeightTrial(TypedDict):
    """A row of :func:`choose_watch_beta`'s table: one weight tried, and the mean Recall@20 over
    ``n_users`` validation users of the ranking it serves."""

    weight: str
    multiplier: float
    beta: float
    recall: float
    n_users: int


class StatedTrial(WeightTrial):
    """A row of a stated weight tried: also the share of statements it honours (:func:`_honoured`)."""

    honoured: float


def strongest_stated(pack: Pack, items: np.ndarray, min_items: int = 2) -> tuple[str, float] | None:
    r"""The like or dislike a user whose held-out picks are ``items`` would state: the descriptor
    they pick most above, or below, what the crowd's picks would lead one to expect.

    .. math:: \mathrm{lift}_j = \frac{o_j - e_j}{\sqrt{e_j}}, \qquad
              o_j = \sum_{i \in \text{items}} A_{ij}, \quad
              e_j = |\text{items}| \frac{\sum_i p_i A_{ij}}{\sum_i p_i}

    with :math:`p` the training users' pick counts (:attr:`~prefchat.reward.pack.Pack.popularity`)
    and :math:`A` the 0/1 descriptor matrix of a tags pack (the standardised association
    otherwise, shifted to be non-negative). ``None`` when no descriptor is carried by at least
    ``min_items`` of the items or expected there.

    On a tags pack a dislike is only said of a tag *none* of the items carries: a person who says
    "no horror please" picks no horror (and the served path then leaves horror out, see
    :func:`stated_exclusions`); one who picked 30 dramas where the crowd picks 45 watches less
    drama than most, which is no dislike.

    Returns
    -------
    (descriptor, +STATED_WEIGHT or -STATED_WEIGHT)
    """
    index = pack.serving.descriptors
    association = index.association - index.association.min(0)
    weights = np.asarray(pack.popularity, dtype=np.float64)
    share = weights @ association / max(weights.sum(), 1e-12)
    observed, expected = association[np.asarray(items)].sum(0), len(items) * share
    lift = np.divide(observed - expected, np.sqrt(expected), out=np.zeros_like(expected), where=expected > 0)
    carried = (association[np.asarray(items)] > 0).sum(0)
    lift[(carried < min_items) & (expected < min_items)] = 0.0
    if pack.descriptor_source == "tags":
        lift[(lift < 0) & (carried > 0)] = 0.0
    if not np.any(lift):
        return None
    j = int(np.argmax(np.abs(lift)))
    return pack.descriptors[j], float(np.sign(lift[j]) * STATED_WEIGHT)


def held_out_recall(scores: np.ndarray, user: ValidationUser, k: int = 20, exclude: np.ndarray | None = None) -> float:
    """Recall@k of the user's EVAL items in the catalog ranked by ``scores``, QUERY items (and
    ``exclude``, what the user's statements leave out) left out."""
    left_out = np.asarray(user.query_items) if exclude is None else np.union1d(user.query_items, exclude)
    ranked = top_k(scores, k, left_out.astype(np.intp))
    return recall_at_k(ranked, user.eval_items, k)


def stated_preference_fits(pack: Pack, users: Sequence[ValidationUser]) -> list[dict]:
    """For each user: the "watch" session posterior after their first answers, the summary the
    session writes, and that summary corrected by the preference they state (:func:`strongest_stated`
    of their EVAL half), with what the statement leaves out as served (:func:`stated_exclusions`).
    The simulation behind :func:`choose_watch_beta` and ``bench/stated_preference.py``."""
    prior, scorer = pack.serving.session_prior("watch"), Scorer(pack)
    fits = []
    for user in users:
        answers = list(user.implicit_pairs)[:STATED_SIMULATION_ANSWERS]
        posterior = replay(prior, pack.features, answers)
        summary = Summary("", descriptor_weights(pack, posterior.mean, posterior.cov, answers=answers), len(answers), 0)
        said = strongest_stated(pack, user.eval_items)
        corrected = summary if said is None else Summary("", with_stated(summary, dict([said]), pack), len(answers), 0)
        base = scorer.scores(Taste(posterior.mean, posterior.cov, None, "watch", known_items(answers)))
        stated_only = Summary("", corrected.stated, 0, 0)
        generated_only = Summary("", tuple(w for w in corrected.weights if not w.stated), 0, 0)
        fits.append({"user": user, "base": base, "generated": summary_affinity(pack, generated_only),
                     "stated": stated_affinity(pack, stated_only), "said": said,
                     "excluded": stated_exclusions(pack, stated_only), "carried": liked_carriers(pack, stated_only)})
    return fits


def served_statement(fit: dict, beta: float, stated_beta: float, k: int = 20) -> np.ndarray:
    """Scores of one simulated user's catalog after their statement, as the app serves it: the
    generated summary at ``beta``, the statement at ``stated_beta`` (a like times its
    :func:`like_factor`); what a stated dislike leaves out is ``fit["excluded"]``."""
    base = fit["base"] + beta * fit["generated"]
    if not fit["carried"].shape[1]:
        return base + stated_beta * fit["stated"]
    exclude = np.union1d(fit["user"].query_items, fit["excluded"]).astype(np.intp)
    factor = like_factor(lambda f: base + f * stated_beta * fit["stated"], fit["carried"], k, exclude)
    return base + factor * stated_beta * fit["stated"]


def choose_watch_beta(pack: Pack, validation: Sequence[ValidationUser],
                      multipliers: Sequence[float] = WATCH_BETA_MULTIPLIERS) -> tuple[dict[str, float], list[WeightTrial]]:
    r"""The summary's weights on the scale "watch" recommendations are served on: calibrated logits.

    Simulated on validation users (:func:`stated_preference_fits`): each answers
    :data:`STATED_SIMULATION_ANSWERS` questions of their QUERY half, the session writes its
    summary, and the user states their strongest like or dislike from their EVAL half. The
    catalog is ranked by :math:`\ell + \beta s_\text{gen} + \beta_\text{stated} s_\text{stated}`
    (:math:`\ell` the calibrated watch logits, :meth:`~prefchat.reward.scoring.Scorer.scores`; the summary's generated and
    stated descriptors apart), QUERY items left out, and scored by Recall@20 of the EVAL items.
    Each weight runs over its grid

    .. math:: \mu \cdot \mathrm{median}_u \frac{\mathrm{sd}_i(\ell_u(i))}{\mathrm{sd}_i(s_u(i))},
              \qquad \mu \in \{0\} \cup \texttt{multipliers}

    :math:`\beta` first (generated summary alone: 0 is allowed, it may not help), the best mean
    winning, the smallest among equals. Then :math:`\beta_\text{stated}`, whose job is different:
    what a user states must move their picks. Among the weights of :data:`STATED_MULTIPLIERS` at
    which, over users and every descriptor of the pack, at least :data:`HONOURED` of the statements,
    said as a dislike and as a like, move the top 20 their way (:func:`_honoured`), it is the one of
    best Recall@20 with the simulated statements served as the app serves them (a stated dislike on
    a tags pack leaves its items out, :func:`stated_exclusions`), the smallest among equals; the
    largest tried when none is honoured. The table records the Recall@20 of every weight tried.

    Returns
    -------
    chosen : ``{"watch_beta": ..., "watch_stated_beta": ...}``
    table : one :class:`WeightTrial` per setting tried, the first row the ranking without any
        summary (a :class:`StatedTrial` per stated weight)
    """
    fits = [f for f in stated_preference_fits(pack, [u for u in validation if u.eval_items.ndim == 1]) if f["said"]]
    if not fits:
        raise ValueError("choose_watch_beta needs validation users with ratings and a preference to state, got none")

    def scale(key: str) -> float:
        ratios = [f["base"].std() / f[key].std() for f in fits if f[key].std() > 0]
        return float(np.median(ratios)) if ratios else 0.0

    def recall(beta: float, stated_beta: float | None) -> float:
        """Mean Recall@20 with the generated summary at ``beta`` and, unless None, the statement as served."""
        if stated_beta is None:
            return float(np.nanmean([held_out_recall(f["base"] + beta * f["generated"], f["user"]) for f in fits]))
        return float(np.nanmean([held_out_recall(served_statement(f, beta, stated_beta), f["user"], exclude=f["excluded"])
                                 for f in fits]))

    table: list[WeightTrial] = [{"weight": "none", "multiplier": 0.0, "beta": 0.0, "recall": recall(0.0, None), "n_users": len(fits)}]
    generated: list[WeightTrial] = []
    for multiplier in (0.0, *multipliers):
        beta = multiplier * scale("generated")
        generated.append({"weight": "watch_beta", "multiplier": float(multiplier), "beta": beta,
                          "recall": recall(beta, None), "n_users": len(fits)})
    best = max(generated, key=lambda row: (row["recall"], -row["beta"]))["beta"]
    index = pack.serving.descriptors
    association = index.association * index.stated_unit  # what a stated weight moves, as served
    for f in fits:
        f["with_generated"] = f["base"] + best * f["generated"]
    stated: list[StatedTrial] = []
    for multiplier in STATED_MULTIPLIERS:
        beta = multiplier * scale("stated")
        stated.append({"weight": "watch_stated_beta", "multiplier": float(multiplier), "beta": beta,
                       "recall": recall(best, beta), "n_users": len(fits),
                       "honoured": float(np.mean([_honoured(f, association, beta, pack.descriptor_source == "tags")
                                                  for f in fits]))})
    honoured = [row for row in stated if row["honoured"] >= HONOURED]
    best_stated = max(honoured, key=lambda row: (row["recall"], -row["beta"]))["beta"] if honoured else stated[-1]["beta"]
    return {"watch_beta": best, "watch_stated_beta": best_stated}, table + generated + stated


def _honoured(fit: dict, association: np.ndarray, stated_beta: float, excludes: bool, k: int = 20) -> float:
    """The share of the pack's descriptors whose statement, either way, moves the user's top ``k``
    its way: a dislike at least halves the descriptor's share of the top k, a like raises it (or
    keeps a full top k full). A dislike is served as :meth:`~prefchat.assistant.recommender.Recommender.recommend` serves it: with ``excludes`` (a
    tags pack, :func:`stated_exclusions`) the items carrying the descriptor are left out as well."""
    exclude = np.asarray(fit["user"].query_items)
    base, carried = fit["with_generated"], association > 0
    honoured = []
    for j in range(association.shape[1]):
        push = stated_beta * STATED_WEIGHT * association[:, j]
        before, liked = (float(carried[top_k(scores, k, exclude), j].mean()) for scores in (base, base + push))
        disliked = 0.0 if excludes else float(carried[top_k(base - push, k, exclude), j].mean())
        honoured.append(disliked <= before / 2 and (liked > before or before == 1.0))
    return float(np.mean(honoured))


def calibrate(pack: Pack, validation: Sequence[ValidationUser]) -> tuple[dict[str, float], dict[str, Sequence[Mapping[str, object]]]]:
    """The ranking's settings for a new pack: ``({"beta", "watch_beta", "watch_stated_beta"}, {tables})``.

    ``beta`` weights the summary on the "prefer" scale (:func:`choose_beta`); on packs whose
    sessions rank the catalog by calibrated "watch" logits (rating data, with base rates),
    ``watch_beta`` weights it on that scale (:func:`choose_watch_beta`).
    :func:`~prefchat.reward.build.build_pack` records both in the pack's manifest
    (hyperparameters and selection tables).
    """
    beta, table = choose_beta(pack, validation)
    chosen: dict[str, float] = {"beta": beta}
    tables: dict[str, Sequence[Mapping[str, object]]] = {"beta": table}
    if pack.familiarity is not None and pack.descriptors:
        watch, tables["watch_beta"] = choose_watch_beta(pack, validation)
        chosen.update(watch)
    return chosen, tables
