"""Do stated preferences move the picks? "no <genre> please" and "I love <genre> movies" on MovieLens.

Through the public API (:class:`prefchat.Assistant`, the served path): a user onboards (the
questions of the served policy, answered by a fixed script: the first option when the user
might know it, "don't know" otherwise; ``--answers`` picks the script), then their top 20
(``recommend(k=20)``) is read before and after each statement, each statement from a fresh
copy of the same onboarded profile. Reported per genre: its share of the top 20 before, after
"no <genre> please" and after "I love <genre> movies".

Issue 12 acceptance: the share falls by at least half after the first and rises after the second,
for Horror, Romance, Documentary, Animation and Musical.

    python bench/stated_genres.py --pack /tmp/packs-summary/ml [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from prefchat import Assistant  # noqa: E402
from prefchat.api import QuestionTurn, SessionOptions  # noqa: E402

GENRES = ("Horror", "Romance", "Documentary", "Animation", "Musical")
SCRIPTS = {"first": lambda position: "a", "alternate": lambda position: "ab"[position % 2],
           "skip": lambda position: "skip"}


def onboard(assistant: Assistant, user: str, script: str) -> None:
    turn = assistant.start(user, seed=0)
    while isinstance(turn, QuestionTurn):
        turn = assistant.answer(turn.session_id, SCRIPTS[script](turn.position))


def share(assistant: Assistant, user: str, genre: str, k: int = 20) -> float:
    picks = assistant.recommend(user, k=k)
    tagged = [p for p in picks if genre.lower() in {t.lower() for t in assistant.pack.items[p.index].tags}]
    return len(tagged) / max(1, len(picks))


def run(pack: str, script: str = "first") -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as work, Assistant.open(pack=pack, db=f"sqlite:///{work}/bench.sqlite") as assistant:
        for genre in GENRES:
            row: dict[str, Any] = {"genre": genre}
            for label, text in (("no", f"no {genre.lower()} please"), ("love", f"I love {genre.lower()} movies")):
                user = f"{label}-{genre}"
                onboard(assistant, user, script)
                row["before"] = share(assistant, user, genre)
                shown = [p.item_id for p in assistant.recommend(user, k=SessionOptions().n_recommendations)]
                reply = assistant.say(user, text)
                row[f"after_{label}"] = share(assistant, user, genre)
                row[f"reply_{label}"] = reply.text
                row[f"moved_{label}"] = [p.item_id for p in reply.recommendations] != shown  # the picks the reply shows
            row["falls_by_half"] = row["after_no"] <= row["before"] / 2 and (row["before"] > 0 or row["after_no"] == 0)
            row["rises"] = row["after_love"] > row["before"]
            rows.append(row)
        watch_beta = assistant.pack.beta("watch")
    return {"pack": pack, "script": script, "watch_beta": watch_beta, "genres": rows,
            "passed": all(r["falls_by_half"] and r["rises"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--answers", choices=sorted(SCRIPTS), default="first")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.pack, args.answers)
    print(f"watch_beta {report['watch_beta']:.4f}; answers: {report['script']}")
    print(f"{'genre':<12} {'before':>7} {'no ...':>7} {'love ...':>9}")
    for r in report["genres"]:
        print(f"{r['genre']:<12} {r['before']:>7.2f} {r['after_no']:>7.2f} {r['after_love']:>9.2f}"
              f"   {'ok' if r['falls_by_half'] and r['rises'] else 'NOT MET'}")
    print("all met" if report["passed"] else "not all met")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
