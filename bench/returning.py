"""Returning users on the served path: the check-in against the old profile unchanged and a fresh three-question onboarding.

Each test user's dated ratings are split in time (:func:`~prefchat.elicitation.checkin.returning_tasks`:
the earliest half, the next quarter, the latest quarter; ties at random by the seed). Through the public
Python API (:class:`~prefchat.api.Assistant`, a temporary SQLite store), under each seed:

- the user **onboards** with 10 pairs of the served strategy, answered from the earliest half, the
  assistant's clock at the last of those ratings;
- at the **return** (the clock at the last rating of the next quarter), three rankings of the catalog:
  **old**, the stored profile unchanged (:meth:`~prefchat.api.Assistant.recommend`); **checkin**,
  after :meth:`~prefchat.api.Assistant.check_in`'s three questions answered from the next quarter;
  **fresh**, a new user's three-question onboarding answered from the same quarter.

Recall@20 of the latest quarter (the catalog without the earlier three quarters' items), per user
averaged over seeds, and checkin - old, checkin - fresh paired per user with 95% CIs
(:func:`~prefchat.elicitation.evaluate.mean_ci`), over all test users and over those the pack's
timescale would greet with a check-in. The retention is the pack's (chosen at build); ``--retention``
overrides it to measure another. Run::

    python bench/returning.py --pack /work/packs/return25-ml --ratings /work/packs/ml-input/ratings.csv --json returning.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np

from prefchat import evaluation
from prefchat.api import Assistant
from prefchat.assistant.turns import QuestionTurn, SessionOptions
from prefchat.elicitation.checkin import CHECKIN_QUESTIONS, ReturningTask, returning_tasks
from prefchat.elicitation.evaluate import mean_ci, per_user
from prefchat.elicitation.respondents import RatingsRespondent, head_items
from prefchat.elicitation.selection import Question
from prefchat.reward.checkin import ONBOARDING_ANSWERS
from prefchat.reward.pack import Pack, load_pack
from prefchat.settings import Settings

ARMS = ("old", "checkin", "fresh")


def _answer(app: Assistant, turn, respondent: RatingsRespondent) -> None:
    while isinstance(turn, QuestionTurn):
        response = respondent.answer(Question(tuple(app.pack.index_of(card.item_id) for card in turn.items)))
        turn = app.answer(turn.session_id, str(response), question_id=turn.question_id)


def _recall(app: Assistant, user: str, task: ReturningTask) -> float:
    """Recall@20 of what the app serves ``user`` now, as ``prefchat eval --through-api`` scores a served list."""
    depth = min(app.pack.n_items, task.targets.k + len(task.targets.exclude))
    scores = np.full(app.pack.n_items, -np.inf)
    served = app.recommend(user, k=depth)
    scores[[pick.index for pick in served]] = [pick.score for pick in served]
    return float(task.targets(scores)["recall@20"])


def served_returns(pack: Pack, tasks: list[ReturningTask], settings: Settings) -> dict[str, np.ndarray]:
    """(n_tasks,) Recall@20 of each arm of the module docstring, and ``"widened"`` (1 where the check-in widened)."""
    options = SessionOptions(min_questions=ONBOARDING_ANSWERS, max_questions=ONBOARDING_ANSWERS, strategy="active",
                             objective="watch", n_recommendations=1, question_size=2)  # pairs, as the check-in asks
    fresh = dataclasses.replace(options, min_questions=CHECKIN_QUESTIONS, max_questions=CHECKIN_QUESTIONS)
    out: dict[str, list[float]] = {name: [] for name in (*ARMS, "widened")}
    with tempfile.TemporaryDirectory() as home, \
            Assistant.open(pack, db=f"sqlite:///{home}/returning.sqlite", settings=settings) as app:
        for task in tasks:
            user = f"back-{task.seed}-{task.user_id}"
            app.clock = partial(datetime.fromtimestamp, task.onboarded_at, UTC)
            _answer(app, app.start(user, options=options, seed=task.seed), task.early)
            app.clock = partial(datetime.fromtimestamp, task.as_of, UTC)
            out["old"].append(_recall(app, user, task))
            _answer(app, app.check_in(user, seed=task.seed + 1), task.recent)
            out["checkin"].append(_recall(app, user, task))
            state = app.state(app.latest_session(user).id)  # type: ignore[union-attr]
            assert state.checkin is not None
            out["widened"].append(float(state.checkin.contradicted(app.features, state.answers)))
            newcomer = f"new-{task.seed}-{task.user_id}"
            _answer(app, app.start(newcomer, options=fresh, seed=task.seed + 2), task.recent)
            out["fresh"].append(_recall(app, newcomer, task))
    return {name: np.array(values) for name, values in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, required=True)
    parser.add_argument("--ratings", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--retention", type=float, default=None, help="override the pack's retention")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    start = time.perf_counter()
    pack = load_pack(options.pack)
    if options.retention is not None:
        hyper = {**pack.hyperparameters, "checkin_retention": options.retention}
        pack = dataclasses.replace(pack, manifest={**pack.manifest, "hyperparameters": hyper})
    users, times = evaluation.load_dated_test_users(options.ratings, pack, options.users)
    times = evaluation.require_times(times, options.ratings, "bench/returning.py")
    tasks = returning_tasks(users, times, range(options.seeds), head_items(pack.popularity))
    values = served_returns(pack, tasks, Settings.from_env())
    ids = np.array([task.user_id for task in tasks], dtype=object)
    elapsed = per_user(np.array([task.elapsed for task in tasks]), ids)
    timescale = pack.checkin_timescale
    greeted = np.zeros(elapsed.size, dtype=bool) if timescale is None else elapsed >= timescale
    report: dict = {"pack": str(options.pack), "seeds": options.seeds, "retention": pack.checkin_retention,
                    "timescale_days": None if timescale is None else timescale / 86400.0,
                    "n_test_users": int(elapsed.size), "n_greeted": int(greeted.sum()),
                    "widened_share": float(values["widened"].mean()), "recall@20": {}, "paired": {}}
    arms = {name: per_user(values[name], ids) for name in ARMS}
    for group, rows in (("all", np.ones(elapsed.size, dtype=bool)), ("greeted", greeted)):
        if not rows.any():
            continue
        report["recall@20"][group] = {name: mean_ci(v[rows]) for name, v in arms.items()}
        report["paired"][group] = {f"checkin_minus_{other}": mean_ci((arms["checkin"] - arms[other])[rows])
                                   for other in ("old", "fresh")}
        print(f"{group} ({int(rows.sum())} test users x {options.seeds} seeds, retention {pack.checkin_retention:g}):")
        for name, (mean, lo, hi) in report["recall@20"][group].items():
            print(f"  recall@20 {name:<8} {mean:.4f} [{lo:.4f}, {hi:.4f}]")
        for name, (mean, lo, hi) in report["paired"][group].items():
            print(f"  {name}: {mean:+.4f} [{lo:+.4f}, {hi:+.4f}]")
    print(f"check-ins that widened the profile: {report['widened_share']:.0%}")
    report["seconds"] = round(time.perf_counter() - start, 1)
    if options.json:
        options.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
