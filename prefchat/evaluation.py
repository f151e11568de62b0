"""``prefchat eval``: benchmark question strategies on a pack's held-out test users.

Reads the pack and the ratings file, keeps the pack's TEST users only (never training or
validation users), runs :func:`prefchat.elicitation.evaluate.evaluate`, prints one table per
metric plus the paired differences, and writes the JSON report whose schema is documented in
:mod:`prefchat.elicitation.evaluate`. The flags are defined in :mod:`prefchat.cli`
(:func:`~prefchat.cli.add_eval_arguments`), which imports this module only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .assistant.packs import resolve_pack
from .assistant.recommender import ServedScore
from .default.benchmark import simulated_tasks
from .elicitation.evaluate import (
    ANSWERABLE_ORACLE,
    KWAY_SESSIONS,
    ORACLE_QUESTIONS,
    PEERS,
    Evaluation,
    Task,
    evaluate,
    popularity_bias,
    popularity_scores,
    rating_tasks,
    shared_account_tasks,
    summarise,
    task_seed,
)
from .elicitation.onboarding import CatalogScore
from .elicitation.peers import EASE_L2_GRID, IALS_GRID, Ease, Ials, Peer, choose_peer, implicit_matrix
from .elicitation.person import HEAD_ITEMS, PERSON_MEASURES, person_report
from .elicitation.posterior import KWayChoice
from .elicitation.recency import RecentPopularity, choose_window
from .elicitation.respondents import RankingTargets, RatingsRespondent, SharedAccount, SharedAccountTargets
from .elicitation.selection import Question
from .reward.data import STRING, DataError, Items, load_ratings
from .reward.pack import Pack, load_pack
from .settings import Settings
from .social_evaluation import social_report

Users = dict[str, tuple[np.ndarray, np.ndarray]]
"""user id -> (item indices, ratings), as :func:`~prefchat.elicitation.evaluate.rating_tasks` takes them."""
Times = dict[str, np.ndarray]
"""user id -> the timestamps of the user's ratings, in the order of :data:`Users`' items."""


def load_test_users(path: Path, pack: Pack, max_users: int | None = None) -> Users:
    """The ratings of the pack's test users found in ``path``: user id -> (item indices, ratings).

    Users come in the order of the pack's split; at most ``max_users`` of them.
    """
    return load_dated_test_users(path, pack, max_users)[0]


def load_dated_test_users(path: Path, pack: Pack, max_users: int | None = None) -> tuple[Users, Times | None]:
    """:func:`load_test_users` with the ratings' timestamps (None when ``path`` has no ``timestamp`` column)."""
    users, times = load_dated_users(path, pack, pack.test_users, max_users)
    if not users:
        raise ValueError(f"{path}: none of the {len(pack.test_users)} test users of pack {pack.name!r} has two ratings or more")
    return users, times


def load_dated_users(path: Path, pack: Pack, ids, max_users: int | None = None) -> tuple[Users, Times | None]:
    """The ratings of the users ``ids`` (e.g. a part of the pack's split) found in ``path``, in that order, and
    their timestamps (None when ``path`` has no ``timestamp`` column)."""
    catalog = Items(
        item_ids=np.array([item.item_id for item in pack.items], dtype=STRING),
        texts=np.array([item.text for item in pack.items], dtype=STRING),
        titles=np.array([item.title for item in pack.items], dtype=STRING),
        tags=tuple(item.tags for item in pack.items),
    )
    try:
        ratings = load_ratings(path, catalog)
    except DataError as error:
        raise DataError(error.path, f"{error.args[0]} (item ids must be those of pack {pack.name!r})") from None
    user_index = {user_id: u for u, user_id in enumerate(ratings.user_ids.tolist())}
    present = [user_id for user_id in ids if user_id in user_index][:max_users]
    order = np.argsort(ratings.user, kind="stable")
    bounds = np.searchsorted(ratings.user[order], np.arange(len(ratings.user_ids) + 1))
    users, times = {}, {}
    for user_id in present:
        u = user_index[user_id]
        rows = order[bounds[u] : bounds[u + 1]]
        users[user_id] = (ratings.item[rows], ratings.rating[rows])
        if ratings.timestamp is not None:
            times[user_id] = ratings.timestamp[rows]
    return users, None if ratings.timestamp is None else times


