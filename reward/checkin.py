"""Returning users' check-in, chosen at build on validation users' dated ratings.

:mod:`~prefchat.elicitation.checkin` has the check-in and its choices; here the build simulates
returning validation users (:func:`~prefchat.elicitation.checkin.returning_tasks`: onboarded from
the earliest half of their ratings with the served question policy and :data:`ONBOARDING_ANSWERS`
answers, back with the check-in's questions answered from the next quarter, judged on the latest
quarter) and ranks the catalog as the pack serves it at the moment of the return
(:meth:`~prefchat.reward.scoring.Scorer.served_scores`, the item trend at ``as_of``):

- the **retention** is the one of :data:`~prefchat.elicitation.checkin.RETENTIONS` whose check-in
  ranks the latest quarter best (:func:`~prefchat.elicitation.checkin.choose_retention`);
- the **timescale** is the time after onboarding from which that check-in beats the old profile
  unchanged (:func:`~prefchat.elicitation.checkin.choose_timescale`).

The summary's weight is left out of these rankings (``summary=None``); the served rankings add it only
where the pack's validated ``watch_beta`` is not 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from ..elicitation.checkin import (
    RETENTIONS,
    CheckIn,
    ReturningTask,
    checkin_policy,
    choose_retention,
    choose_timescale,
    personal_familiarity,
    returning_evidence,
    returning_tasks,
    run_checkin,
)
from ..elicitation.evaluate import benchmark_policy
from ..elicitation.onboarding import known_items, run_session
from ..elicitation.respondents import head_items
from .pack import Pack
from .scoring import Scorer, Taste
from .serving import SERVED_POOL_SIZE

__all__ = ["ONBOARDING_ANSWERS", "ReturningRecalls", "choose_checkin", "returning_recalls"]

ONBOARDING_ANSWERS = 10
"""The served stop rule's most questions: how a simulated user first onboards."""

ReturningRecalls = dict[str, np.ndarray]


def returning_recalls(pack: Pack, tasks: Sequence[ReturningTask], retentions: Sequence[float] = RETENTIONS,
                      seed_of=None) -> ReturningRecalls:
    """Recall@20 of each task's latest quarter: ``"old"`` (the old profile at the return), ``"fresh"`` (a
    new onboarding of the check-in's length from the recent quarter) and one ``"checkin a"`` per retention,
    and ``"widened a"`` (1 where the check-in's answers widened the profile); in memory, on the served loop.

    ``seed_of(task, name)``: each session's question seed (default the task's seed for the onboarding, one
    more for the check-in, two more for the fresh onboarding, as ``bench/returning.py`` serves them)."""
    prior = pack.serving.session_prior("watch")
    pool = pack.serving.pool(SERVED_POOL_SIZE)
    onboarding = benchmark_policy("active", pool, ONBOARDING_ANSWERS, familiarity=pack.familiarity)
    fresh = benchmark_policy("active", pool, 3, familiarity=pack.familiarity)
    scorer, features = Scorer(pack), pack.features
    offsets = {"onboarding": 0, "checkin": 1, "fresh": 2}
    seed_of = (lambda task, name: task.seed + offsets[name]) if seed_of is None else seed_of
    out: dict[str, list[float]] = {}

    def judge(name: str, task: ReturningTask, taste: Taste) -> None:
        out.setdefault(name, []).append(task.targets(scorer.served_scores(taste))["recall@20"])

    with threadpool_limits(limits=1):
        for task in tasks:
            old = run_session(features, prior, onboarding, task.early, seed_of(task, "onboarding")).posteriors[-1]
            old_known = known_items(old.answers)
            judge("old", task, Taste(old.mean, old.cov, None, "watch", old_known, old.answers, as_of=task.as_of))
            new = run_session(features, prior, fresh, task.recent, seed_of(task, "fresh")).posteriors[-1]
            judge("fresh", task, Taste(new.mean, new.cov, None, "watch", known_items(new.answers), new.answers,
                                       as_of=task.as_of))
            model = pack.known_model
            familiarity = pack.familiarity if model is None else personal_familiarity(model, old_known)
            for retention in retentions:
                check = CheckIn(old.mean, old.cov, prior.prior_mean, prior.prior_cov, retention)
                policy = checkin_policy(check, pool, familiarity=familiarity, earlier=old_known)
                session, posterior, weight = run_checkin(features, check, policy, task.recent, seed_of(task, "checkin"))
                known, earlier, social = returning_evidence(known_items(posterior.answers), old_known, weight, pack.known_model)
                judge(f"checkin {retention:g}", task, Taste(posterior.mean, posterior.cov, None, "watch", known,
                                                            posterior.answers, social, task.as_of, earlier))
                out.setdefault(f"widened {retention:g}", []).append(float(weight < 1.0))
    return {name: np.array(values) for name, values in out.items()}


def choose_checkin(pack: Pack, users: Mapping[str, tuple[np.ndarray, np.ndarray]], times: Mapping[str, np.ndarray],
                   seeds: Sequence[int]) -> tuple[dict, dict]:
    """``({"checkin_retention", "checkin_timescale"}, the manifest's record)`` on the validation ``users``
    (dated by ``times``), simulated as returning users (module docstring)."""
    tasks = returning_tasks(users, times, seeds, head_items(pack.popularity))
    recalls = returning_recalls(pack, tasks)
    retention, grid = choose_retention({r: recalls[f"checkin {r:g}"] for r in RETENTIONS})
    gains = recalls[f"checkin {retention:g}"] - recalls["old"]
    elapsed = np.array([task.elapsed for task in tasks])
    timescale, thresholds = choose_timescale(elapsed, gains)
    record = {"validation_tasks": len(tasks), "retention_grid": grid, "timescale_grid": thresholds,
              "old": float(np.mean(recalls["old"])), "fresh": float(np.mean(recalls["fresh"])),
              "widened_share": float(np.mean(recalls[f"widened {retention:g}"]))}
    return {"checkin_retention": retention, "checkin_timescale": timescale}, record
