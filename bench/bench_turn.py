"""Latency of one onboarding turn on a real pack with a SQLite file database.

A turn is :meth:`Conversation.answer <prefchat.assistant.session.Conversation.answer>`: read the
session back, commit the answer, rebuild the posterior from the stored answers, choose the next
question and commit it. Simulated users (planted coefficients drawn from the pack's prior) run
whole sessions; the table gives the median and 95th percentile of

- ``turn``: an answer that leads to the next question (target: median <= 30 ms);
- ``last turn``: the answer that ends onboarding (profile, summary, first recommendations);
- and, for the turns, their parts: ``rebuild state`` (history + posterior) and ``select``;

and how many database transactions and SQL statements each turn took (the engine's budget: three
transactions, and eight statements for an answer that leads to the next question, BEGIN included).

Run::

    python bench/bench_turn.py                       # the MovieLens pack at /tmp/packs/ml
    python bench/bench_turn.py --pack DIR --sessions 30
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: threaded BLAS is ~10x slower here

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sqlalchemy import event  # noqa: E402

from prefchat.assistant.session import Conversation
from prefchat.assistant.turns import QuestionTurn  # noqa: E402
from prefchat.elicitation.onboarding import next_question  # noqa: E402
from prefchat.reward.pack import load_pack  # noqa: E402
from prefchat.storage import open_store  # noqa: E402


def timed(call):
    """``call()`` and its wall time in milliseconds."""
    start = time.perf_counter()
    result = call()
    return result, 1e3 * (time.perf_counter() - start)


def row(name: str, times: list[float]) -> str:
    return f"{name:<16} {len(times):>6} {np.median(times):>10.1f} {np.percentile(times, 95):>10.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=Path("/tmp/packs/ml"))
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    pack = load_pack(args.pack)
    rng = np.random.default_rng(args.seed)
    prior_mean, prior_cov = pack.prior
    times: dict[str, list[float]] = {"turn": [], "last turn": [], "rebuild state": [], "select": []}
    transactions: dict[str, list[int]] = {"turn": [], "last turn": []}
    statements: dict[str, list[int]] = {"turn": [], "last turn": []}
    with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite:///{tmp}/bench.sqlite") as store:
        begun, executed = [], []
        event.listen(store.engine, "begin", lambda connection: begun.append(1))
        event.listen(store.engine, "before_cursor_execute", lambda *args: executed.append(1))
        conversation = Conversation(pack, store)
        conversation.start("warm-up")  # candidate pool and first-use costs
        for s in range(args.sessions):
            coef = rng.multivariate_normal(prior_mean, prior_cov)
            turn = conversation.start(f"user-{s}")
            while isinstance(turn, QuestionTurn):
                a, b = (pack.features[pack.index_of(card.item_id)] for card in (turn.item_a, turn.item_b))
                state, ms = timed(lambda: conversation.state(turn.session_id))
                times["rebuild state"].append(ms)
                _, ms = timed(lambda: next_question(conversation.features, state.posterior,
                                                    conversation.policy(state.options), state.n_answered, state.seed))
                times["select"].append(ms)
                begun.clear()
                executed.clear()
                turn, ms = timed(lambda: conversation.answer(turn.session_id, "a" if coef @ (a - b) > 0 else "b"))
                kind = "turn" if isinstance(turn, QuestionTurn) else "last turn"
                times[kind].append(ms)
                transactions[kind].append(len(begun))
                statements[kind].append(len(executed))

    print(f"pack {pack.name} {pack.version}: {pack.n_items} items, {pack.n_bases} bases; "
          f"{args.sessions} sessions on a SQLite file, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"{'':<16} {'n':>6} {'median ms':>10} {'p95 ms':>10}")
    for name, values in times.items():
        print(row(name, values))
    for kind, counts in transactions.items():
        print(f"transactions per {kind}: max {max(counts)}, median {np.median(counts):.0f}")
    for kind, counts in statements.items():
        print(f"SQL statements per {kind}: max {max(counts)}, median {np.median(counts):.0f}")
    verdict = "meets" if np.median(times["turn"]) <= 30 else "MISSES"
    print(f"turn median {np.median(times['turn']):.1f} ms {verdict} the 30 ms target")


if __name__ == "__main__":
    main()
