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
     and the store's commit; ``question_ms``: the next question alone (the engine's policy: pool
     and selection, no store), after five answers;
   - ``first_finish_s`` and ``finish_ms``: the answer that ends an onboarding (summary and
     recommendations), the first one building the descriptor index once per pack;
   - ``rank_ms``: median of ``recommend(user, k=20)`` (the first one included: the ranking's
     per-pack caches were built by the onboardings' last answers): the whole catalog scored, told
     items left out, top 20 with reasons;
   - ``rest_p95_ms``: 95th percentile of ``GET /api/v1/users/{id}/recommendations?k=20`` through
     the REST app (:func:`prefchat.ui.rest.api_router`, in-process ASGI client);
   - ``peak_rss_gb``: the process's peak resident set (``getrusage``), everything above included;
   - ``cpu``: the same timings in CPU time (``process_time``): on a shared machine the wall
     times also hold the waits for a core.

Writes ``{"items", "load_s", "peak_rss_gb", "rank_ms", "select_ms", "rest_p95_ms", ...}`` to ``--json``.

``--question-size K`` asks "which of these K would you pick?" questions in place of the synthetic
pack's pairs (a served MovieLens pack asks six), each answered with one of the K positions at random.

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


class Clock:
    """Wall and CPU (``process_time``) seconds of what runs inside ``with clock:``, appended to its lists.

    On a shared machine the wall time holds the time spent waiting for a core; the CPU time is
    what the work itself took (memory contention still counts in it)."""

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __enter__(self):
        self._start = (time.perf_counter(), time.process_time())

    def __exit__(self, *exc_info):
        self.wall.append(time.perf_counter() - self._start[0])
        self.cpu.append(time.process_time() - self._start[1])

    def ms(self, percentile: float = 50) -> tuple[float, float]:
        """(wall, CPU) percentile in milliseconds."""
        wall, cpu = (round(1e3 * float(np.percentile(values, percentile)), 2) for values in (self.wall, self.cpu))
        return wall, cpu


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


def measure(directory: Path, users: int, repeat: int, question_size: int | None = None) -> dict:
    """The figures of the module docstring, measured in this process."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from prefchat.api import Assistant, QuestionTurn, SessionOptions
    from prefchat.assistant.turns import AnyTurn
    from prefchat.elicitation import Comparison
    from prefchat.elicitation.onboarding import next_question, replay
    from prefchat.ui.rest import api_router

    rng = np.random.default_rng(0)
    load, first, answers, finishes, ranks, rests, questions = (Clock() for _ in range(7))
    with tempfile.TemporaryDirectory() as tmp:
        with load:
            assistant = Assistant.open(pack=directory, db=f"sqlite:///{tmp}/scale.sqlite",
                                       options=SessionOptions(question_size=question_size))
        with first:
            turn: AnyTurn = assistant.start("user0")
        for u in range(users):
            if u:
                turn = assistant.start(f"user{u}")
            while isinstance(turn, QuestionTurn):
                shown = len(turn.items)
                choice = ANSWERS[int(rng.integers(2))] if shown == 2 else str(int(rng.integers(shown)) + 1)
                clock = Clock()
                with clock:
                    turn = assistant.answer(turn.session_id, choice)
                target = answers if isinstance(turn, QuestionTurn) else finishes
                target.wall += clock.wall
                target.cpu += clock.cpu

        for r in range(repeat):
            with ranks:
                assistant.recommend(f"user{r % users}", k=20)

        # The next question alone (pool + selection, no store): the engine's features and policy,
        # a posterior after five answers to pool pairs.
        policy, pool = assistant.policy(assistant.options), assistant.pack.serving.pool(assistant.options.pool_size)
        answers_given = [Comparison(int(a), int(b), "a") for a, b in (rng.choice(pool, 2, replace=False) for _ in range(5))]
        posterior = replay(assistant.pack.serving.session_prior(assistant.pack.objective), assistant.features, answers_given)
        for r in range(repeat):
            with questions:
                next_question(assistant.features, posterior, policy, len(answers_given), r)

        app = FastAPI()
        app.include_router(api_router(assistant))
        with TestClient(app) as client:
            client.get("/api/v1/users/user0/recommendations", params={"k": 20}).raise_for_status()
            for r in range(repeat):
                with rests:
                    client.get(f"/api/v1/users/user{r % users}/recommendations", params={"k": 20}).raise_for_status()
        assistant.close()
    pack = assistant.pack
    return {
        "items": pack.n_items,
        "load_s": round(load.wall[0], 3),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "rank_ms": ranks.ms()[0],
        "select_ms": answers.ms()[0],
        "question_ms": questions.ms()[0],
        "rest_p95_ms": rests.ms(95)[0],
        "cpu": {"load_s": round(load.cpu[0], 3), "rank_ms": ranks.ms()[1], "select_ms": answers.ms()[1],
                "question_ms": questions.ms()[1], "rest_p95_ms": rests.ms(95)[1], "first_question_s": round(first.cpu[0], 3),
                "first_finish_s": round(finishes.cpu[0], 3)},
        "first_question_s": round(first.wall[0], 3),
        "first_finish_s": round(finishes.wall[0], 3),
        "finish_ms": round(1e3 * float(np.median(finishes.wall[1:] or finishes.wall)), 2),
        "select_p95_ms": answers.ms(95)[0],
        "rank_p95_ms": ranks.ms(95)[0],
        "n_bases": pack.n_bases,
        "embedding_dim": int(pack.embeddings.shape[1]),
        "answers_timed": len(answers.wall),
        "question_size": assistant.options.question_size or pack.question_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="where the synthetic pack is written (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--users", type=int, default=5, help="full onboardings timed")
    parser.add_argument("--repeat", type=int, default=50, help="recommendations timed, in the API and through REST")
    parser.add_argument("--question-size", type=int, help="options a question shows (default: the pack's, pairs)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(args.dir, args.users, args.repeat, args.question_size)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.dir or Path(tmp) / "pack"
        build_s = build(args.items, directory)
        child = subprocess.run([sys.executable, __file__, "--measure", "--dir", str(directory), "--users", str(args.users),
                                "--repeat", str(args.repeat),
                                *(["--question-size", str(args.question_size)] if args.question_size else [])],
                               check=True, capture_output=True, text=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures["build_s"] = round(build_s, 1)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
