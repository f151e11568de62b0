"""Is the benchmark honest about the passed-over term? What the simulated user passes over, and what a
person who knew their whole history would.

The watch protocol's respondent knows only its QUERY half: a held-out (EVAL) item shown beside a
QUERY item is always passed over, though the person rated it (saw it), and a person who rated it
above the card they picked would have picked it instead (it would then be known, left out of their
list and no hit). So the simulation passes over more of the items that count as hits than a person
would, which makes the passed-over term (:mod:`prefchat.elicitation.passed`) look worse than it is.

On the test users' served sessions (``--strategy``, pairs or k-way, the pack's pool, in memory as
``prefchat eval`` runs them) this reports, at each answer count: how many items were passed over,
the share of them in the EVAL half, and the share of those a full-history respondent would also pass
over (rated below the pick); then Recall@20 with the pack's passed-over weight and without it (0),
paired per user, on the benchmark's targets and on "full-history" targets (the EVAL items a
full-history respondent would have picked or tied in some answer are known: left out of the list
and of the held-out items; the questions and posterior are the simulation's, so this is a check,
not a protocol). Run::

    python bench/passed_over.py --pack /work/packs/served22-ml --ratings /work/packs/served22-ml-input/ratings.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from prefchat import evaluation
from prefchat.assistant.recommender import ServedScore
from prefchat.elicitation.evaluate import benchmark_policy, mean_ci, per_user, rating_tasks, task_seed
from prefchat.elicitation.metrics import recall_at_k, top_k
from prefchat.elicitation.onboarding import run_session
from prefchat.elicitation.posterior import picked
from prefchat.elicitation.respondents import RankingTargets, RatingsRespondent
from prefchat.reward.pack import load_pack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, required=True)
    parser.add_argument("--ratings", type=Path, required=True)
    parser.add_argument("--split", choices=("random", "time"), default="random")
    parser.add_argument("--strategy", choices=("active", "kway"), default="active", help="pairs, or the k-way questions")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--answers", default="5,10")
    parser.add_argument("--weight", type=float, help="the passed-over weight to try (default: the pack's)")
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    pack, start = load_pack(options.pack), time.perf_counter()
    delta = pack.passed_over_weight if options.weight is None else options.weight
    hyper = pack.manifest["hyperparameters"]
    variants = {name: dataclasses.replace(pack, manifest={**pack.manifest, "hyperparameters": {**hyper, "passed_over_weight": w}})
                for name, w in (("with", delta), ("without", 0.0))}
    answers = [int(n) for n in options.answers.split(",")]
    users, times = evaluation.load_dated_test_users(options.ratings, pack, options.users)
    tasks = rating_tasks(users, "watch", range(options.seeds), pack.popularity, split=options.split,
                         times=times)
    policy = benchmark_policy(options.strategy, pack.serving.pool(300), max(answers), pack.groups, pack.familiarity)
    prior = pack.serving.session_prior("watch")
    rows: dict[int, list[dict]] = {n: [] for n in answers}
    for task in tasks:
        assert isinstance(task.respondent, RatingsRespondent) and isinstance(task.targets, RankingTargets)
        items, ratings = users[task.user_id]
        rating = dict(zip(np.asarray(items).tolist(), np.asarray(ratings, dtype=float).tolist()))
        held = set(np.asarray(task.targets.relevant).tolist())
        session = run_session(pack.features, prior, policy, task.respondent, task_seed(task, options.strategy))
        for n in answers:
            posterior = session.posteriors[min(n, len(session.questions))]
            passed = in_eval = also = 0
            would_know: set[int] = set()
            for answer in posterior.answers:
                choice = picked(answer)
                shown = choice[1] if choice else getattr(answer, "options", None) or answer.items
                winner = rating.get(choice[0]) if choice else None
                for item in shown:
                    if item in held and (winner is None or rating[item] >= winner):
                        would_know.add(item)  # a full-history respondent picks it, ties it or knows it
                if choice is None:
                    continue
                for item in choice[1]:
                    passed += 1
                    if item in held:
                        in_eval += 1
                        also += int(winner is not None and rating[item] < winner)
            relevant = np.array(sorted(held - would_know), dtype=np.intp)
            exclude = np.union1d(task.targets.exclude, sorted(would_know)).astype(np.intp)
            row = {"user": task.user_id, "passed": passed, "in_eval": in_eval, "also": also}
            for name, variant in variants.items():
                scores = ServedScore(variant, "watch").at(task.as_of)(posterior)
                row[name] = task.targets(scores)["recall@20"]
                row[name + "_full"] = recall_at_k(top_k(scores, 20, exclude), relevant, 20)
            rows[n].append(row)
    report: dict = {"pack": str(options.pack), "split": options.split, "strategy": options.strategy, "seeds": options.seeds, "passed_over_weight": delta,
                    "answers": {}}
    for n, found in rows.items():
        ids = np.array([row["user"] for row in found], dtype=object)

        def paired(key: str, found=found, ids=ids) -> tuple[float, float, float]:
            return mean_ci(per_user(np.array([row[key] for row in found], dtype=float), ids))

        def gain(suffix: str, found=found, ids=ids) -> tuple[float, float, float]:
            return mean_ci(per_user(np.array([row["with" + suffix] - row["without" + suffix] for row in found]), ids))

        passed = sum(row["passed"] for row in found)
        in_eval = sum(row["in_eval"] for row in found)
        also = sum(row["also"] for row in found)
        report["answers"][n] = {"passed_over": passed, "share_in_eval": in_eval / max(passed, 1),
                                "share_of_those_a_full_history_respondent_passes_over": also / max(in_eval, 1),
                                "recall_with": paired("with"), "recall_without": paired("without"),
                                "with_minus_without": gain(""), "full_history_with": paired("with_full"),
                                "full_history_without": paired("without_full"), "full_history_with_minus_without": gain("_full")}
        r = report["answers"][n]
        print(f"{n} answers: {passed} passed over, {r['share_in_eval']:.1%} in EVAL, of which a full-history respondent passes "
              f"over {r['share_of_those_a_full_history_respondent_passes_over']:.1%}; recall@20 with delta {delta:.3g} "
              f"{r['recall_with'][0]:.4f}, without {r['recall_without'][0]:.4f}, paired {fmt(r['with_minus_without'])}; "
              f"full-history targets {r['full_history_with'][0]:.4f} vs {r['full_history_without'][0]:.4f}, "
              f"paired {fmt(r['full_history_with_minus_without'])}")
    report["seconds"] = round(time.perf_counter() - start, 1)
    if options.json:
        options.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def fmt(ci: tuple[float, float, float]) -> str:
    return f"{ci[0]:+.4f} [{ci[1]:+.4f}, {ci[2]:+.4f}]"


if __name__ == "__main__":
    main()
