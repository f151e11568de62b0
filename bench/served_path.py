"""Is what prefchat serves what its benchmark measures? The served path against ``prefchat eval``.

On a pack's held-out test users (the watch protocol of :mod:`prefchat.elicitation.evaluate`:
QUERY/EVAL splits, the "would rather watch" respondent), the same tasks are run twice:

- **benchmark**: the in-memory onboarding loop (``prefchat eval``);
- **served**: every session through the public Python API, ``Assistant.start`` / ``answer`` /
  ``recommend`` on a SQLite file (``prefchat eval --through-api``), the recommendations as served.

It prints Recall@20 of both at each answer count, the paired per-user differences served minus
benchmark and served minus popularity (95% CIs), and writes them as JSON. Acceptance of the issue
"One onboarding loop": served active@10 >= benchmark active@10 - 0.005, and served active@10 beats
popularity with the paired CI above 0. Run::

    prefchat pack movielens --from ../shared/data/movielens-latest-small --out /tmp/packs/ml
    OPENBLAS_NUM_THREADS=1 python bench/served_path.py --pack /tmp/packs/ml --json served.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from prefchat import evaluation
from prefchat.assistant.recommender import ServedScore
from prefchat.cli import add_eval_arguments
from prefchat.elicitation.evaluate import evaluate, mean_ci, per_user, rating_tasks
from prefchat.reward.pack import load_pack
from prefchat.settings import Settings

METRIC = "recall@20"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=Path("/tmp/packs/ml"))
    parser.add_argument("--ratings", type=Path, help="default: the pack's converted ratings, PACK-input/ratings.csv")
    parser.add_argument("--answers", default="0,5,10")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()

    pack = load_pack(options.pack)
    ratings = options.ratings or options.pack.with_name(options.pack.name + "-input") / "ratings.csv"
    cli = argparse.ArgumentParser()
    add_eval_arguments(cli)
    argv = ["--pack", str(options.pack), "--ratings", str(ratings), "--protocol", "watch", "--answers", options.answers,
            "--strategies", "population,popularity,random,active", "--seeds", str(options.seeds), "--json", "unused"]
    args = cli.parse_args(argv + (["--users", str(options.users)] if options.users else []))
    settings = Settings.from_env()
    users = evaluation.load_test_users(ratings, pack, args.users)
    tasks = rating_tasks(users, "watch", range(args.seeds), pack.popularity)
    prior = pack.serving.session_prior("watch")
    runs, seconds = {}, {}
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        runs["benchmark"] = evaluate(
            tasks, pack.features, prior.prior_mean, prior.prior_cov, args.strategies, args.answers,
            pool=pack.serving.pool(args.pool_size), popularity=pack.popularity, familiarity=pack.familiarity,
            score=ServedScore(pack, "watch"), form=pack.serving.questions)
        seconds["benchmark"] = time.perf_counter() - start
        start = time.perf_counter()
        runs["served"] = evaluation.served_evaluation(pack, tasks, args.strategies, args.answers, args.pool_size,
                                                      pack.popularity, settings)
        seconds["served"] = time.perf_counter() - start

    def column(run: str, strategy: str) -> np.ndarray:
        ev = runs[run]
        return per_user(ev.values[ev.strategies.index(strategy), :, ev.metrics.index(METRIC)], ev.user_ids)

    rows, paired = [], []
    print(f"pack {pack.name} {pack.version}: {len(users)} test users x {args.seeds} splits, watch protocol, {METRIC}")
    print(f"{'':<22}" + "".join(f"{n:>24}" for n in args.answers))
    for run in ("benchmark", "served"):
        for strategy in ("popularity", "population", "random", "active"):
            cells = [mean_ci(values) for values in column(run, strategy)]
            rows += [{"run": run, "strategy": strategy, "answers": n, "mean": m, "ci95": [lo, hi]}
                     for n, (m, lo, hi) in zip(args.answers, cells)]
            print(f"{run + ' ' + strategy:<22}" + "".join(f"{m:>10.4f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in cells))
    for label, (run_a, a), (run_b, b) in (
        ("served active - benchmark active", ("served", "active"), ("benchmark", "active")),
        ("served random - benchmark random", ("served", "random"), ("benchmark", "random")),
        ("served active - popularity", ("served", "active"), ("benchmark", "popularity")),
        ("served active - served population", ("served", "active"), ("served", "population")),
    ):
        cells = [mean_ci(d) for d in column(run_a, a) - column(run_b, b)]
        paired += [{"difference": label, "answers": n, "mean_diff": m, "ci95": [lo, hi]}
                   for n, (m, lo, hi) in zip(args.answers, cells)]
        print(f"{label:<36}" + "".join(f"{m:>+10.4f} [{lo:+.3f}, {hi:+.3f}]" for m, lo, hi in cells))
    identical = all(np.array_equal(runs["served"].values[runs["served"].strategies.index(s)],
                                   runs["benchmark"].values[runs["benchmark"].strategies.index(s)], equal_nan=True)
                    for s in args.strategies)
    print(f"served and benchmark values identical for every task and metric: {identical}")
    print(f"seconds: benchmark {seconds['benchmark']:.1f}, served {seconds['served']:.1f}")
    if options.json:
        document = {"pack": str(options.pack), "version": pack.version, "n_test_users": len(users), "seeds": args.seeds,
                    "metric": METRIC, "rows": rows, "paired": paired, "identical": identical,
                    "seconds": {k: round(v, 1) for k, v in seconds.items()}}
        options.json.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
