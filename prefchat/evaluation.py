"""``prefchat eval``: benchmark question strategies on a pack's held-out test users.

Reads the pack and the ratings file, keeps the pack's TEST users only (never training or
validation users), runs :func:`prefchat.elicitation.evaluate.evaluate`, prints one table per
metric plus the paired differences, and writes the JSON report whose schema is documented in
:mod:`prefchat.elicitation.evaluate`. The flags are defined in :mod:`prefchat.cli`
(:func:`~prefchat.cli.add_eval_arguments`), which imports this module only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .assistant.packs import resolve_pack
from .default.benchmark import simulated_tasks
from .elicitation.evaluate import evaluate, popularity_scores, rating_tasks, summarise
from .elicitation.pool import candidate_pool
from .reward.data import STRING, DataError, Items, load_ratings
from .reward.pack import Pack, load_pack
from .settings import Settings


def load_test_users(path: Path, pack: Pack, max_users: int | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The ratings of the pack's test users found in ``path``: user id -> (item indices, ratings).

    Users come in the order of the pack's split; at most ``max_users`` of them.
    """
    catalog = Items(
        item_ids=np.array([item.item_id for item in pack.items], dtype=STRING),
        texts=np.array([item.text for item in pack.items], dtype=STRING),
        titles=np.array([item.title for item in pack.items], dtype=STRING),
        tags=tuple(item.tags for item in pack.items),
    )
    try:
        ratings = load_ratings(path, catalog)
    except DataError as error:
        raise DataError(error.path, f"{error.args[0]} (item ids must be those of pack {pack.name!r})") from None
    user_index = {user_id: u for u, user_id in enumerate(ratings.user_ids.tolist())}
    test_ids = pack.manifest["split"]["test"]
    present = [user_id for user_id in test_ids if user_id in user_index][:max_users]
    if not present:
        raise ValueError(f"{path}: none of the {len(test_ids)} test users of pack {pack.name!r} has two ratings or more")
    order = np.argsort(ratings.user, kind="stable")
    bounds = np.searchsorted(ratings.user[order], np.arange(len(ratings.user_ids) + 1))
    users = {}
    for user_id in present:
        u = user_index[user_id]
        rows = order[bounds[u] : bounds[u + 1]]
        users[user_id] = (ratings.item[rows], ratings.rating[rows])
    return users


def run(args: argparse.Namespace, pack: Pack, pack_path: Path, settings: Settings) -> dict:
    """Evaluate as ``args`` ask; the JSON report."""
    start = time.perf_counter()
    groups = pack.manifest.get("groups")
    features, familiarity = pack.features, pack.familiarity
    if args.protocol == "simulated":
        tasks, features = simulated_tasks(pack, range(args.seeds), settings.embedding_model, settings.cache_dir, args.users)
        # Held-out prompts' responses follow the catalog: they are scored, never asked about.
        groups = np.concatenate([groups, np.full(len(features) - pack.n_items, -1)])
    else:
        if args.ratings is None:
            raise ValueError(f"the {args.protocol} protocol needs --ratings RATINGS.csv")
        users = load_test_users(args.ratings, pack, args.users)
        tasks = rating_tasks(users, args.protocol, range(args.seeds), pack.popularity)
    # "Which would you rather watch?" (implicit answers, catalog ranking) shifts the prior by the
    # pack's exposure offset, and ranks the catalog by the chance of watching, calibrated to how
    # often the training users watched each item; "which do you prefer?" between rated items does not.
    prior = pack.watch_prior if args.protocol == "implicit" else pack.prior
    evaluation = evaluate(
        tasks, features, *prior, strategies=args.strategies, answers=args.answers,
        pool=candidate_pool(pack.features, pack.popularity, size=args.pool_size, rng=0),
        popularity=None if args.protocol == "simulated" else popularity_scores(args.protocol, pack.popularity, pack.quality),
        groups=None if groups is None else np.asarray(groups), familiarity=familiarity, jobs=args.jobs,
        base_rate=familiarity if args.protocol == "implicit" else None,
    )
    summary = summarise(evaluation)
    return {
        "dataset": pack.name, "pack": str(pack_path), "protocol": args.protocol, "seeds": args.seeds,
        "pool_size": args.pool_size, "n_test_users": summary["n_test_users"],
        "seconds": round(time.perf_counter() - start, 2),
        "results": summary["results"], "paired": summary["paired"],
    }


def _cell(mean: float | None, ci: list[float | None]) -> str:
    """``0.642±0.020``: a mean and the half-width of its 95% interval."""
    if mean is None:
        return "-"
    return f"{mean:.3f}" if ci[0] is None else f"{mean:.3f}±{(ci[1] - ci[0]) / 2:.3f}"


def format_report(report: dict) -> str:
    """The report as plain-text tables, one row per strategy and one column per answer count."""
    results = {(row["strategy"], row["answers"], row["metric"]): row for row in report["results"]}
    paired = {(row["a"], row["b"], row["answers"], row["metric"]): row for row in report["paired"]}
    strategies, answers, metrics = ({key[i]: None for key in results} for i in range(3))
    pairs = {key[:2]: None for key in paired}
    width = max(len(label) for label in [*strategies, *(f"{a} - {b}" for a, b in pairs), "strategy"]) + 2

    def row(label: str, cells) -> str:
        return f"{label:<{width}}" + "".join(f"{cell:>14}" for cell in cells)

    lines = [
        f"{report['dataset']} {report['protocol']}: {report['n_test_users']} test users x {report['seeds']} seeds, "
        f"pool {report['pool_size']}, {report['seconds']:.0f} s. Columns: answers (clicks, including don't know)."
    ]
    for metric in metrics:
        lines += ["", f"{metric} (mean ± 95% CI half-width over users)", row("strategy", answers)]
        for s in strategies:
            lines.append(row(s, (_cell(results[s, n, metric]["mean"], results[s, n, metric]["ci95"]) for n in answers)))
    lines += ["", "don't-know rate (share of the questions asked)", row("strategy", answers)]
    for s in strategies:
        rates = [results[s, n, next(iter(metrics))]["dont_know_rate"] for n in answers]
        if any(rate is not None for rate in rates):
            lines.append(row(s, ("-" if rate is None else f"{rate:.2f}" for rate in rates)))
    for metric in metrics if pairs else ():
        lines += ["", f"paired differences, {metric} (per-user mean ± 95% CI half-width)", row("a - b", answers)]
        for a, b in pairs:
            cells = (_cell(paired[a, b, n, metric]["mean_diff"], paired[a, b, n, metric]["ci95"]) for n in answers)
            lines.append(row(f"{a} - {b}", cells))
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Run ``prefchat eval``: print the tables, write ``args.json``."""
    settings = Settings.from_env()
    pack_path = resolve_pack(args.pack, settings)
    with threadpool_limits(limits=1):  # thousands of tiny matrix products: BLAS threads only contend
        report = run(args, load_pack(pack_path), pack_path, settings)
    print(format_report(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0
