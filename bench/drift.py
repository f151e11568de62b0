"""Does forgetting help predict a person's future? The drifting posterior against today's timeless one.

On the time split of ``prefchat eval --split time`` (each test user's earlier half known, the later
half held out), a user's whole known half is given to the pack's known-items model
(:mod:`prefchat.elicitation.known`, the served "watch" ranking) as dated evidence, and the catalog
is ranked at the moment the known half ends:

- **timeless**: today's conjugate posterior, every known item weighing the same (rate 0);
- **drift**: the mean-reverting random walk of :mod:`prefchat.elicitation.drift`, an item losing
  weight with its age, its rate chosen by :func:`~prefchat.elicitation.drift.choose_rate` on the
  pack's VALIDATION users (same split), never on test users.

Recall@20 of the held-out later half, and drift - timeless paired per user (95% CI). This is the
ceiling the served sessions would reach with the whole known half; nothing here is served. Run::

    python bench/drift.py --pack /work/packs/ml --ratings /work/packs/ml-input/ratings.csv --json drift.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from prefchat import evaluation
from prefchat.elicitation.drift import Drift, choose_rate
from prefchat.elicitation.evaluate import Task, mean_ci, per_user, rating_tasks
from prefchat.elicitation.metrics import recall_at_k, top_k
from prefchat.elicitation.respondents import RankingTargets, RatingsRespondent
from prefchat.reward.pack import Pack, load_pack

K = 20


def dated_tasks(tasks: list[Task], times: dict[str, np.ndarray],
                users: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray, float, np.ndarray]]:
    """(known items, their dates, as_of, held-out items) of each task."""
    rows = []
    for task in tasks:
        assert isinstance(task.respondent, RatingsRespondent) and isinstance(task.targets, RankingTargets)
        assert task.as_of is not None
        date_of = dict(zip(users[task.user_id][0].tolist(), times[task.user_id].tolist()))
        known = task.respondent.query_items
        rows.append((known, np.array([date_of[item] for item in known.tolist()]), task.as_of, task.targets.relevant))
    return rows


def recalls(pack: Pack, rate: float, rows) -> np.ndarray:
    """Recall@20 of each row's held-out items, the catalog ranked by the drifting posterior at ``as_of``."""
    known_model = pack.known_model
    assert known_model is not None
    drift = Drift(known_model.prior_mean, known_model.prior_cov, known_model.tau * known_model.within, rate)
    emission, features = known_model.emission.astype(float), known_model.features.astype(float)
    out = []
    for known, dates, as_of, held_out in rows:
        mean, _ = drift.posterior(emission[known], dates, as_of)
        out.append(recall_at_k(top_k(features @ mean, K, exclude=known), held_out, K))
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, required=True)
    parser.add_argument("--ratings", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    start = time.perf_counter()
    pack = load_pack(options.pack)
    known_model = pack.known_model
    if known_model is None:
        raise SystemExit(f"pack {pack.name!r} has no known-items model: drift is measured on packs of known items")
    with threadpool_limits(limits=1):
        _, train_times, _ = evaluation.training_data(pack, options.ratings, split="time")
        train_times = evaluation.require_times(train_times, options.ratings, "bench/drift.py")
        span = float(np.ptp(np.concatenate(list(train_times.values()))))
        validation, validation_times = evaluation.load_dated_users(options.ratings, pack, pack.split.get("validation", ()))
        validation_times = evaluation.require_times(validation_times, options.ratings, "bench/drift.py")
        validation_rows = dated_tasks(rating_tasks(validation, "watch", [0], pack.popularity, split="time",
                                                   times=validation_times), validation_times, validation)
        rate, table = choose_rate(known_model.emission.astype(float), known_model.features.astype(float),
                                  known_model.prior_mean, known_model.prior_cov, known_model.tau * known_model.within,
                                  span, validation_rows, K)
        users, times = evaluation.load_dated_test_users(options.ratings, pack, options.users)
        times = evaluation.require_times(times, options.ratings, "bench/drift.py")
        tasks = rating_tasks(users, "watch", range(options.seeds), pack.popularity, split="time", times=times)
        rows = dated_tasks(tasks, times, users)
        ids = np.array([task.user_id for task in tasks], dtype=object)
        timeless, drifting = (per_user(recalls(pack, r, rows), ids) for r in (0.0, rate))
    report = {
        "pack": str(options.pack), "split": "time", "seeds": options.seeds, "n_test_users": int(timeless.size),
        "rate": rate, "timescale_days": None if rate == 0 else 1.0 / rate / 86400.0, "span": span,
        "validation_users": len(validation_rows), "selection": table,
        "recall@20": {name: mean_ci(values) for name, values in (("timeless", timeless), ("drift", drifting))},
        "drift_minus_timeless": mean_ci(drifting - timeless), "seconds": round(time.perf_counter() - start, 1),
    }
    print(f"rate chosen on {len(validation_rows)} validation users: {rate:.3g} per unit "
          f"(timescale {report['timescale_days'] or float('inf'):.0f} days if the timestamps are seconds)")
    for row in table:
        print(f"  rate {row['rate']:.3g}: validation recall@20 {row['recall@20']:.4f}")
    for name, (mean, lo, hi) in report["recall@20"].items():
        print(f"test recall@20 {name:<9} {mean:.4f} [{lo:.4f}, {hi:.4f}] ({timeless.size} users x {options.seeds} seeds)")
    mean, lo, hi = report["drift_minus_timeless"]
    print(f"drift - timeless, paired: {mean:+.4f} [{lo:+.4f}, {hi:+.4f}]")
    if options.json:
        options.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
