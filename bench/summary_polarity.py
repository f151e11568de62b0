"""Does the summary say what the user said? 18 scripted users on the embedded default pack.

Each scripted user always chases, or always avoids, one of the nine annotated style dimensions
of the default pack (:data:`prefchat.default.domain.DIMENSIONS`): asked "which answer do you
prefer?", they pick the response with more of it (chase) or less (avoid), "both" on a tie.
They answer through the public API (:class:`prefchat.Assistant`: the served onboarding loop,
questions, stop rule and summary), and the summary they get is judged: the dimension is on the
RIGHT SIDE when a descriptor of its chased end is under "Enjoys" or one of its avoided end under
"Not keen on" (:data:`ENDS`), and no descriptor of the dimension is on the wrong side.

The annotations only simulate the users and judge the result; the pack never sees them.
Also printed: how each style descriptor's association with the responses (a text measure or
the embedding similarity, see :mod:`prefchat.reward.naming`) correlates with its dimension.

    python bench/summary_polarity.py [--pack default] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from prefchat import Assistant  # noqa: E402
from prefchat.api import QuestionTurn  # noqa: E402
from prefchat.default.domain import DIMENSIONS, load_domain  # noqa: E402

ENDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "length": (frozenset({"long and detailed", "thorough explanation"}), frozenset({"short and concise"})),
    "formality": (frozenset({"formal and professional"}), frozenset({"casual and chatty", "plain simple language"})),
    "humour": (frozenset({"witty jokes", "funny and playful"}), frozenset({"serious and dry"})),
    "structure": (frozenset({"bullet points and numbered steps", "step-by-step list"}), frozenset({"flowing prose paragraphs"})),
    "examples": (frozenset({"concrete examples", "analogies and comparisons"}), frozenset()),
    "technical_depth": (frozenset({"technical detail and terminology", "precise numbers and specifications"}),
                        frozenset({"beginner friendly"})),
    "warmth": (frozenset({"warm and encouraging", "empathetic and reassuring"}), frozenset({"matter-of-fact"})),
    "hedging": (frozenset({"cautious with caveats", "suggests asking a professional"}), frozenset({"direct and confident"})),
    "emoji": (frozenset({"uses emoji"}), frozenset({"answers without emoji"})),
}
"""Each dimension's descriptors of the styles vocabulary: (its high end, its low end)."""


def judge(dimension: str, chase: bool, likes, dislikes) -> bool:
    """The dimension is on the right side of a summary with ``likes`` and ``dislikes``."""
    high, low = ENDS[dimension]
    wanted, unwanted = (high, low) if chase else (low, high)
    right = bool(wanted & set(likes)) or bool(unwanted & set(dislikes))
    wrong = bool(unwanted & set(likes)) or bool(wanted & set(dislikes))
    return right and not wrong


def scripted_session(assistant: Assistant, attributes: dict[str, np.ndarray], dimension: str, chase: bool,
                     user: str | None = None):
    """One scripted user's onboarding through the public API (as ``user``, default named after
    what they do); their summary."""
    column = DIMENSIONS.index(dimension)
    user = user or f"{'chase' if chase else 'avoid'}-{dimension}"
    turn = assistant.start(user, seed=0)
    while isinstance(turn, QuestionTurn):
        a, b = (attributes[card.item_id][column] for card in (turn.item_a, turn.item_b))
        choice = "both" if a == b else ("a" if (a > b) == chase else "b")
        turn = assistant.answer(turn.session_id, choice)
    return assistant.summary(user)


def run(pack: str) -> dict:
    domain = load_domain()
    attributes = dict(zip(domain.response_ids, domain.attributes))
    with tempfile.TemporaryDirectory() as work, Assistant.open(pack=pack, db=Path(work) / "bench.sqlite") as assistant:
        rows = []
        for dimension in DIMENSIONS:
            for chase in (True, False):
                summary = scripted_session(assistant, attributes, dimension, chase)
                rows.append({"dimension": dimension, "direction": "chases" if chase else "avoids",
                             "right_side": judge(dimension, chase, summary.likes, summary.dislikes),
                             "likes": list(summary.likes), "dislikes": list(summary.dislikes), "text": summary.text})
        index = assistant.pack.serving.descriptors
        order = [attributes[item.item_id] for item in assistant.pack.items]
        truth = np.array(order)
        associations = {}
        for dimension, (high, low) in ENDS.items():
            k = DIMENSIONS.index(dimension)
            for descriptor in sorted(high | low):
                z = index.association[:, index.columns[descriptor]]
                associations[descriptor] = float(np.corrcoef(z, truth[:, k])[0, 1]) * (1 if descriptor in high else -1)
    return {"right_side": sum(r["right_side"] for r in rows), "n_users": len(rows), "users": rows,
            "association_with_own_end": associations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="default")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.pack)
    for row in report["users"]:
        mark = "right" if row["right_side"] else "WRONG"
        print(f"{mark:5}  {row['direction']:6} {row['dimension']:16} {row['text']}")
    print(f"\nright side: {report['right_side']} of {report['n_users']}")
    print("\ncorrelation of each descriptor's association with its own end of its dimension:")
    for descriptor, value in report["association_with_own_end"].items():
        print(f"  {descriptor:36} {value:+.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
