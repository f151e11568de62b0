"""How far friends can take a pack's lists: upper bounds of ``prefchat eval --friends`` on the test users.

On a pack with a social prior (``prefchat pack ciao``), the test users with a friend among the
training users, the same served sessions as ``prefchat eval --friends`` (the pack's own questions,
:mod:`prefchat.social_evaluation`), at each answer count:

- **validated**: ``active`` and ``social-active`` as served (the pack's trust, spread and friends'
  items term, chosen on validation users), and the ``friends-items`` peer;
- **settings chosen on the test users**: :func:`~prefchat.reward.social.choose_social_prior` run on
  the test users' own sessions against the served score, as the build runs it (an oracle: the best trust, spread, item weight and item spread for
  these very users), then served as ``social-active``;
- **per-user oracle**: each task's better Recall@20 of the ``active`` and ``friends-items`` lists
  (and of ``social-active`` and ``friends-items``), which no served list can beat by choosing one of them;
- **reach**: the share of the test users' held-out items that any of their friends rated (the
  most any friends' items term can lift), per task and pooled.

Each line gives its ratio to ``active`` at the same answer count, against the issue's 1.2. Run::

    OPENBLAS_NUM_THREADS=1 python bench/social_bounds.py --pack /work/packs/ciao \\
        --ratings /work/packs/ciao-input/ratings.csv --friends /work/packs/ciao-input/friends.csv
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import sparse

from prefchat.elicitation.evaluate import benchmark_policy, task_seed
from prefchat.elicitation.onboarding import run_session
from prefchat.elicitation.respondents import RankingTargets
from prefchat.evaluation import load_dated_users
from prefchat.reward.build import served_strategy
from prefchat.reward.pack import load_pack
from prefchat.reward.social import choose_social_prior, served_without_friends
from prefchat.social_evaluation import STRATEGIES, friends_scores, social_evaluation, social_tasks

TARGET = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", required=True, type=Path, help="a pack with a social prior and its members' item lists")
    parser.add_argument("--ratings", required=True, type=Path, help="the pack's ratings.csv (test users and their friends)")
    parser.add_argument("--friends", required=True, type=Path, help="friends.csv")
    parser.add_argument("--answers", default="0,1,3,10", help="answer counts (default 0,1,3,10)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--pool-size", type=int, default=300)
    parser.add_argument("--users", type=int, default=None, help="at most this many test users (default all)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    answers = [int(n) for n in args.answers.split(",")]
    pack = load_pack(args.pack)
    social, model = pack.social, pack.known_model
    if social is None or model is None or social.item_indptr is None or social.item_indices is None:
        raise SystemExit(f"pack {args.pack} has no social prior with its members' item lists: build it with this prefchat")
    tasks, friends, rated = social_tasks(pack, args.friends, lambda ids: load_dated_users(args.ratings, pack, ids), args.seeds,
                                         args.users)
    peer = [friends_scores(friends, rated, task.user_id, pack.n_items) for task in tasks]

    def served(chosen) -> np.ndarray:
        """(n_strategies, n_answers, n_tasks) Recall@20 of the strategies with ``chosen`` as the pack's social prior."""
        evidence = [chosen.evidence(friends.of(task.user_id))[0] for task in tasks]
        run = social_evaluation(replace(pack, social=chosen), tasks, evidence, peer, answers, args.pool_size)
        return run.values[:, :, run.metrics.index("recall@20"), :]

    validated = served(social)
    # the oracle: the build's own selection, on the test users' served sessions instead of the validation users'
    prior = pack.serving.session_prior("watch")
    strategy = served_strategy(pack)  # the questions the pack serves, as its build's sessions and the social eval ask
    policy = benchmark_policy(strategy, pack.serving.pool(args.pool_size), max(answers), familiarity=pack.familiarity,
                              form=pack.serving.questions)
    sessions = [(task, run_session(pack.features, prior, policy, task.respondent, task_seed(task, strategy))) for task in tasks]
    matrix = sparse.csr_matrix((np.ones(len(social.item_indices)), np.array(social.item_indices), np.array(social.item_indptr)),
                               shape=(len(social.members), pack.n_items))  # copies: a loaded pack's arrays are read-only
    oracle, chosen, _ = choose_social_prior(model, matrix, social.members, friends, sessions, served_without_friends(pack))
    on_test = served(oracle)

    s = {name: i for i, name in enumerate(STRATEGIES)}
    active, peer_recall = validated[s["active"]], validated[s["friends-items"]]
    lines = {
        "active": active,
        "social-active (validated)": validated[s["social-active"]],
        "friends-items": peer_recall,
        "social-active (settings chosen on the test users)": on_test[s["social-active"]],
        "per-user best of active, friends-items": np.fmax(active, peer_recall),
        "per-user best of social-active, friends-items": np.fmax(validated[s["social-active"]], peer_recall),
    }
    reach = []
    for task in tasks:
        targets = task.targets
        assert isinstance(targets, RankingTargets)
        mine = [rated[f] for f in friends.of(task.user_id) if f in rated]
        known = np.unique(np.concatenate(mine)) if mine else np.empty(0, dtype=np.intp)
        reach.append((np.isin(targets.relevant, known).sum(), len(targets.relevant)))
    hits, total = np.array(reach).T
    print(f"pack {pack.name}: {len({task.user_id for task in tasks})} test users with friends, {len(tasks)} tasks; "
          f"validated trust {social.trust:g} spread {social.spread:g} item weight {social.item_weight:g} "
          f"item spread {social.item_spread:g}")
    print(f"chosen on the test users: {json.dumps({k: v for k, v in chosen.items() if k != 'social_discovery_slot'})}")
    print(f"held-out items any friend rated: {np.mean(hits / np.maximum(total, 1)):.3f} per task, {hits.sum() / total.sum():.3f} pooled")
    print("Recall@20 (ratio to active)  " + "  ".join(f"{n:>13}" for n in answers))
    report: dict = {"answers": answers, "chosen_on_test": chosen, "reach": {"per_task": float(np.mean(hits / np.maximum(total, 1))),
                                                                           "pooled": float(hits.sum() / total.sum())}, "lines": {}}
    for name, values in lines.items():
        means = np.nanmean(values, axis=1)
        ratios = means / np.nanmean(active, axis=1)
        print(f"{name:<48}" + "  ".join(f"{m:.4f} ({r:.2f})" for m, r in zip(means, ratios)))
        report["lines"][name] = {"recall@20": means.tolist(), "ratio_to_active": ratios.tolist(),
                                 "short_of_target": (TARGET - ratios).tolist()}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
