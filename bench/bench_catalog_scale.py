"""How prefchat scales with the catalog: a synthetic pack of N items, served as ``prefchat serve`` serves it.

Targets at 1,000,000 items: load <= 10 s, top-20 <= 50 ms, next question <= 10 ms, peak RSS <= 3 GB.

1. Builds a synthetic pack of ``--items`` items (:func:`prefchat.reward.synthetic.synthetic_pack`:
   random features, embeddings and popularity, no embedding model) with the real pack writer
   (:func:`~prefchat.reward.pack.save_pack`), in ``--dir`` (reused when it already holds one of
   that size).
2. In a fresh process, so that its peak RSS is the server's alone, measures

   - ``load_s``: :meth:`prefchat.Assistant.open` of the pack on a temporary SQLite store, as
     ``prefchat serve`` opens it (load, checksums, the engine's per-pack state);
   - ``first_question_s``: the first ``start``, which builds the per-pack caches (candidate
     pool, descriptor index, base-rate offsets) once;
   - ``select_ms``: median of the ``answer`` calls that return the next question, over
     ``--users`` full onboardings: the posterior update, the next question (pool + selection)
     and the store's commit;
   - ``first_finish_s`` and ``finish_ms``: the answer that ends an onboarding (summary and
     recommendations), the first one building the descriptor index once per pack;
   - ``rank_ms``: median of ``recommend(user, k=20)``: the whole catalog scored, told items left
     out, top 20 with reasons;
   - ``rest_p95_ms``: 95th percentile of ``GET /api/v1/users/{id}/recommendations?k=20`` through
     the REST app (:func:`prefchat.ui.rest.api_router`, in-process ASGI client);
   - ``peak_rss_gb``: the process's peak resident set (``getrusage``), everything above included.

Writes ``{"items", "load_s", "peak_rss_gb", "rank_ms", "select_ms", "rest_p95_ms", ...}`` to ``--json``.

Run::

    OPENBLAS_NUM_THREADS=1 python bench/bench_catalog_scale.py --items 1000000 --dir /tmp/scale/1m --json /tmp/scale/1m.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ANSWERS = ("a", "b")


def build(n_items: int, directory: Path) -> float:
    """Write the synthetic pack of ``n_items`` to ``directory`` unless it already holds it; seconds taken."""
    from prefchat.reward.pack import MANIFEST, save_pack
    from prefchat.reward.synthetic import synthetic_pack

    manifest = directory / MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text()).get("n_items") == n_items:
        return 0.0
    start = time.perf_counter()
    save_pack(synthetic_pack(n_items), directory)
    return time.perf_counter() - start


def measure(directory: Path, users: int, repeat: int) -> dict:
    """The figures of the module docstring, measured in this process."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from prefchat.api import Assistant, QuestionTurn
    from prefchat.ui.rest import api_router

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        assistant = Assistant.open(pack=directory, db=f"sqlite:///{tmp}/scale.sqlite")
        load_s = time.perf_counter() - start

        start = time.perf_counter()
        turn = assistant.start("user0")
        first_question_s = time.perf_counter() - start
        answer_times, finish_times = [], []
        for u in range(users):
            if u:
                turn = assistant.start(f"user{u}")
            while isinstance(turn, QuestionTurn):
                choice = ANSWERS[int(rng.integers(2))]
                start = time.perf_counter()
                turn = assistant.answer(turn.session_id, choice)
                (answer_times if isinstance(turn, QuestionTurn) else finish_times).append(time.perf_counter() - start)
        rank_times = []
        for r in range(repeat):
            start = time.perf_counter()
            assistant.recommend(f"user{r % users}", k=20)
            rank_times.append(time.perf_counter() - start)

        app = FastAPI()
        app.include_router(api_router(assistant))
        rest_times = []
        with TestClient(app) as client:
            client.get("/api/v1/users/user0/recommendations", params={"k": 20}).raise_for_status()
            for r in range(repeat):
                start = time.perf_counter()
                client.get(f"/api/v1/users/user{r % users}/recommendations", params={"k": 20}).raise_for_status()
                rest_times.append(time.perf_counter() - start)
        assistant.close()
    pack = assistant.pack
    return {
        "items": pack.n_items,
        "load_s": round(load_s, 3),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "rank_ms": round(1e3 * float(np.median(rank_times)), 2),
        "select_ms": round(1e3 * float(np.median(answer_times)), 2),
        "rest_p95_ms": round(1e3 * float(np.percentile(rest_times, 95)), 2),
        "first_question_s": round(first_question_s, 3),
        "select_p95_ms": round(1e3 * float(np.percentile(answer_times, 95)), 2),
        "first_finish_s": round(finish_times[0], 3),
        "finish_ms": round(1e3 * float(np.median(finish_times[1:] or finish_times)), 2),
        "rank_p95_ms": round(1e3 * float(np.percentile(rank_times, 95)), 2),
        "n_bases": pack.n_bases,
        "embedding_dim": int(pack.embeddings.shape[1]),
        "answers_timed": len(answer_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="where the synthetic pack is written (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--users", type=int, default=5, help="full onboardings timed")
    parser.add_argument("--repeat", type=int, default=50, help="recommendations timed, in the API and through REST")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(args.dir, args.users, args.repeat)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.dir or Path(tmp) / "pack"
        build_s = build(args.items, directory)
        child = subprocess.run([sys.executable, __file__, "--measure", "--dir", str(directory), "--users", str(args.users),
                                "--repeat", str(args.repeat)], check=True, capture_output=True, text=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures["build_s"] = round(build_s, 1)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
