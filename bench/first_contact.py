"""A newcomer's first two minutes, over simulated onboarding sessions through the public API.

For each pack, ``--sessions`` users answer every question at random (seeded: a pick among the
cards, as a person would answer; "don't know" too on packs whose items must be known) through
:class:`prefchat.Assistant`, the served loop. Reported per pack:

- the reading time of the questions asked, by the greeting's own formula
  (:func:`prefchat.assistant.wording.reading_seconds` over each question's
  :attr:`~prefchat.api.QuestionTurn.words`): mean and worst session, and the greeting's own
  estimate (the first question's words times the expected count);
- repeats within a session: a pair of items asked twice, and a shared prompt asked twice.

    python bench/first_contact.py [--pack default] [--pack PATH ...] [--sessions 100] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from prefchat import Assistant  # noqa: E402
from prefchat.api import QuestionTurn  # noqa: E402
from prefchat.assistant.wording import reading_seconds  # noqa: E402


def questions_of_session(assistant: Assistant, user: str, seed: int) -> Iterator[QuestionTurn]:
    """The questions of one onboarding answered at random, in order."""
    rng = np.random.default_rng(seed)
    turn = assistant.start(user, seed=seed)
    while isinstance(turn, QuestionTurn):
        yield turn
        answers = [str(k) for k in range(1, len(turn.items) + 1)] if len(turn.items) > 2 else ["a", "b"]
        if turn.objective == "watch":
            answers.append("skip" if len(turn.items) == 2 else "none of these")
        turn = assistant.answer(turn.session_id, str(rng.choice(answers)), question_id=turn.question_id)


def session_figures(questions: list[QuestionTurn]) -> dict:
    """Reading seconds, the greeting's estimate, and repeated pairs and prompts of one session's questions."""
    pairs = [frozenset(p) for turn in questions for p in combinations((card.item_id for card in turn.items), 2)]
    prompts = [turn.prompt for turn in questions if turn.prompt is not None]
    first = questions[0]
    return {
        "questions": len(questions),
        "words": [turn.words for turn in questions],
        "seconds": sum(reading_seconds(1, turn.words) for turn in questions),
        "greeting_seconds": reading_seconds(first.expected_total, first.words),
        "repeated_pairs": len(pairs) - len(set(pairs)),
        "repeated_prompts": len(prompts) - len(set(prompts)),
    }


def run(assistant: Assistant, n_sessions: int) -> dict:
    """The figures of ``n_sessions`` sessions on ``assistant``'s pack, and their summary."""
    sessions = [session_figures(list(questions_of_session(assistant, f"newcomer-{s}", s))) for s in range(n_sessions)]
    seconds = np.array([s["seconds"] for s in sessions])
    return {
        "pack": assistant.pack.name, "sessions": n_sessions,
        "seconds_mean": float(seconds.mean()), "seconds_max": float(seconds.max()),
        "greeting_seconds_mean": float(np.mean([s["greeting_seconds"] for s in sessions])),
        "words_per_question_mean": float(np.mean([w for s in sessions for w in s["words"]])),
        "repeated_pairs": sum(s["repeated_pairs"] for s in sessions),
        "repeated_prompts": sum(s["repeated_prompts"] for s in sessions),
        "per_session": sessions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", action="append", help="a pack (repeatable; default: the default pack)")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    reports = []
    for pack in args.pack or ["default"]:
        with tempfile.TemporaryDirectory() as work, Assistant.open(pack=pack, db=Path(work) / "bench.sqlite") as assistant:
            report = run(assistant, args.sessions)
        reports.append(report)
        print(f"{report['pack']}: {report['sessions']} sessions, {report['words_per_question_mean']:.1f} words a question; "
              f"reading time {report['seconds_mean']:.0f} s mean, {report['seconds_max']:.0f} s worst "
              f"(the greeting's estimate {report['greeting_seconds_mean']:.0f} s mean); "
              f"repeated pairs {report['repeated_pairs']}, repeated prompts {report['repeated_prompts']}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
