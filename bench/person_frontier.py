"""What a list that is each person's own costs in Recall@20: the frontier of the calibrated list's settings.

Issue 27 asks, on a pack's test users after 10 answers, for lists ahead of EASE fed the same answers on
every per-person measure (genre miscalibration, popularity lift, head share, personalisation) while
Recall@20 stays within 0.01 of the served list before the change. The pack chooses its calibrated
list (:func:`~prefchat.reward.build.choose_calibration`: Steck's weight :math:`\\lambda`, the popularity
de-biasing :math:`\\mu`, the horizon) on validation users under a recall constraint. This bench asks
whether ANY of a wider grid of those settings reaches the per-person targets at a given Recall@20 cost
on the test users themselves (an oracle choice, so an upper bound on what the calibrated list can give):

- the served onboarding of each test user (the validation loop of
  :func:`~prefchat.reward.build.validation_sessions`, run on the TEST users), its served scores after
  ``--answers`` answers (:meth:`~prefchat.reward.scoring.Scorer.scores`), calibrated at every setting of
  ``WEIGHTS`` x ``DEBIAS`` (:meth:`~prefchat.reward.scoring.Scorer.calibrated`, the pack's horizon);
- per setting: mean Recall@20, the per-user means of :data:`~prefchat.elicitation.person.PERSON_MEASURES`
  and the personalisation of the lists (:mod:`~prefchat.elicitation.person`);
- per cost of ``--costs``: the best value of each measure any setting reaches whose mean Recall@20 is at
  most that much below the uncalibrated list's (:math:`\\lambda = \\mu = 0`: the same sessions' own reference,
  as the pack's selection measures a cost).

    OPENBLAS_NUM_THREADS=1 python bench/person_frontier.py --pack PACK --ratings RATINGS.csv [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from prefchat.elicitation.person import person_measures, personalisation  # noqa: E402
from prefchat.elicitation.respondents import RankingTargets  # noqa: E402
from prefchat.evaluation import load_test_users  # noqa: E402
from prefchat.reward.build import validation_sessions  # noqa: E402
from prefchat.reward.pack import load_pack  # noqa: E402
from prefchat.reward.scoring import Scorer, served_taste  # noqa: E402

WEIGHTS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
"""Steck's :math:`\\lambda` tried."""
DEBIAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
"""The popularity de-biasing :math:`\\mu` tried with each (the pack chooses among 0, 0.25 and 0.5)."""
MEASURES = ("recall@20", "miscalibration", "popularity_lift", "head_share")


def run(pack_path: str, ratings: Path, answers: int, costs: list[float], max_users: int | None) -> dict:
    pack = load_pack(pack_path)
    scorer, genres = Scorer(pack), pack.serving.descriptors.carried
    head = pack.serving.head
    sessions = validation_sessions(pack, load_test_users(ratings, pack, max_users), seed=0)
    settings = [(w, mu) for w in WEIGHTS for mu in DEBIAS]
    values = np.full((len(settings), len(MEASURES), len(sessions)), np.nan)
    tops = np.full((len(settings), len(sessions), 20), -1, dtype=np.int64)
    with threadpool_limits(limits=1):
        for column, (task, session) in enumerate(sessions):
            assert isinstance(task.targets, RankingTargets)  # the watch protocol's
            posterior = session.posteriors[min(answers, len(session.questions))]
            taste = served_taste(pack, posterior, task.as_of)
            scores = scorer.scores(taste)
            own = np.asarray(task.targets.relevant, dtype=np.int64)
            for row, (weight, debias) in enumerate(settings):
                served = scorer.calibrated(taste, scores, weight, debias)
                top = task.targets.ranked(served)[: task.targets.k]
                tops[row, column, : len(top)] = top
                values[row, 0, column] = task.targets(served)["recall@20"]
                values[row, 1:, column] = person_measures(top, own, genres, pack.popularity, head)
    means = np.nanmean(values, axis=2)
    grid = [{"weight": w, "debias": mu, **dict(zip(MEASURES, np.round(m, 4).tolist())),
             "personalisation": round(personalisation(tops[row]), 4)}
            for row, ((w, mu), m) in enumerate(zip(settings, means))]
    frontier = []
    for cost in costs:
        allowed = [row for row in grid if row["recall@20"] >= grid[0]["recall@20"] - cost]
        frontier.append({"recall_cost": cost, "settings": len(allowed),
                         **({} if not allowed else {
                             "miscalibration": min(r["miscalibration"] for r in allowed),
                             "popularity_lift": min(r["popularity_lift"] for r in allowed),
                             "head_share": min(r["head_share"] for r in allowed),
                             "personalisation": max(r["personalisation"] for r in allowed)})})
    return {"pack": str(pack_path), "n_tasks": len(sessions), "answers": answers,
            "chosen": {"weight": pack.calibration_weight, "debias": pack.calibration_popularity,
                       "horizon": pack.calibration_horizon},
            "grid": grid, "frontier": frontier}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--ratings", type=Path, required=True, help="the ratings.csv the pack was built from")
    parser.add_argument("--answers", type=int, default=10)
    parser.add_argument("--costs", default="0,0.01,0.02,0.03", help="Recall@20 costs against the uncalibrated list, comma-separated")
    parser.add_argument("--users", type=int, help="at most this many test users")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.pack, args.ratings, args.answers, [float(c) for c in args.costs.split(",")], args.users)
    print(f"{report['n_tasks']} test tasks, {report['answers']} answers; the pack serves "
          f"lambda {report['chosen']['weight']:g}, mu {report['chosen']['debias']:g}\n")
    print("lambda    mu  recall@20  miscal  lift  head  personal.")
    for row in report["grid"]:
        print(f"{row['weight']:>6.2f} {row['debias']:>5.2f}  {row['recall@20']:>9.4f}  {row['miscalibration']:>6.3f}  "
              f"{row['popularity_lift']:>4.2f}  {row['head_share']:>4.2f}  {row['personalisation']:>9.3f}")
    print("\nthe best each measure reaches at a Recall@20 cost against the uncalibrated list (any setting)")
    for row in report["frontier"]:
        if row["settings"]:
            print(f"  <= {row['recall_cost']:.3f} ({row['settings']:>2} settings): miscalibration {row['miscalibration']:.3f}, "
                  f"lift {row['popularity_lift']:.2f}, head share {row['head_share']:.2f}, personalisation {row['personalisation']:.3f}")
        else:
            print(f"  <= {row['recall_cost']:.3f}: no setting")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
