"""How long prefchat takes over its inputs, the figures the unit tests do not time.

- loading 100,000 ratings of a generated ``ratings.csv`` (2,000 items, 600 users), and the real
  MovieLens ml-latest-small when ``--movielens DIR`` is given;
- simulating the default pack's population and calibrating its true model's ceiling;
- recognising the intent of hostile 45,000-character messages (runs the old patterns rescanned
  from every position), and how the time grows from 10,000 to 80,000 characters (linear: about 8
  times; quadratic: 64 times).

Prints one line per figure (medians of ``--runs`` runs, in ms), and writes them as JSON (seconds)
with ``--json``::

    .venv/bin/python bench/bench_inputs.py [--movielens ../shared/data/movielens-latest-small] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from prefchat.assistant.intents import IntentRecognizer
from prefchat.default.domain import load_domain
from prefchat.default.population import simulate_population, true_model_ceiling
from prefchat.reward.data import load_dataset, load_items, load_ratings
from prefchat.reward.movielens import convert_movielens

HOSTILE = {
    "spaces": "a" + " " * 45_000 + "x",
    "dots": "a" + "." * 45_000 + "x",
    "question marks": "?" * 45_000 + "x",
    "a long item": "more like " + "a" * 45_000 + " x",
    "repeated words": "i " + "really " * 6_000 + "x",
}


def median_seconds(run: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls of ``run``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generated_ratings(directory: Path) -> tuple[Path, Path]:
    """``items.csv`` of 2,000 items and ``ratings.csv`` of 100,000 ratings by 600 users, at random."""
    rng = np.random.default_rng(0)
    n_items, n_users = 2000, 600
    items = directory / "items.csv"
    items.write_text("item_id,text\n" + "".join(f"{i},item {i}\n" for i in range(n_items)), encoding="utf-8")
    keys = rng.choice(n_users * n_items, size=100_000, replace=False)
    rows = [f"{key // n_items},{key % n_items},{rng.integers(1, 11) / 2},{964982703 + key}\n" for key in keys.tolist()]
    ratings = directory / "ratings.csv"
    ratings.write_text("user_id,item_id,rating,timestamp\n" + "".join(rows), encoding="utf-8")
    return items, ratings


def measure(movielens: Path | None, runs: int) -> dict[str, float]:
    """Every figure of the module docstring, in seconds."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        items_csv, ratings_csv = generated_ratings(Path(tmp))
        items = load_items(items_csv)
        figures["load 100,000 generated ratings"] = median_seconds(lambda: load_ratings(ratings_csv, items), runs)
        if movielens is not None:
            written = convert_movielens(movielens, Path(tmp) / "movielens")
            figures["load MovieLens latest-small"] = median_seconds(
                lambda: load_dataset(written["items"], written["ratings"]), runs)
    domain = load_domain()
    figures["simulate the default population and calibrate its ceiling"] = median_seconds(
        lambda: true_model_ceiling(simulate_population(domain, seed=5)), runs)
    recognise = IntentRecognizer()
    for name, text in HOSTILE.items():
        figures[f"recognise a hostile message ({name}, {len(text):,} characters)"] = median_seconds(
            partial(recognise, text), runs)
    small, large = (median_seconds(partial(recognise, "a" + " " * n + "x"), runs) for n in (10_000, 80_000))
    figures["growth of recognition time, 10,000 to 80,000 characters (ratio)"] = large / small
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movielens", type=Path, help="ml-latest-small directory (movies.csv, ratings.csv)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    figures = measure(args.movielens, args.runs)
    for name, value in figures.items():
        print(f"{name}: {value:.2f}" if "ratio" in name else f"{name}: {1e3 * value:.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
