"""Choosing a pack's confidence thresholds at build, on simulated onboardings (see
:mod:`prefchat.elicitation.confidence`).

Two populations answer the served loop (:func:`~prefchat.elicitation.onboarding.run_session`: the
pack's session prior, its question size, the served pool, groups, familiarity and stop rule):

- :data:`N_RANDOM` random answerers (:class:`~prefchat.elicitation.respondents.RandomRespondent`);
- the validation users, each answering consistently by the tastes their own answers show most:
  the descriptor of largest :math:`|t_j|` (:func:`~prefchat.elicitation.confidence.descriptor_lean`)
  of their QUERY answers, always chased or always avoided with its sign, and where it ties the
  next of another group (:class:`~prefchat.elicitation.respondents.DescriptorRespondent`).

Each session's answer fit after 0, 1, ... answers (:func:`~prefchat.elicitation.confidence.answer_fit`)
under every strength scale of :data:`SCALE_GRID`: the random sessions' fix the thresholds
(:func:`~prefchat.elicitation.confidence.choose_thresholds`), and the scale whose thresholds leave
the most consistent sessions "high" after their last answer, less the random ones, wins (the
smaller scale among equals).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from ..elicitation import question_strategy
from ..elicitation.confidence import ConfidenceThresholds, answer_fit, choose_thresholds, decided, descriptor_lean
from ..elicitation.onboarding import Policy, Session, run_session
from ..elicitation.respondents import DescriptorRespondent, RandomRespondent
from .pack import Pack
from .serving import SERVED_POOL_SIZE
from .train import ValidationUser

__all__ = ["N_RANDOM", "SCALE_GRID", "choose_confidence", "consistent_respondents"]

N_RANDOM = 300
"""Random answerers simulated per pack."""
SCALE_GRID = (1.0, 2.0, 4.0, 8.0, 16.0)
"""Strength prior sds tried: a descriptor's z-difference of 1 moves a pair's odds by e^s at one sd."""


def consistent_respondents(pack: Pack, validation: Sequence[ValidationUser]) -> list[DescriptorRespondent]:
    """Each validation user whose QUERY answers lean to some descriptor, answering by it always, and
    where it cannot tell the options apart by the descriptor of another group they lean to next."""
    index = pack.serving.descriptors
    respondents = []
    for user in validation:
        lean = descriptor_lean(index.association, user.query_pairs)
        first, *rest = np.argsort(-np.abs(lean), kind="stable")
        second = next(j for j in rest if index.group[j] != index.group[first]) if len(set(index.group)) > 1 else first
        if lean[first] != 0:
            columns = [first, second] if second != first else [first]
            respondents.append(DescriptorRespondent(index.association[:, columns], np.sign(lean[columns]).astype(int)))
    return respondents


def _fits(pack: Pack, sessions: Sequence[Session], scale: float, n_max: int) -> np.ndarray:
    """(n_sessions, n_max + 1) answer fits after 0..n_max decided answers (:func:`~prefchat.elicitation.confidence.decided`);
    nan past a session's end."""
    association = pack.serving.descriptors.association
    fits = np.full((len(sessions), n_max + 1), np.nan)
    for s, session in enumerate(sessions):
        for posterior in session.posteriors:
            fits[s, decided(posterior.answers)] = answer_fit(association, posterior.answers, scale)
    return fits


def choose_confidence(pack: Pack, validation: Sequence[ValidationUser], seed: int) -> tuple[ConfidenceThresholds, dict]:
    """The pack's :class:`~prefchat.elicitation.confidence.ConfidenceThresholds` and the table behind them.

    Returns the thresholds and ``{"n_random", "n_consistent", "grid": [{"scale", "consistent_high",
    "random_high", "random_low"}]}`` (shares after the last answer).
    """
    form = pack.serving.questions
    policy = Policy(question_strategy("active", form.size), pack.serving.pool(SERVED_POOL_SIZE), pack.groups, pack.familiarity,
                    tastes=form.tastes, knowing=form.knowing)
    prior = pack.serving.session_prior(pack.objective)
    consistent = consistent_respondents(pack, validation)
    with threadpool_limits(limits=1):  # thousands of tiny matrix products: BLAS threads only contend
        random_sessions = [run_session(pack.features, prior, policy, RandomRespondent(np.random.default_rng([seed, i])),
                                       seed + i) for i in range(N_RANDOM)]
        consistent_sessions = [run_session(pack.features, prior, policy, respondent, seed + N_RANDOM + i)
                               for i, respondent in enumerate(consistent)]
    n_max = policy.max_questions
    grid, best = [], None
    for scale in SCALE_GRID:
        random, steady = _fits(pack, random_sessions, scale, n_max), _fits(pack, consistent_sessions, scale, n_max)
        thresholds = choose_thresholds(random, scale)
        last = [np.array([thresholds.level(fits[s, n], n) for s, n in enumerate(_ends(fits))]) for fits in (random, steady)]
        row = {"scale": scale, "consistent_high": float(np.mean(last[1] == "high")) if len(last[1]) else 0.0,
               "random_high": float(np.mean(last[0] == "high")), "random_low": float(np.mean(last[0] == "low"))}
        grid.append(row)
        if best is None or row["consistent_high"] - row["random_high"] > best[0]:
            best = (row["consistent_high"] - row["random_high"], thresholds)
    assert best is not None
    return best[1], {"n_random": N_RANDOM, "n_consistent": len(consistent), "grid": grid}


def _ends(fits: np.ndarray) -> np.ndarray:
    """The number of answers each session ended with: its last fit that is not nan."""
    return (~np.isnan(fits)).sum(1) - 1
