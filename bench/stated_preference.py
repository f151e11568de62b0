"""What a stated preference does to Recall@20, on the pack's TEST users, as served ("watch").

Each test user (their ratings split into QUERY and EVAL halves exactly as validation users are,
:func:`prefchat.reward.train.make_validation_users`) answers ten questions from their QUERY half;
the "watch" session writes its summary; then the user states their strongest like or dislike,
read off their EVAL half (:func:`prefchat.reward.calibration.strongest_stated`). The catalog,
QUERY items left out, is ranked as the app serves it: calibrated watch logits alone, plus the
generated summary (``watch_beta``), plus the statement as the app serves it
(:func:`prefchat.reward.calibration.served_statement`: ``watch_stated_beta``, a like raised by its
``like_factor`` where that weight alone would not move the top 20, and a stated dislike on a tags
pack leaving out the items carrying it). Recall@20 of the EVAL items, mean over users
with a 95% interval, and the paired changes: against the logits alone, and what the statement
itself adds over the generated summary, for likes and dislikes apart.

    python bench/stated_preference.py --pack /tmp/packs-summary/ml --data /tmp/packs/ml-input [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from prefchat.elicitation.evaluate import mean_ci  # noqa: E402
from prefchat.reward.build import interactions_of  # noqa: E402
from prefchat.reward.calibration import held_out_recall, served_statement, stated_preference_fits  # noqa: E402
from prefchat.reward.data import load_dataset  # noqa: E402
from prefchat.reward.pack import load_pack  # noqa: E402
from prefchat.reward.train import make_validation_users  # noqa: E402


def run(pack_dir: Path, data_dir: Path) -> dict:
    pack = load_pack(pack_dir)
    dataset = load_dataset(data_dir / "items.csv", data_dir / "ratings.csv")
    position = {u: i for i, u in enumerate(dataset.user_ids.tolist())}
    users = np.array([position[u] for u in pack.split["test"] if u in position], dtype=np.int64)
    test = make_validation_users(interactions_of(dataset), users, 10, pack.split["seed"])
    fits = [f for f in stated_preference_fits(pack, test) if f["said"]]
    beta, stated_beta = pack.beta("watch"), pack.beta("watch", stated=True)
    rows = {
        "logits alone": [held_out_recall(f["base"], f["user"]) for f in fits],
        "with the generated summary": [held_out_recall(f["base"] + beta * f["generated"], f["user"]) for f in fits],
        "with the statement too": [held_out_recall(served_statement(f, beta, stated_beta), f["user"], exclude=f["excluded"])
                                   for f in fits],
    }
    report = {"n_test_users": len(fits), "watch_beta": beta, "watch_stated_beta": stated_beta,
              "likes": sum(f["said"][1] > 0 for f in fits), "dislikes": sum(f["said"][1] < 0 for f in fits),
              "recall@20": {name: dict(zip(("mean", "lo", "hi"), mean_ci(np.array(v)))) for name, v in rows.items()}}
    base = np.array(rows["logits alone"])
    report["paired"] = {name: dict(zip(("mean_diff", "lo", "hi"), mean_ci(np.array(v) - base)))
                        for name, v in rows.items() if name != "logits alone"}
    change = np.array(rows["with the statement too"]) - np.array(rows["with the generated summary"])
    for label, side in (("likes", np.array([f["said"][1] > 0 for f in fits])), ("dislikes", np.array([f["said"][1] < 0 for f in fits]))):
        if side.any():
            report["paired"][f"the statement, {label} only"] = dict(zip(("mean_diff", "lo", "hi"), mean_ci(change[side])))
    report["stated"] = [{"said": list(f["said"]), "excluded": len(f["excluded"]),
                         "change": float(c)} for f, c in zip(fits, change)]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.pack, args.data)
    print(f"{report['n_test_users']} test users ({report['likes']} state a like, {report['dislikes']} a dislike); "
          f"watch_beta {report['watch_beta']:.4f}, watch_stated_beta {report['watch_stated_beta']:.4f}")
    for name, r in report["recall@20"].items():
        print(f"  {name:<28} Recall@20 {r['mean']:.4f} [{r['lo']:.4f}, {r['hi']:.4f}]")
    for name, r in report["paired"].items():
        print(f"  {name:<28} change {r['mean_diff']:+.4f} [{r['lo']:+.4f}, {r['hi']:+.4f}]")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
