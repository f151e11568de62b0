"""The item trend of a pack's served "watch" score, chosen at build on validation users' served sessions.

:mod:`~prefchat.elicitation.trend` has the term and the choice; here the build hands it what it is
chosen on: the training users' dated ratings, and the validation users' onboarding sessions
(:func:`~prefchat.reward.build.validation_sessions`), each posterior after
:data:`TREND_ANSWERS` answers ranking the catalog as the pack serves it without time, at the end
of that user's known part (:attr:`~prefchat.elicitation.evaluate.Task.as_of`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from ..elicitation.evaluate import Task
from ..elicitation.onboarding import Session
from ..elicitation.respondents import RankingTargets
from ..elicitation.trend import ItemTrend, TrendUser, choose_trend
from .pack import Pack

__all__ = ["TREND_ANSWERS", "choose_item_trend"]

TREND_ANSWERS = (0, 5, 10)
"""The answer counts a validation session is ranked at: no answers (the catalog as a new user
first sees it) and the served stop rule's range."""


def choose_item_trend(pack: Pack, items: np.ndarray, times: np.ndarray,
                      sessions: Sequence[tuple[Task, Session]]) -> tuple[ItemTrend, dict]:
    """The pack's :class:`~prefchat.elicitation.trend.ItemTrend`, chosen by
    :func:`~prefchat.elicitation.trend.choose_trend` on ``sessions`` (dated tasks of the watch protocol).

    Parameters
    ----------
    pack : the pack, its "watch" score final but for the trend
    items, times : (n_ratings,) the training users' rated items and the ratings' timestamps
    sessions : validation users' ``(task, session)`` pairs

    Returns
    -------
    the trend, and the manifest's record of the choice: ``{"window", "beta", "weight",
    "validation_sessions", "answers", "grid"}``
    """
    score = pack.serving.objective("watch").discounted(None)
    users = []
    with threadpool_limits(limits=1):
        for task, session in sessions:
            assert isinstance(task.targets, RankingTargets) and task.as_of is not None, "dated watch tasks only"
            for n in TREND_ANSWERS:
                posterior = session.posteriors[min(n, len(session.questions))]
                users.append(TrendUser(task.as_of, score(posterior), task.targets.exclude, task.targets.relevant))
        trend, grid = choose_trend(items, times, pack.n_items, users)
    chosen = next(row for row in grid if row["beta"] == trend.beta and
                  row["window"] == (trend.recent.window if np.isfinite(trend.recent.window) else None))
    return trend, {"window": chosen["window"], "beta": trend.beta, "weight": chosen["weight"],
                   "validation_sessions": len(sessions), "answers": list(TREND_ANSWERS), "grid": grid}
