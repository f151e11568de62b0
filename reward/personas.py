r"""The personas' settings of a "watch" pack, chosen on validation users (:mod:`~prefchat.elicitation.personas`).

A setting is :math:`P_\max` (:data:`PERSONA_MAX_GRID`), the directions :math:`d` the split reads
(:data:`PERSONA_DIMENSIONS_GRID`), the split's penalty weight :math:`w` (:data:`PERSONA_PENALTY_GRID`)
and the attention's temperature :math:`T` (:data:`PERSONA_TEMPERATURE_GRID`).
Each serves the validation users' lists as the app does (:meth:`~prefchat.reward.scoring.Scorer.served_scores`,
the calibrated list giving each taste its share) after the most answers a served session asks
(:data:`~prefchat.reward.build.VALIDATION_SESSION_ANSWERS`), twice:

- to the validation users one by one (:func:`~prefchat.reward.build.validation_sessions`): Recall@20,
  and whether the user keeps one persona;
- to validation accounts of two users, a random member answering each question
  (:func:`merged_validation_sessions`, as ``prefchat eval --merged-accounts``): the weaker member's
  Recall@20 and whether both members get a hit.

A setting is allowed when the single users lose at most :data:`PERSONA_RECALL_TOLERANCE` of mean
Recall@20 against one persona, and at least :data:`SINGLE_KEPT` of them keep one persona (one
person stays one), and when it serves the accounts' weaker member better than one persona does
beyond chance: the low end of the 95% interval of its paired gain over the accounts is above 0
(:func:`choose_setting`). Among those, the one whose shared accounts serve their weaker member best
(mean weaker Recall@20, then the both-hit rate), the simpler among equals: fewer personas, a
larger penalty, fewer directions, a larger temperature. :math:`P_\max = 1` is always allowed: a pack whose
validation users show no second taste keeps today's single taste, and so does one whose split's gain
the validation accounts cannot tell from noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from threadpoolctl import threadpool_limits

from ..elicitation.evaluate import Task, benchmark_policy, mean_ci, shared_account_tasks, task_seed
from ..elicitation.metrics import recall_floor
from ..elicitation.onboarding import Session, run_session
from ..elicitation.personas import PersonaSettings
from .pack import Pack
from .scoring import Scorer, Taste, served_taste
from .serving import SERVED_POOL_SIZE

__all__ = ["PERSONA_DIMENSIONS_GRID", "PERSONA_MAX_GRID", "PERSONA_PENALTY_GRID", "PERSONA_RECALL_TOLERANCE", "PERSONA_TEMPERATURE_GRID",
           "SINGLE_KEPT", "choose_personas", "choose_setting", "merged_validation_sessions"]

PERSONA_MAX_GRID = (1, 2, 3)
"""The most personas a user may be split into, tried (1: today's single taste)."""
PERSONA_PENALTY_GRID = (1.0, 1.5, 2.0, 3.0)
"""The split's penalty weights :math:`w` tried."""
PERSONA_DIMENSIONS_GRID = (4, 16)
"""The directions :math:`d` a split reads, tried (at most the model's bases)."""
PERSONA_TEMPERATURE_GRID = (0.0, 0.5, 1.0)
"""The attention's temperatures :math:`T` tried."""
PERSONA_RECALL_TOLERANCE = 0.03
"""The share of single users' mean validation Recall@20 a setting may cost against one persona
(:func:`~prefchat.elicitation.metrics.recall_floor`)."""
SINGLE_KEPT = 0.8
"""The least share of single validation users who must keep one persona: one person stays one."""


def merged_validation_sessions(pack: Pack, users: dict[str, tuple[np.ndarray, np.ndarray]], seed: int, strategy: str,
                               n_questions: int, seeds: int, times: dict[str, np.ndarray] | None = None,
                               ) -> list[tuple[Task, Session]]:
    """Served onboarding sessions of validation accounts of two users (:func:`~prefchat.elicitation.evaluate.shared_account_tasks`,
    contemporaries served at their moment where ``times`` date the ratings),
    ``strategy`` over the served pool weighed by the pack's familiarity (with its taste slot where it serves one),
    ``n_questions`` each, as
    :func:`~prefchat.reward.build.validation_sessions` runs them for single users."""
    tasks = shared_account_tasks(users, range(seed, seed + seeds), pack.popularity, times=times)
    prior = pack.serving.session_prior("watch")
    policy = benchmark_policy(strategy, pack.serving.pool(SERVED_POOL_SIZE), n_questions, familiarity=pack.familiarity,
                              form=pack.serving.questions)
    with threadpool_limits(limits=1):
        return [(task, run_session(pack.features, prior, policy, task.respondent, task_seed(task, strategy))) for task in tasks]


def _settings(n_bases: int) -> list[PersonaSettings]:
    dimensions = sorted({min(d, n_bases) for d in PERSONA_DIMENSIONS_GRID})
    return [PersonaSettings()] + [PersonaSettings(p, w, t, d) for p in PERSONA_MAX_GRID if p > 1 for d in dimensions
                                  for w in PERSONA_PENALTY_GRID for t in PERSONA_TEMPERATURE_GRID]


def choose_personas(pack: Pack, sessions: Sequence[tuple[Task, Session]], merged: Sequence[tuple[Task, Session]],
                    answers: int) -> tuple[PersonaSettings, dict]:
    """The personas' settings (module docstring), from the single users' ``sessions`` and the accounts'
    ``merged`` ones, each read after ``answers`` clicks. ``pack`` has its known-items model.

    Returns the settings and ``{"grid": [{"max_personas", "penalty", "temperature", "dimensions", "recall@20", "kept_one",
    "weaker_recall@20", "both_hit@20", "allowed"}], "recall_tolerance", "single_kept"}``.
    """
    model = pack.known_model
    if model is None:
        raise ValueError(f"pack {pack.name!r} has no known-items model: personas split its known items")
    settings = _settings(model.n_bases)
    def ended(task: Task, session: Session) -> tuple[Task, Taste]:
        return task, served_taste(pack, session.posteriors[min(answers, len(session.questions))], task.as_of)

    singles = [ended(task, session) for task, session in sessions]
    accounts = [ended(task, session) for task, session in merged]
    values = np.full((len(settings), 3), np.nan)
    weaker = np.full((len(settings), len(accounts)), np.nan)  # each account's weaker member's Recall@20
    cache: dict[tuple, dict[str, float]] = {}  # (which list, task, its personas, T): a setting that splits alike ranks alike
    with threadpool_limits(limits=1):
        for row, setting in enumerate(settings):
            scorer = Scorer(replace(pack, known=replace(model, personas=setting)))
            results = []
            for kind, tasks in (("single", singles), ("merged", accounts)):
                rows = []
                for t, (task, taste) in enumerate(tasks):
                    groups = scorer.pack.known_model.split(taste.known).groups  # type: ignore[union-attr]
                    key = (kind, t, groups, setting.temperature if len(groups) > 1 else None)
                    if key not in cache:
                        cache[key] = task.targets(scorer.served_scores(taste)) | {"kept": float(len(groups) == 1)}
                    rows.append(cache[key])
                results.append(rows)
            single, account = results
            values[row] = (np.mean([r["recall@20"] for r in single]), np.mean([r["kept"] for r in single]),
                           np.mean([r["both_hit@20"] for r in account]) if account else np.nan)
            weaker[row] = [r["weaker_recall@20"] for r in account]
    plain = values[0, 0]
    grid = [{**s.to_dict(), "recall@20": float(r), "kept_one": float(k),
             "weaker_recall@20": float(np.nan_to_num(w.mean())) if w.size else 0.0, "both_hit@20": float(np.nan_to_num(b)),
             "allowed": bool(r >= recall_floor(plain, PERSONA_RECALL_TOLERANCE) and k >= SINGLE_KEPT)}
            for s, (r, k, b), w in zip(settings, values, weaker)]
    best = choose_setting(grid, weaker)
    return settings[best], {"grid": grid, "recall_tolerance": PERSONA_RECALL_TOLERANCE, "single_kept": SINGLE_KEPT,
                            "answers": answers}


def choose_setting(grid: Sequence[dict], weaker: np.ndarray) -> int:
    r"""The row of ``grid`` chosen (module docstring); row 0 is one persona, always a candidate.

    ``grid``: each setting's ``allowed`` (the single users' constraints), ``weaker_recall@20``, ``both_hit@20`` and its
    settings' fields. ``weaker``: (n_settings, n_accounts), each validation account's weaker member's Recall@20. A setting
    :math:`s` other than row 0 is a candidate when allowed and when its paired gain :math:`g_a = w_{sa} - w_{0a}` over the
    accounts :math:`a` has :math:`\bar g - z_{0.975}\, \mathrm{sd}(g) / \sqrt{n} > 0`
    (:func:`~prefchat.elicitation.evaluate.mean_ci`); its ``weaker_gain_low`` is written into its row.
    """
    for n, row in enumerate(grid):
        row["weaker_gain_low"] = float(np.nan_to_num(mean_ci(weaker[n] - weaker[0])[1])) if n else 0.0
    candidates = [0] + [n for n in range(1, len(grid)) if grid[n]["allowed"] and grid[n]["weaker_gain_low"] > 0]
    return max(candidates, key=lambda n: (grid[n]["weaker_recall@20"], grid[n]["both_hit@20"], -grid[n]["max_personas"],
                                          grid[n]["penalty"], -grid[n]["dimensions"], grid[n]["temperature"]))