def require_times(times: Times | None, path: Path, what: str) -> Times:
    """``times``, or the error that names the missing column: ``what`` needs dated ratings."""
    if times is None:
        raise DataError(path, f"{what} needs the ratings' dates: the file has no 'timestamp' column "
                              "(ratings.csv: user_id,item_id,rating,timestamp)")
    return times


def before_cut(users: Users, times: Times | None, cut: float | None) -> tuple[Users, Times | None]:
    """Each user's ratings dated before ``cut`` (all of them without a cut): what a pack trained before it could see."""
    if cut is None or times is None:
        return users, times
    kept = {user_id: times[user_id] < cut for user_id in users}
    return ({user_id: (items[kept[user_id]], ratings[kept[user_id]]) for user_id, (items, ratings) in users.items()},
            {user_id: when[kept[user_id]] for user_id, when in times.items()})


def training_data(pack: Pack, path: Path, seed: int = 0, split: str = "random",
                  cut: float | None = None) -> tuple[Users, Times | None, list[Task]]:
    """What the peers learn from and are chosen on: the pack's TRAINING users' ratings (and their
    timestamps, None when ``path`` has none), and the watch tasks of its VALIDATION users, split as
    the benchmark splits the test users (``split``, ``cut``, ``seed``); never test users.

    The ratings file holds everyone: only the rows of the users the pack trained on
    (:attr:`~prefchat.reward.pack.Pack.split`) are read, and with a global ``cut`` only those
    dated before it, as the pack was trained.
    """
    train, train_times = before_cut(*load_dated_users(path, pack, pack.split.get("train", ())), cut)
    validation, validation_times = load_dated_users(path, pack, pack.split.get("validation", ()))
    if split == "time":
        require_times(validation_times, path, "--split time")
    tasks = rating_tasks(validation, "watch", [seed], pack.popularity, split=split, times=validation_times, cut=cut)
    if not train or not tasks:
        raise ValueError(f"{path}: peers need the training and validation users of pack {pack.name!r}; found "
                         f"{len(train)} and {len(tasks)}")
    return train, train_times, tasks


def fit_peers(pack: Pack, path: Path, names: set[str], seed: int = 0, split: str = "random",
              cut: float | None = None) -> tuple[dict[str, Peer], dict]:
    """The peers ``names`` (of :data:`~prefchat.elicitation.evaluate.PEERS`), fitted on the pack's TRAINING users.

    The training users' rows (:func:`training_data`) make the 0/1 matrix. Each peer's setting is
    chosen by :func:`~prefchat.elicitation.peers.choose_peer` on the pack's VALIDATION users
    (QUERY/EVAL halves as the benchmark splits them), never on test users. Returns the peers and,
    per peer, the chosen setting with the score of every setting tried (the report's ``peers`` entry).
    """
    train, _, tasks = training_data(pack, path, seed, split, cut)
    rows = np.concatenate([np.full(len(items), u) for u, (items, _) in enumerate(train.values())])
    cols = np.concatenate([items for items, _ in train.values()])
    matrix = implicit_matrix(rows, cols, len(train), pack.n_items)
    held = []
    for task in tasks:
        assert isinstance(task.respondent, RatingsRespondent) and isinstance(task.targets, RankingTargets)
        held.append((task.respondent.query_items, task.targets.relevant))
    peers: dict[str, Peer] = {}
    report: dict[str, dict] = {}
    grids: dict[str, tuple[str, list]] = {
        "ease": ("l2", [(l2, lambda l2=l2: Ease.fit(matrix, l2)) for l2 in EASE_L2_GRID]),
        "ials": ("factors, alpha", [(list(fa), lambda fa=fa: Ials.fit(matrix, factors=fa[0], alpha=fa[1], seed=seed)) for fa in IALS_GRID]),
    }
    for name in sorted(names):
        label, grid = grids[name]
        candidates = [(setting, make()) for setting, make in grid]
        best, table = choose_peer(candidates, held)
        peers[name] = candidates[best][1]
        report[name] = {label: candidates[best][0], "validation_users": len(held), "selection": table,
                        "train_users": len(train)}
    return peers, report


