"""What the drifting item term adds to the served "watch" ranking, paired per user on the same tasks.

On a pack with an item trend (:mod:`prefchat.elicitation.trend`, chosen at build), the served path
of ``prefchat eval --through-api`` (each task's session served at its ``as_of``) is run twice on
the same test tasks: with the pack's trend, and without it: ``--before PACK``, today's time-unaware
pack of the same test users, or by default the same pack without its trend (whose other settings,
the summary's weight among them, were chosen with the trend in place). Recall@20 of each, and
with-trend - without paired per user (95% CI), at each answer count. Run::

    python bench/item_trend.py --pack /work/packs/now25-ml --before /work/packs/ml \
        --ratings /work/packs/now25-ml-input/ratings.csv --split time
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from prefchat import evaluation
from prefchat.elicitation.evaluate import mean_ci, per_user, rating_tasks
from prefchat.reward.pack import load_pack
from prefchat.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, required=True)
    parser.add_argument("--ratings", type=Path, required=True)
    parser.add_argument("--before", type=Path, help="the time-unaware pack to pair with (default: --pack without its trend)")
    parser.add_argument("--split", choices=("random", "time"), default="time")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--answers", default="0,10")
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    pack, start = load_pack(options.pack), time.perf_counter()
    if pack.trend is None:
        raise SystemExit(f"pack {pack.name!r} has no item trend: build it from dated ratings")
    answers = [int(n) for n in options.answers.split(",")]
    users, times = evaluation.load_dated_test_users(options.ratings, pack, options.users)
    times = evaluation.require_times(times, options.ratings, "bench/item_trend.py")
    tasks = rating_tasks(users, "watch", range(options.seeds), pack.popularity, split=options.split, times=times)
    before = dataclasses.replace(pack, trend=None) if options.before is None else load_pack(options.before)
    if before.split.get("test") != pack.split.get("test"):
        raise SystemExit(f"{options.before}: its test users are not those of {options.pack}; nothing pairs")
    runs = {name: evaluation.served_evaluation(variant, tasks, ["active"], answers, 300, None, Settings.from_env())
            for name, variant in (("with_trend", pack), ("without_trend", before))}
    metric = runs["with_trend"].metrics.index("recall@20")
    ids = np.array([task.user_id for task in tasks], dtype=object)
    report: dict = {"pack": str(options.pack), "before": str(options.before or "the pack without its trend"),
                    "split": options.split, "seeds": options.seeds,
                    "trend": {"window_days": pack.trend.recent.window / 86400.0, "beta": pack.trend.beta},
                    "n_test_users": len(set(ids.tolist())), "answers": {}}
    for a, n in enumerate(answers):
        values = {name: per_user(run.values[0, a, metric], ids) for name, run in runs.items()}
        report["answers"][n] = {**{name: mean_ci(v) for name, v in values.items()},
                                "with_minus_without": mean_ci(values["with_trend"] - values["without_trend"])}
        row = report["answers"][n]
        mean, lo, hi = row["with_minus_without"]
        print(f"active@{n} ({options.split}): with trend {row['with_trend'][0]:.4f}, without {row['without_trend'][0]:.4f}, "
              f"paired {mean:+.4f} [{lo:+.4f}, {hi:+.4f}]")
    report["seconds"] = round(time.perf_counter() - start, 1)
    if options.json:
        options.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
