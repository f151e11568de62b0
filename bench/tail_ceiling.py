"""What a long-tail quota costs in Recall@20, and how well the tail can be ranked at all.

Issue 11 asks, at one validated exposure setting, for a top 20 of which at least 10% lies outside
the head (the 20% most popular items) with Recall@20 at least 0.33, after 10 active answers.
This bench measures whether any ranking of the tail makes that possible on a pack's test users,
on the served onboarding (the validation loop of :func:`prefchat.reward.build.validation_sessions`
run on the TEST users, the served "watch" catalog score):

1. **A quota**, the most direct way to buy tail share: the top 20 interleaves the head ranking and
   the tail ranking of the same score so that a share ``s`` of every list comes from the tail
   (head rank :math:`r` at position :math:`r / (1 - s)`, tail rank :math:`r` at
   :math:`(r + 1) / s - 1`). Reported: Recall@20, long_tail_share@20 and tail_recall@20 per share.
2. **The tail's ceiling**: the precision of the best two tail items (what a 10% quota shows) and
   of the head items at positions 19 and 20 (what it displaces), for the served score after 10
   answers, for the known-items model given the user's whole QUERY half (an oracle of the
   user's history), and for popularity.

A quota of ``s`` keeps Recall@20 only if the tail items it shows are about as likely to be
relevant as the head items they displace.

    OPENBLAS_NUM_THREADS=1 python bench/tail_ceiling.py --pack PACK --ratings RATINGS.csv [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from prefchat.elicitation.metrics import top_k  # noqa: E402
from prefchat.elicitation.respondents import RankingTargets, head_items  # noqa: E402
from prefchat.evaluation import load_test_users  # noqa: E402
from prefchat.reward.build import validation_sessions  # noqa: E402
from prefchat.reward.pack import load_pack  # noqa: E402

ANSWERS = 10
SHARES = (0.0, 0.05, 0.1, 0.15, 0.2)
SLOTS = 2
"""A 10% quota of a top 20: two tail items, displacing the head items at positions 19 and 20."""


def interleave(scores: np.ndarray, head: np.ndarray, share: float) -> np.ndarray:
    r"""Scores whose order merges the head's and the tail's orders, a ``share`` of every prefix from the tail.

    .. math:: \text{position}(i) = \begin{cases} r_H(i) / (1 - s) & i \in H \\ (r_T(i) + 1) / s - 1 & i \notin H \end{cases}

    with :math:`r_H`, :math:`r_T` the ranks (from 0) of ``scores`` within the head and the tail;
    the result is minus the position.
    """
    if share == 0.0:
        return scores
    out = np.empty(len(scores))
    for mask, position in ((head, lambda r: r / (1.0 - share)), (~head, lambda r: (r + 1.0) / share - 1.0)):
        index = np.flatnonzero(mask)
        order = index[np.argsort(-scores[index], kind="stable")]
        out[order] = -position(np.arange(len(order), dtype=float))
    return out


def precision(ranked: np.ndarray, relevant: set[int]) -> float:
    return sum(int(i) in relevant for i in ranked) / len(ranked)


def run(pack_path: str, ratings: Path) -> dict:
    pack = load_pack(pack_path)
    sessions = validation_sessions(pack, load_test_users(ratings, pack), seed=0)
    head = head_items(pack.popularity)
    served, known = pack.serving.objective("watch").catalog_score, pack.known_model
    scorers = {"served, 10 answers": lambda task, posterior: served(posterior),
               "popularity": lambda task, posterior: np.log(pack.popularity + 1e-9)}
    if known is not None:
        scorers["known-items model, whole QUERY half"] = lambda task, posterior: known.scores(task.targets.exclude)
    quota: dict[float, list[list[float]]] = {share: [] for share in SHARES}
    ceiling: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in scorers}
    with threadpool_limits(limits=1):
        for task, session in sessions:
            assert isinstance(task.targets, RankingTargets)  # the watch protocol's
            posterior = session.posteriors[min(ANSWERS, len(session.questions))]
            scores = served(posterior)
            for share in SHARES:
                result = task.targets(interleave(scores, head, share))
                quota[share].append([result["recall@20"], result["long_tail_share@20"], result["tail_recall@20"]])
            relevant = set(np.asarray(task.targets.relevant).tolist())
            for name, scorer in scorers.items():
                values = scorer(task, posterior)
                tail = top_k(np.where(head, -np.inf, values), SLOTS, exclude=task.targets.exclude)
                displaced = top_k(np.where(head, values, -np.inf), 20, exclude=task.targets.exclude)[-SLOTS:]
                ceiling[name][0].append(precision(tail, relevant))
                ceiling[name][1].append(precision(displaced, relevant))
    return {"n_tasks": len(sessions), "answers": ANSWERS,
            "quota": [dict(zip(("share", "recall@20", "long_tail_share@20", "tail_recall@20"),
                               (share, *np.nanmean(values, axis=0).round(4).tolist()))) for share, values in quota.items()],
            "ceiling": [{"score": name, "best_tail_precision": round(float(np.mean(tail)), 4),
                         "displaced_head_precision": round(float(np.mean(head_)), 4)}
                        for name, (tail, head_) in ceiling.items()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--ratings", type=Path, required=True, help="the ratings.csv the pack was built from")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.pack, args.ratings)
    print(f"{report['n_tasks']} test tasks, {ANSWERS} answers\n\nquota share  recall@20  long_tail_share@20  tail_recall@20")
    for row in report["quota"]:
        print(f"{row['share']:>11.2f}  {row['recall@20']:>9.4f}  {row['long_tail_share@20']:>18.4f}  {row['tail_recall@20']:>14.4f}")
    print(f"\nprecision of the best {SLOTS} tail items / of the head items at positions 19-20")
    for row in report["ceiling"]:
        print(f"  {row['score']:38} {row['best_tail_precision']:.4f} / {row['displaced_head_precision']:.4f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