def fit_recent(pack: Pack, path: Path, seed: int = 0, split: str = "random",
               cut: float | None = None) -> tuple[RecentPopularity, dict]:
    """The ``recent-popularity`` peer: the pack's TRAINING users' dated ratings (:func:`training_data`),
    its window chosen by :func:`~prefchat.elicitation.recency.choose_window` on the VALIDATION users'
    tasks. Returns it and the report's ``peers`` entry for it (the window, in the timestamps' unit
    and in days when they are seconds, and the score of every window tried)."""
    train, train_times, tasks = training_data(pack, path, seed, split, cut)
    times = require_times(train_times, path, "the recent-popularity strategy")
    items = np.concatenate([items for items, _ in train.values()])
    when = np.concatenate([times[user_id] for user_id in train])
    users = []
    for task in tasks:
        assert isinstance(task.respondent, RatingsRespondent) and isinstance(task.targets, RankingTargets)
        assert task.as_of is not None  # dated: the validation users' timestamps were read
        users.append((task.as_of, task.respondent.query_items, task.targets.relevant))
    recent, table = choose_window(items, when, pack.n_items, users)
    window = recent.window if np.isfinite(recent.window) else None
    return recent, {"window": window, "window_days": None if window is None else window / 86400.0,
                    "validation_users": len(users), "selection": table, "train_users": len(train)}


def check_cut(pack: Pack, split: str, cut: float | None) -> None:
    """A global ``cut`` is only measured on a pack trained on ratings dated before it
    (:attr:`~prefchat.reward.pack.Pack.trained_before` at or before the cut): otherwise the held-out
    ratings after the cut were part of training."""
    if cut is None:
        return
    if split != "time":
        raise ValueError(f"--cut {cut:g} is a global cut in time: it runs with --split time")
    before = pack.trained_before
    if before is None:
        raise ValueError(f"--cut {cut:g}: pack {pack.name!r} was trained on ratings of every date, those after the cut "
                         "among them; build the pack with --before DATE (prefchat train, prefchat pack ... --before)")
    if before > cut:
        raise ValueError(f"--cut {cut:g}: pack {pack.name!r} was trained on ratings dated up to {before:g}, after the "
                         "cut; the held-out ratings would have been trained on")


