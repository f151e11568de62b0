r"""``prefchat eval --friends FILE``: the social prior against the same questions without it.

The pack's test users with at least one friend among its training users (``FILE`` as
:func:`~prefchat.reward.friends.load_friends` reads it; friends elsewhere are unknown to the pack),
in the "watch" protocol (:func:`~prefchat.elicitation.evaluate.rating_tasks`), each task one
served session: the pack's own questions (:func:`~prefchat.reward.build.served_strategy`, k-way where its
build chose them, and :attr:`~prefchat.reward.serving.Serving.questions`), with the benchmark's policy, pool,
familiarity and seed (:func:`~prefchat.elicitation.evaluate.task_seed`), as the build's validation sessions ask. After each answer count the catalog is ranked as
the app serves it (:class:`~prefchat.assistant.recommender.ServedScore`):

- ``active``: the user's answers alone (the population prior);
- ``social-active``: the same session, the same answers, with the pack's social prior of the
  user's friends (:meth:`~prefchat.elicitation.social.SocialModel.evidence`);
- ``social-discovery``: ``social-active``'s list with the discovery slot as served
  (:meth:`~prefchat.assistant.recommender.Recommender.discovered`: the pack's validated position);
- ``friends-items``: the items the user's friends rated, by how many of them did
  (:func:`~prefchat.elicitation.social.friends_items`), whatever the answers.

Metrics: ``recall@20`` of the EVAL half, and ``anomalous_recall@20``, the recall of the EVAL items
``active`` ranks in the bottom half of them at the same answer count
(:func:`~prefchat.elicitation.social.anomalous_items`). The report is
:mod:`~prefchat.elicitation.evaluate`'s, with its paired differences, and a ``social`` entry: the
pack's trust and spread, the users with friends, and the friends that were unknown.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np

from .assistant.recommender import ServedScore
from .elicitation.evaluate import Evaluation, Task, benchmark_policy, rating_tasks, summarise, task_seed
from .elicitation.metrics import recall_at_k
from .elicitation.onboarding import known_items, run_session
from .elicitation.respondents import RankingTargets
from .elicitation.social import SocialEvidence, anomalous_items, friends_items, with_discovery
from .reward.build import served_strategy
from .reward.friends import Friends, load_friends
from .reward.pack import Pack

__all__ = ["METRICS", "PAIRED", "STRATEGIES", "friends_scores", "social_evaluation", "social_report", "social_tasks"]

STRATEGIES = ("active", "social-active", "social-discovery", "friends-items")
METRICS = ("recall@20", "anomalous_recall@20")
PAIRED = (("social-active", "active"), ("social-active", "friends-items"), ("active", "friends-items"),
          ("social-discovery", "social-active"), ("social-discovery", "active"))


def social_evaluation(pack: Pack, tasks: list[Task], social: list[SocialEvidence | None], friend_scores: list[np.ndarray],
                      answers: list[int], pool_size: int, jobs: int = 1) -> Evaluation:
    """Every strategy of :data:`STRATEGIES` on every task at every answer count (module docstring).

    ``social`` and ``friend_scores``: each task's social evidence and ``friends-items`` scores.
    ``jobs`` worker processes each take a contiguous share of the tasks; the results do not depend on it.
    """
    if not (len(tasks) == len(social) == len(friend_scores)) or not tasks:
        raise ValueError(f"{len(tasks)} tasks, {len(social)} social evidences and {len(friend_scores)} friends' scores")
    run = partial(_evaluate_part, pack, answers=tuple(answers), pool_size=pool_size)
    parts = [list(zip(tasks, social, friend_scores))]
    if jobs > 1:
        parts = [list(share) for share in np.array_split(np.array(parts[0], dtype=object), jobs) if len(share)]
        with ProcessPoolExecutor(len(parts)) as executor:
            results = list(executor.map(run, parts))
    else:
        results = [run(parts[0])]
    values, asked, dont_know, top = (np.concatenate(field, axis=-1 if i < 3 else 2) for i, field in enumerate(zip(*results)))
    user_ids = np.array([task.user_id for task in tasks], dtype=object)
    return Evaluation(STRATEGIES, tuple(answers), METRICS, user_ids, values, asked, dont_know, top)


def _evaluate_part(pack: Pack, part, answers: tuple[int, ...], pool_size: int):
    """:func:`social_evaluation` of some ``(task, social, friends' scores)``: values, questions asked and
    "don't know"s (the session's, for both strategies that ask), top lists."""
    prior = pack.serving.session_prior("watch")
    strategy = served_strategy(pack)
    policy = benchmark_policy(strategy, pack.serving.pool(pool_size), answers[-1], familiarity=pack.familiarity,
                              form=pack.serving.questions)
    plain, model = ServedScore(pack, "watch"), pack.known_model
    assert model is not None  # social_report checks it
    values = np.full((len(STRATEGIES), len(answers), len(METRICS), len(part)), np.nan)
    asked = np.zeros((len(STRATEGIES), len(answers), len(part)), dtype=np.int64)
    dont_know = np.zeros_like(asked)
    top = np.full((len(STRATEGIES), len(answers), len(part), 20), -1, dtype=np.int64)
    for t, (task, evidence, friends) in enumerate(part):
        targets = task.targets
        assert isinstance(targets, RankingTargets)
        session = run_session(pack.features, prior, policy, task.respondent, task_seed(task, strategy))
        for a, n in enumerate(answers):
            reached = min(n, len(session.questions))
            posterior = session.posteriors[reached]
            own = plain.at(task.as_of)(posterior)  # served at the task's own moment, as the build's sessions are
            social = targets.ranked(own if evidence is None else ServedScore(pack, "watch", social=evidence, as_of=task.as_of)(posterior))
            told = known_items(posterior.answers)
            found = model.discovery(told, evidence, np.union1d(targets.exclude, social))
            lists = (targets.ranked(own), social, with_discovery(social, found, pack.discovery_slot), targets.ranked(friends))
            anomalous = anomalous_items(targets.relevant, own)
            for s, ranked in enumerate(lists):
                ranked = np.asarray(ranked, dtype=np.int64)
                values[s, a, :, t] = (recall_at_k(ranked, targets.relevant, targets.k), recall_at_k(ranked, anomalous, targets.k))
                top[s, a, t, : len(ranked)] = ranked
                if STRATEGIES[s] != "friends-items":  # the one that asks nothing
                    asked[s, a, t], dont_know[s, a, t] = reached, sum(session.dont_know[:reached])
    return values, asked, dont_know, top


def social_tasks(pack: Pack, friends_path, load_users, seeds: int, max_users: int | None = None,
                 ) -> tuple[list[Task], Friends, dict[str, np.ndarray]]:
    """The tasks of ``prefchat eval --friends`` (module docstring): the test users with a friend among the
    pack's training users (at most ``max_users``), ``seeds`` tasks each, each served at its own moment where
    the ratings are dated (as the build's validation sessions are: an item trend is read then, not at the
    data's end); the friends graph among those training users; and the items each of those friends rated
    (``load_users(ids)`` reads users' ratings and their timestamps, None for undated data)."""
    if pack.social is None or pack.known_model is None:
        raise ValueError(f"pack {pack.name!r} has no social prior: build it with --friends (prefchat train --friends "
                         f"FILE, or prefchat pack ciao)")
    friends = load_friends(friends_path).among(pack.social.members)
    with_friends = [user for user in pack.test_users if friends.of(user)]
    users, times = load_users(with_friends[:max_users])
    if not users:
        raise ValueError(f"{friends_path}: none of the {len(pack.test_users)} test users of pack {pack.name!r} has a "
                         "friend among its training users")
    train = load_users(sorted({friend for user in users for friend in friends.of(user)}))[0]
    return rating_tasks(users, "watch", range(seeds), pack.popularity, times=times), friends, {f: train[f][0] for f in train}


def friends_scores(friends: Friends, rated: dict[str, np.ndarray], user_id: str, n_items: int) -> np.ndarray:
    """The ``friends-items`` peer's scores of ``user_id``: what their friends in ``rated`` rated, by weight."""
    mine = {f: w for f, w in friends.of(user_id).items() if f in rated}
    return friends_items([rated[f] for f in mine], list(mine.values()), n_items)


def social_report(args: argparse.Namespace, pack: Pack, load_users) -> dict:
    """The report of ``prefchat eval --friends`` (module docstring); ``load_users(ids)`` reads users' ratings and
    their timestamps (:func:`social_tasks`)."""
    start = time.perf_counter()
    if args.protocol != "watch":
        raise ValueError("--friends ranks the catalog: it runs in the watch protocol only (--protocol watch)")
    tasks, friends, rated = social_tasks(pack, args.friends, load_users, args.seeds, args.users)
    assert pack.social is not None  # social_tasks checks it
    social = [pack.social.evidence(friends.of(task.user_id))[0] for task in tasks]
    friend_scores = [friends_scores(friends, rated, task.user_id, pack.n_items) for task in tasks]
    evaluation = social_evaluation(pack, tasks, social, friend_scores, args.answers, args.pool_size, args.jobs)
    summary = summarise(evaluation, paired=PAIRED, n_items=pack.n_items)
    counts = [len(friends.of(user)) for user in dict.fromkeys(task.user_id for task in tasks)]
    return {
        "dataset": pack.name, "protocol": "watch", "seeds": args.seeds, "pool_size": args.pool_size,
        "n_test_users": summary["n_test_users"], "through_api": False, "answerable": "known",
        "seconds": round(time.perf_counter() - start, 2), "results": summary["results"], "paired": summary["paired"],
        "social": {"trust": pack.social.trust, "spread": pack.social.spread, "item_weight": pack.social.item_weight,
                   "item_spread": pack.social.item_spread, "discovery_slot": pack.discovery_slot,
                   "test_users": len(pack.test_users),
                   "test_users_with_friends": len(counts),
                   "friends_per_user": {"median": float(np.median(counts)), "max": int(max(counts))}},
    }
