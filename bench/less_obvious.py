"""Do "less obvious picks" leave the head? A pack's test users, through the public API (issue 21).

Each test user (the "watch" protocol of :mod:`prefchat.elicitation.evaluate`: a QUERY half the
simulated user answers from, "would rather watch" one they have rated, an EVAL half held out)
onboards through :class:`prefchat.Assistant` with the served options, says "recommend", then
"show me less obvious picks". Per user, on the top 10 shown:

- the **head share**, the share among the 100 most-rated items
  (:attr:`~prefchat.reward.serving.Serving.head`), of the plain picks, of the picks the pack's
  one validated "less obvious" discount alone gives (:attr:`~prefchat.reward.pack.Pack.less_obvious_discount`,
  what the reply served before issue 21), and of the reply's picks;
- whether the reply is the honest one ("I have no good less-known picks for you yet");
- the EVAL items among the picks (hits), plain and less obvious: what leaving the head costs.

Issue 21: after the reply, head share <= 0.3, or the honest reply.

    OPENBLAS_NUM_THREADS=1 python bench/less_obvious.py --pack /work/packs/ml \\
        --ratings /work/packs/ml-input/ratings.csv [--users 100] [--json OUT.json]
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
from prefchat.assistant.replies import LESS_OBVIOUS_HEAD_SHARE  # noqa: E402
from prefchat.assistant.wording import no_less_obvious  # noqa: E402
from prefchat.elicitation.evaluate import Task, rating_tasks, task_seed  # noqa: E402
from prefchat.elicitation.posterior import KWayChoice  # noqa: E402
from prefchat.elicitation.respondents import RankingTargets  # noqa: E402
from prefchat.elicitation.selection import Question  # noqa: E402
from prefchat.evaluation import load_test_users  # noqa: E402
from prefchat.reward.pack import load_pack  # noqa: E402

HONEST = no_less_obvious(0, 10, 0).split(":")[0]
"""How the honest reply opens."""


def onboard(app: Assistant, user: str, task: Task) -> int:
    """``task``'s respondent answers the served onboarding as ``user``; the questions answered."""
    turn = app.start(user, seed=task_seed(task, "active"))
    asked = 0
    while isinstance(turn, QuestionTurn):
        question = Question(tuple(app.pack.index_of(card.item_id) for card in turn.items))
        response = task.respondent.answer(question)
        if len(question.items) > 2:  # typed as a person would: a position, or none of them
            assert not isinstance(response, KWayChoice)  # the "watch" respondent picks among all shown
            text = "none of these" if response is None else str(question.items.index(int(response)) + 1)
        else:
            text = str(response)
        turn = app.answer(turn.session_id, text, question_id=turn.question_id)
        asked += 1
    return asked


def run(pack_path: str, ratings: Path, n_users: int | None) -> dict:
    pack = load_pack(pack_path)
    tasks = rating_tasks(load_test_users(ratings, pack, n_users), "watch", [0], pack.popularity)
    head = pack.serving.head
    rows = []
    with tempfile.TemporaryDirectory() as work, Assistant.open(pack, db=Path(work) / "bench.sqlite") as app:
        for task in tasks:
            user = f"lo-{task.user_id}"
            asked = onboard(app, user, task)
            plain = app.say(user, "recommend").recommendations
            single = app.recommend(user, len(plain), pack.less_obvious_discount)
            reply = app.say(user, "show me less obvious picks")
            assert isinstance(task.targets, RankingTargets)
            relevant = set(np.asarray(task.targets.relevant).tolist())

            def share(picks):
                return float(np.mean([head[p.index] for p in picks]))

            def hits(picks):
                return sum(p.index in relevant for p in picks)

            rows.append({"user": task.user_id, "answers": asked, "head_share_plain": share(plain),
                         "head_share_one_discount": share(single), "head_share_reply": share(reply.recommendations),
                         "honest": reply.text.startswith(HONEST), "hits_plain": hits(plain),
                         "hits_reply": hits(reply.recommendations), "text": reply.text})
    met = [row["head_share_reply"] <= LESS_OBVIOUS_HEAD_SHARE or row["honest"] for row in rows]
    moved = [row for row in rows if not row["honest"]]

    def mean(key, among=rows):
        return round(float(np.mean([row[key] for row in among])), 4) if among else None

    return {"pack": pack_path, "n_users": len(rows), "head_size": int(head.sum()),
            "discounts": list(pack.less_obvious_discounts), "head_share_bar": LESS_OBVIOUS_HEAD_SHARE,
            "head_share_plain": mean("head_share_plain"), "head_share_one_discount": mean("head_share_one_discount"),
            "head_share_reply": mean("head_share_reply"), "head_share_reply_not_honest": mean("head_share_reply", moved),
            "honest_share": mean("honest"), "met_share": float(np.mean(met)),
            "hits_plain": mean("hits_plain"), "hits_reply": mean("hits_reply"),
            "hits_plain_not_honest": mean("hits_plain", moved), "hits_reply_not_honest": mean("hits_reply", moved),
            "users": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--ratings", type=Path, required=True, help="the ratings.csv the pack was built from")
    parser.add_argument("--users", type=int, default=None, help="at most this many test users (default: all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.pack, args.ratings, args.users)
    print(f"{report['n_users']} test users; head = the {report['head_size']} most-rated; discounts tried "
          f"{report['discounts']}")
    for key in ("head_share_plain", "head_share_one_discount", "head_share_reply", "head_share_reply_not_honest",
                "honest_share", "met_share", "hits_plain", "hits_reply", "hits_plain_not_honest", "hits_reply_not_honest"):
        print(f"  {key:28} {report[key]}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
