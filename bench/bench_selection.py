"""How long one question selection and one posterior update take.

A synthetic domain: 2000 items with K = 10 learned bases plus 2 population coordinates, a
candidate pool of 500 items (124,750 pairs), a standard normal prior and a planted user who has
answered a few questions. Prints the median and 95th percentile of

- one selection per strategy (targets: <= 5 ms median for the default, ``active``);
- one posterior update, warm-started, as the 10th and as the 20th answer (target: <= 1 ms median).

Run::

    python bench/bench_selection.py
    OPENBLAS_NUM_THREADS=1 python bench/bench_selection.py   # single-threaded BLAS

On a busy machine multi-threaded BLAS can be far slower for these small products (threads wait
for cores held by other processes); compare the two runs.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.special import expit

from prefchat.elicitation import STRATEGIES, Comparison, Posterior, SelectionState, active_kway, candidate_pool


def timings(call, repeat: int) -> tuple[float, float]:
    """Median and 95th percentile wall time of ``call()`` in milliseconds."""
    call()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), 1e3 * float(np.percentile(times, 95))


def planted_answers(features: np.ndarray, coef: np.ndarray, n: int, rng: np.random.Generator) -> list[Comparison]:
    """``n`` answers of a user with coefficients ``coef`` to random pairs."""
    answers = []
    for _ in range(n):
        a, b = rng.choice(len(features), size=2, replace=False)
        answers.append(Comparison(a, b, "a" if rng.random() < expit(coef @ (features[a] - features[b])) else "b"))
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=500)
    parser.add_argument("--bases", type=int, default=12, help="K learned bases + population coordinates")
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    features = rng.normal(size=(args.items, args.bases))
    prior = Posterior.from_prior(np.zeros(args.bases), np.eye(args.bases))
    pool = candidate_pool(features, rng.gamma(2.0, size=args.items), size=args.pool, rng=rng)
    answers = planted_answers(features, rng.normal(size=args.bases), 20, rng)

    posterior = prior
    for answer in answers[:5]:
        posterior = posterior.update(features, answer)
    state = SelectionState(features, posterior, pool)
    rows = [
        (f"select: {name}", timings(lambda s=strategy: s(state, rng), args.repeat))
        for name, strategy in STRATEGIES.items()
    ]
    rows += [(f"select: active {k}-way", timings(lambda k=k: active_kway(state, rng, k=k), args.repeat)) for k in (4, 6)]
    for n in (10, 20):
        before = prior
        for answer in answers[: n - 1]:
            before = before.update(features, answer)
        rows.append((f"update: answer {n}", timings(lambda b=before: b.update(features, answers[n - 1]), 5 * args.repeat)))

    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    n_pairs = len(pool) * (len(pool) - 1) // 2
    print(f"{args.items} items, K={args.bases}, pool {len(pool)} ({n_pairs:,} pairs), BLAS threads: {threads}")
    print(f"{'':24} {'median ms':>10} {'p95 ms':>10}")
    for label, (median, p95) in rows:
        print(f"{label:24} {median:10.2f} {p95:10.2f}")


if __name__ == "__main__":
    main()