def niche_users(users: dict[str, tuple[np.ndarray, np.ndarray]], popularity: np.ndarray) -> list[str]:
    """The quartile of ``users`` whose rated items are least popular on average (the ``niche`` cohort)."""
    ids = list(users)
    mean = np.array([np.mean(popularity[users[u][0]]) for u in ids])
    return [ids[i] for i in np.argsort(mean, kind="stable")[: max(1, len(ids) // 4)]]


SERVED = ("population", "random", "active", "bald", "kway", "random-kway")
"""Strategies ``--through-api`` runs through the app: those of the served question policy
(``kway`` and ``random-kway`` as sessions of the pack's k-way questions, :attr:`~prefchat.reward.pack.Pack.kway_size` options;
``population`` as a session of no questions). The others are not served: popularity and oracle
are references, and pref-reference scores with its own estimator."""


def run(args: argparse.Namespace, pack: Pack, pack_path: Path, settings: Settings) -> dict:
    """Evaluate as ``args`` ask; the JSON report."""
    if args.friends is not None:  # the social prior against the same questions without it
        if args.ratings is None:
            raise ValueError("--friends needs --ratings RATINGS.csv: the test users' held-out ratings and their friends'")
        if args.merged_accounts:
            raise ValueError("--friends evaluates one person's social prior; it does not run with --merged-accounts")
        if args.split != "random":
            raise ValueError("--friends runs the random split only")
        return {"pack": str(pack_path), **social_report(args, pack, lambda ids: load_dated_users(args.ratings, pack, ids))}
    start = time.perf_counter()
    on_sight = (args.answerable or pack.answerable) == "on-sight"
    groups, features = pack.groups, pack.features
    familiarity = None if on_sight else pack.familiarity
    cohorts: dict[str, list[str]] = {}
    check_cut(pack, args.split, args.cut)
    without_both_sides = 0
    if args.protocol == "simulated":
        if args.split != "random":
            raise ValueError("the simulated protocol has no dates: it runs the random split only")
        tasks, features = simulated_tasks(pack, range(args.seeds), settings.embedding_model, settings.cache_dir, args.users)
        # Held-out prompts' responses follow the catalog: they are scored, never asked about.
        groups = np.concatenate([groups, np.full(len(features) - pack.n_items, -1)])
    else:
        if args.ratings is None:
            raise ValueError(f"the {args.protocol} protocol needs --ratings RATINGS.csv")
        users, times = load_dated_test_users(args.ratings, pack, args.users)
        if args.split == "time":
            require_times(times, args.ratings, "--split time")
        if args.merged_accounts:
            if args.protocol != "watch":
                raise ValueError("--merged-accounts runs the watch protocol: an account's list of the catalog is "
                                 "judged against each member's held-out items")
            if args.split != "random":
                raise ValueError("--merged-accounts runs the random split only")
            tasks = shared_account_tasks(users, range(args.seeds), pack.popularity, on_sight=on_sight, times=times)
        else:
            tasks = rating_tasks(users, args.protocol, range(args.seeds), pack.popularity, on_sight=on_sight,
                                 split=args.split, times=times, cut=args.cut)
            without_both_sides = len(users) - len({task.user_id for task in tasks})
            if not tasks:
                raise ValueError(f"none of the {len(users)} test users of pack {pack.name!r} in {args.ratings} has "
                                 f"ratings both before and after the cut {args.cut:g}")
            if args.protocol == "watch":
                cohorts = {"niche": niche_users({task.user_id: users[task.user_id] for task in tasks}, pack.popularity)}
    wanted = {name.removesuffix("-oracle") for name in args.strategies} & set(PEERS)
    if (wanted or "recent-popularity" in args.strategies) and args.protocol != "watch":
        raise ValueError(f"the peers ({', '.join((*PEERS, 'recent-popularity'))}) rank the catalog: they run in the "
                         "watch protocol only")
    peers, peer_report = fit_peers(pack, args.ratings, wanted, split=args.split, cut=args.cut) if wanted else ({}, {})
    recent = None
    if "recent-popularity" in args.strategies:
        recent, peer_report["recent-popularity"] = fit_recent(pack, args.ratings, split=args.split, cut=args.cut)
    # "Which would you rather watch?" (watch answers, catalog ranking): the pack's "watch" session
    # prior and catalog score, as the app serves them; "which do you prefer?" between rated items: "prefer".
    objective = "watch" if args.protocol == "watch" else "prefer"
    prior = pack.serving.session_prior(objective)
    # The simulated protocol scores held-out prompts' responses beyond the catalog by their utility.
    score = CatalogScore(features) if args.protocol == "simulated" else ServedScore(pack, objective)
    popularity = None if args.protocol == "simulated" else popularity_scores(args.protocol, pack.popularity, pack.quality)
    if args.through_api:
        evaluation = served_evaluation(pack, tasks, args.strategies, args.answers, args.pool_size, popularity, settings,
                                       peers=peers, recent=recent)
    else:
        evaluation = evaluate(
            tasks, features, prior.prior_mean, prior.prior_cov, strategies=args.strategies, answers=args.answers,
            pool=pack.serving.pool(args.pool_size), popularity=popularity, groups=groups, familiarity=familiarity,
            jobs=args.jobs, score=score, peers=peers, recent=recent, form=pack.serving.questions,
        )
    summary = summarise(evaluation, cohorts=cohorts, n_items=pack.n_items)
    report = {
        "dataset": pack.name, "pack": str(pack_path), "protocol": args.protocol, "seeds": args.seeds,
        "split": args.split, "cut": args.cut, "users_without_both_sides": without_both_sides,
        "pool_size": args.pool_size, "kway_size": pack.kway_size, "n_test_users": summary["n_test_users"], "through_api": bool(args.through_api),
        "merged_accounts": bool(args.merged_accounts),
        "answerable": "on-sight" if on_sight else "known",
        "seconds": round(time.perf_counter() - start, 2),
        "results": summary["results"], "paired": summary["paired"],
    }
    if evaluation.top is not None:
        relevant = [task.targets.relevant for task in tasks if isinstance(task.targets, RankingTargets)]
        report["popularity_bias"] = popularity_bias(evaluation, pack.popularity, relevant)
        # Each person's own list: the pack's descriptors (a tags pack: its tags) as the genres.
        report["per_person"] = person_report(evaluation.top, evaluation.strategies, evaluation.answers,
                                             evaluation.user_ids, relevant, pack.serving.descriptors.carried,
                                             pack.popularity)
        report["cohorts"] = {name: len(members) for name, members in cohorts.items()}
    if evaluation.personas:
        report["personas"] = list(evaluation.personas)
    if peer_report:
        report["peers"] = peer_report
    return report


def served_evaluation(pack: Pack, tasks: list[Task], strategies: list[str], answers: list[int], pool_size: int,
                      popularity: np.ndarray | None, settings: Settings, peers: dict | None = None,
                      recent: RecentPopularity | None = None) -> Evaluation:
    """The watch protocol on the served path: every session through the public Python API.

    For each task, strategy of :data:`SERVED` and answer count ``n``, a new user of an
    :class:`~prefchat.api.Assistant` on a temporary SQLite store starts a session of exactly
    ``n`` questions (the benchmark's stop rule, and its seed,
    :func:`~prefchat.elicitation.evaluate.task_seed`), the task's respondent answers every
    question shown (by its question id), and what :meth:`~prefchat.api.Assistant.recommend`
    serves is scored: the served list, in its order, long enough to hold 20 items outside the
    QUERY half. ``popularity``, ``recent-popularity``, ``oracle``, ``oracle-questions``, ``answerable-oracle`` and the
    peers are not served; they are computed as the benchmark does, on the same tasks and with the pack's questions
    (:attr:`~prefchat.reward.serving.Serving.questions`), so that the paired differences hold.
    """
    from .api import Assistant

    unserved = [name for name in strategies
                if name not in SERVED and name not in ("popularity", "recent-popularity", "oracle", ORACLE_QUESTIONS,
                                                       ANSWERABLE_ORACLE, *PEERS, *(f"{p}-oracle" for p in PEERS))]
    if unserved:
        raise ValueError(f"--through-api runs the served strategies {', '.join(SERVED)} (with popularity, oracle, "
                         f"{ORACLE_QUESTIONS} and {ANSWERABLE_ORACLE} as references); {unserved[0]!r} is not served")
    if not all(isinstance(task.targets, RankingTargets) and isinstance(task.respondent, RatingsRespondent | SharedAccount)
               for task in tasks):
        raise ValueError("--through-api runs the watch protocol: the served recommendations are a catalog ranking")
    if pack.objective != "watch":
        raise ValueError(f"--through-api measures the served catalog recommendations of a pack with base rates; "
                         f"pack {pack.name!r} has none (its sessions ask 'which do you prefer?')")
    prior = pack.serving.session_prior("watch")
    references = [name for name in strategies if name not in SERVED]
    reference = evaluate(tasks, pack.features, prior.prior_mean, prior.prior_cov, references, answers,
                         pool=pack.serving.pool(pool_size), popularity=popularity, familiarity=pack.familiarity,
                         score=ServedScore(pack, "watch"), peers=peers, recent=recent,
                         form=pack.serving.questions) if references else None
    metrics = tuple(tasks[0].targets.metrics)
    values = np.full((len(strategies), len(answers), len(metrics), len(tasks)), np.nan)
    asked, dont_know = (np.zeros((len(strategies), len(answers), len(tasks)), dtype=np.int64) for _ in range(2))
    assert isinstance(tasks[0].targets, RankingTargets)
    k = tasks[0].targets.k
    top = np.full((len(strategies), len(answers), len(tasks), k), -1, dtype=np.int64)
    tastes = np.full((len(strategies), len(answers), len(tasks), 3), np.nan)  # kept one persona, persona hits, attributed
    with tempfile.TemporaryDirectory() as home, \
            Assistant.open(pack, db=f"sqlite:///{home}/served.sqlite", settings=settings) as app:
        for s, name in enumerate(strategies):
            if name not in SERVED:
                assert reference is not None  # it ran every strategy that is not served
                r = reference.strategies.index(name)
                values[s], asked[s], dont_know[s] = reference.values[r], reference.asked[r], reference.dont_know[r]
                assert reference.top is not None
                top[s] = reference.top[r]
                continue
            for t, task in enumerate(tasks):
                for a, n in enumerate(answers):
                    if name == "population" and a:  # a session of no questions, whatever the count
                        values[s, a, :, t], top[s, a, t] = values[s, 0, :, t], top[s, 0, t]
                        continue
                    served, asked[s, a, t], dont_know[s, a, t], answered = _served_session(
                        app, task, name, 0 if name == "population" else n, pool_size)
                    tastes[s, a, t] = persona_attribution(served, task, answered, app.pack.index_of)
                    scores = np.full(pack.n_items, -np.inf)
                    scores[[pack.index_of(pick.item_id) for pick in served]] = [pick.score for pick in served]
                    values[s, a, :, t] = [task.targets(scores)[metric] for metric in metrics]
                    assert isinstance(task.targets, RankingTargets)
                    ranked = task.targets.ranked(scores)
                    top[s, a, t, : len(ranked)] = ranked
    user_ids = np.array([task.user_id for task in tasks], dtype=object)
    rows = tuple(persona_row(name, n, tastes[s, a]) for s, name in enumerate(strategies) if name in SERVED
                 for a, n in enumerate(answers))
    return Evaluation(tuple(strategies), tuple(answers), metrics, user_ids, values, asked, dont_know, top, rows)


def persona_attribution(served, task: Task, answered: list[tuple[int | None, frozenset[int]]], index_of) -> np.ndarray:
    """What one served list says of the user's tastes (:attr:`~prefchat.assistant.recommender.Ranked.persona`):
    whether it serves one taste (1) or several (0), and on a shared account the hits in the top k
    that name a taste and how many of those name one that belongs to the member whose held-out items
    hold the hit. A taste belongs to the member who gave most of its answers (``answered``: each
    answer's member and the items it shows the user knows; the first member among equals)."""
    kept = float(all(pick.persona is None for pick in served))
    targets = task.targets
    if not isinstance(targets, SharedAccountTargets):
        return np.array([kept, np.nan, np.nan])
    ranked = [pick for pick in served if index_of(pick.item_id) not in targets.exclude][: targets.k]
    members = [set(np.asarray(own).tolist()) for own in targets.members]
    hits = attributed = 0
    for pick in ranked:
        item = index_of(pick.item_id)
        if pick.persona is None or not any(item in own for own in members):
            continue
        votes = [sum(len(known & set(pick.persona.items)) for who, known in answered if who == m) for m in range(len(members))]
        hits += 1
        attributed += item in members[int(np.argmax(votes))]
    return np.array([kept, hits, attributed])


def persona_row(strategy: str, answers: int, tastes: np.ndarray) -> dict:
    """One row of the report's ``personas``: the share of users (or accounts) whose served list serves one
    taste, and on shared accounts the share of split accounts, the hits that name a taste and the
    share of those that name the taste of the member the hit is for (``attribution``); None where no
    list was read (JSON has no nan)."""
    kept, hits, attributed = tastes[:, 0], tastes[:, 1], tastes[:, 2]
    total = float(np.nansum(hits))
    return {"strategy": strategy, "answers": int(answers),
            "kept_one": float(np.nanmean(kept)) if np.isfinite(kept).any() else None,
            "persona_hits": int(total), "attribution": float(np.nansum(attributed) / total) if total else None}


def _served_session(app, task: Task, strategy: str, n: int, pool_size: int):
    """One onboarding of ``n`` questions through ``app``; what it recommends, the clicks and the don't-knows."""
    from .assistant.session import utc_now
    from .assistant.turns import QuestionTurn, SessionOptions

    kway = strategy in KWAY_SESSIONS
    policy = KWAY_SESSIONS.get(strategy, "active" if strategy == "population" else strategy)  # population asks nothing
    options = SessionOptions(min_questions=n, max_questions=n, strategy=policy, pool_size=pool_size,
                             objective="watch", n_recommendations=1, question_size=app.pack.kway_size if kway else 2)
    user = f"eval-{task.seed}-{strategy}-{n}-{task.user_id}"
    # served at the moment the task's known part ends, as a user onboarding then would be
    app.clock = utc_now if task.as_of is None else partial(datetime.fromtimestamp, task.as_of, UTC)
    turn = app.start(user, options=options, seed=task_seed(task, strategy))
    clicks = skips = 0
    answered: list[tuple[int | None, frozenset[int]]] = []
    while isinstance(turn, QuestionTurn):
        question = Question(tuple(app.pack.index_of(card.item_id) for card in turn.items))
        response = task.respondent.answer(question)
        if kway:  # typed as a person would: a position, or none of them
            assert not isinstance(response, KWayChoice)  # the watch respondent picks among all shown
            text = "none of these" if response is None else str(question.items.index(int(response)) + 1)
        else:
            text = str(response)
        member = task.respondent.member(question) if isinstance(task.respondent, SharedAccount) else None
        answered.append((member, _shown_known(question, response)))
        clicks, skips = clicks + 1, skips + (response in ("skip", None))
        turn = app.answer(turn.session_id, text, question_id=turn.question_id)
    assert isinstance(task.targets, RankingTargets)
    depth = min(app.pack.n_items, task.targets.k + len(task.targets.exclude))  # the top k once what is left out is out
    return app.recommend(user, k=depth), clicks, skips, answered


def _shown_known(question: Question, response) -> frozenset[int]:
    """The items one answer shows the user knows (as :func:`~prefchat.elicitation.onboarding.known_items`):
    a pair's winner, both of a tie, a k-way pick."""
    if response in ("skip", None):
        return frozenset()
    if response == "tie":
        return frozenset(question.items)
    if response in ("a", "b"):
        return frozenset({question.items["ab".index(response)]})
    return frozenset({int(response)})


def _cell(mean: float | None, ci: list[float | None]) -> str:
    """``0.642±0.020``: a mean and the half-width of its 95% interval."""
    low, high = ci
    if mean is None:
        return "-"
    return f"{mean:.3f}" if low is None or high is None else f"{mean:.3f}±{(high - low) / 2:.3f}"


def format_report(report: dict) -> str:
    """The report as plain-text tables, one row per strategy and one column per answer count."""
    results = {(row["strategy"], row["answers"], row["metric"]): row for row in report["results"]}
    paired = {(row["a"], row["b"], row["answers"], row["metric"]): row for row in report["paired"]}
    strategies, answers, metrics = ({key[i]: None for key in results} for i in range(3))
    pairs = {key[:2]: None for key in paired}
    width = max(len(label) for label in [*strategies, *(f"{a} - {b}" for a, b in pairs), "strategy"]) + 2

    def row(label: str, cells) -> str:
        return f"{label:<{width}}" + "".join(f"{cell:>14}" for cell in cells)

    split = report.get("split", "random") + ("" if report.get("cut") is None else f" (cut {report['cut']:.0f})")
    lines = [
        f"{report['dataset']} {report['protocol']}, {split} split: {report['n_test_users']} test users x {report['seeds']} seeds, "
        f"pool {report['pool_size']}, " + ("" if "kway_size" not in report else f"kway {report['kway_size']} options, ")
        + f"{report['seconds']:.0f} s. Columns: answers (clicks, including don't know)."
    ]
    for metric in metrics:
        lines += ["", f"{metric} (mean ± 95% CI half-width over users)", row("strategy", answers)]
        for s in strategies:
            lines.append(row(s, (_cell(results[s, n, metric]["mean"], results[s, n, metric]["ci95"]) for n in answers)))
    clicks = {"dont_know_rate": "don't-know rate (share of the questions asked)",
              "mostly_unanswered": "users who knew at most half of what they were asked (don't know on half their "
                                   "clicks or more)"}
    for key, title in clicks.items():  # per session, not per metric: read from the first metric's rows
        lines += ["", title, row("strategy", answers)]
        for s in strategies:
            shares = [results[s, n, next(iter(metrics))][key] for n in answers]
            if any(share is not None for share in shares):
                lines.append(row(s, ("-" if share is None else f"{share:.2f}" for share in shares)))
    for metric in {key[3]: None for key in paired}:
        lines += ["", f"paired differences, {metric} (per-user mean ± 95% CI half-width)", row("a - b", answers)]
        for a, b in pairs:
            cells = (_cell(paired[a, b, n, metric]["mean_diff"], paired[a, b, n, metric]["ci95"]) for n in answers)
            lines.append(row(f"{a} - {b}", cells))
    bias = report.get("popularity_bias")
    if bias:
        last = max(row["answers"] for row in bias["exposure"])
        lines += ["", f"popularity bias: share of top-20 slots by popularity decile (1 = most popular tenth of the "
                      f"catalog) at {last} answers, against the test users' own held-out items",
                  row("decile", bias["deciles"])]
        lines.append(row("users' own", (f"{share:.3f}" for share in bias["users"])))
        for entry in bias["exposure"]:
            if entry["answers"] == last:
                lines.append(row(entry["strategy"], (f"{share:.3f}" for share in entry["shares"])))
    lines += _person_tables(report.get("per_person", []), width)
    if report.get("personas"):
        lines += ["", "tastes (served lists): share kept as one taste; on shared accounts the hits naming a taste and "
                      "the share naming the member's own"]
        for entry in report["personas"]:
            share = "-" if entry["attribution"] is None else f"{entry['attribution']:.2f}"
            kept = "-" if entry["kept_one"] is None else f"{entry['kept_one']:.2f}"
            lines.append(f"{entry['strategy']:<{width}}{entry['answers']:>6} answers   kept one {kept}   "
                         f"hits {entry['persona_hits']:>4}   attribution {share}")
    return "\n".join(lines)


def _person_tables(rows: list[dict], width: int) -> list[str]:
    """The per-person measures, one table per measure (rows strategies, columns answer counts)."""
    if not rows:
        return []
    answers = sorted({row["answers"] for row in rows})
    by = {(row["strategy"], row["answers"]): row for row in rows}
    lines = ["", f"per person (each user's own list, then averaged; head = the {HEAD_ITEMS} most popular items)"]
    for measure in (*PERSON_MEASURES, "personalisation"):
        lines += ["", f"{measure.replace('_', ' ')}", f"{'strategy':<{width}}" + "".join(f"{n:>14}" for n in answers)]
        for strategy in {row["strategy"]: None for row in rows}:
            cells = (by[strategy, n][measure] for n in answers)
            lines.append(f"{strategy:<{width}}" + "".join(f"{'-' if v is None else f'{v:.3f}':>14}" for v in cells))
    return lines


def main(args: argparse.Namespace) -> int:
    """Run ``prefchat eval``: print the tables, write ``args.json``."""
    settings = Settings.from_env()
    pack_path = resolve_pack(args.pack, settings)
    with threadpool_limits(limits=1):  # thousands of tiny matrix products: BLAS threads only contend
        report = run(args, load_pack(pack_path), pack_path, settings)
    print(format_report(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0
