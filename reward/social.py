r"""The social prior of a pack built with a friends graph, chosen on validation users with friends.

The prior is :mod:`prefchat.elicitation.social`'s: a new user's friends among the pack's training
users add :math:`c = \alpha (\sum_f w_f)^\rho` pseudo-items at their weighted mean coefficient to the
known-items posterior. :func:`choose_social_prior` tries every :math:`(\alpha, \rho)` of
:data:`TRUST_GRID` x :data:`SPREAD_GRID` on the validation users who have a friend among the
training users: their served onboarding sessions (the ones the known-items model was chosen by),
the catalog ranked by the known-items model after each of :data:`SOCIAL_ANSWERS` answers, scored by
mean Recall@20 of the EVAL half. With them, the friends' items term's :math:`(\gamma, \eta)` of
:data:`ITEM_WEIGHT_GRID` x :data:`ITEM_SPREAD_GRID` (every pair with every :math:`(\alpha, \rho)`:
the term is added to each ranking's scores, so the grid costs one posterior per prior). The best
wins; among equals the smaller trust, then the smaller item weight (:math:`\alpha = \gamma = 0` is
today's prior). The pack keeps the training users' coefficients and known items, so that friends
named at serving time are read from them. The discovery slot's position is chosen on the same sessions
(:func:`choose_discovery_slot`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from ..elicitation.evaluate import Task
from ..elicitation.known import KnownModel, user_coefficients
from ..elicitation.metrics import recall_at_k, recall_floor, top_k
from ..elicitation.onboarding import Session, known_items
from ..elicitation.posterior import Posterior
from ..elicitation.respondents import RankingTargets
from ..elicitation.social import SocialModel, anomalous_items, friends_term, friends_votes, item_lists, with_discovery
from .friends import Friends
from .pack import Pack
from .scoring import Scorer, served_taste

__all__ = ["DISCOVERY_TOLERANCE", "ITEM_SPREAD_GRID", "ITEM_WEIGHT_GRID", "SLOT_GRID", "SOCIAL_ANSWERS", "SPREAD_GRID",
           "TRUST_GRID", "Served", "choose_discovery_slot", "choose_social_prior", "served_without_friends"]

TRUST_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
"""The :math:`\\alpha` tried: how many pseudo-items friends are worth (times their weight to the :math:`\\rho`)."""
SPREAD_GRID = (0.0, 0.5, 1.0)
"""The :math:`\\rho` tried: 0, friends together are worth :math:`\\alpha` whatever their number; 1, each adds :math:`\\alpha w_f`."""
ITEM_WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
"""The :math:`\\gamma` tried: the weight of the friends' items term :math:`\\gamma \\log(1 + v_j)` (16: the items
friends know first, as the ``friends-items`` peer, in the model's order)."""
ITEM_SPREAD_GRID = (0.0, 0.5, 1.0)
"""The :math:`\\eta` tried: :math:`v_j` the weighted number of friends who know :math:`j` (0) up to their share (1)."""
SLOT_GRID = (0, 20, 15, 10, 5, 3, 1)
"""Positions of the discovery slot tried (1-based in the top 20; 0: no slot)."""
DISCOVERY_TOLERANCE = 0.03
"""The slot may cost at most this share of the validation Recall@20 without it (as the exposure control;
:func:`~prefchat.elicitation.metrics.recall_floor`)."""
SOCIAL_ANSWERS = (0, 1, 3, 10)
"""Answer counts at which a setting is scored (the benchmark's): a social prior must help before the
first answer and not hurt after ten."""


Served = Callable[[Task, Posterior], np.ndarray]
"""(task, posterior) -> (n_items,) the served score of a task's session after some answers, without friends."""


def served_without_friends(pack: Pack) -> Served:
    """``pack``'s served score (:meth:`~prefchat.reward.scoring.Scorer.scores` of the
    :func:`~prefchat.reward.scoring.served_taste`) of a task's posterior at the task's moment, no friend in it."""
    scorer = Scorer(pack)
    return lambda task, posterior: scorer.scores(served_taste(pack, posterior, task.as_of))


def choose_social_prior(known: KnownModel, matrix, members: Sequence[str], friends: Friends,
                        sessions: list[tuple[Task, Session]], served: Served | None = None,
                        ) -> tuple[SocialModel, dict, dict]:
    """The pack's :class:`~prefchat.elicitation.social.SocialModel`, its trust and spread chosen on validation users.

    ``matrix``: the training users' 0/1 matrix, a row per id of ``members``; ``sessions``: the
    validation users' served sessions (:func:`~prefchat.reward.build.validation_sessions`);
    ``served``: the served score without friends (module docstring), of which ``known`` is the
    known-items part; None, ``known``'s alone. Returns the model, ``{"social_trust", "social_spread",
    "social_item_weight", "social_item_spread", "social_discovery_slot"}`` and the selection table
    (the score of every setting, the number of validation users with friends and of tasks).
    """
    coefficients = user_coefficients(matrix, known.emission)
    members = tuple(members)
    if len(members) != len(coefficients):
        raise ValueError(f"{len(members)} member ids for a matrix of {len(coefficients)} rows")
    indptr, indices = item_lists(matrix)
    known_friends = friends.among(members)
    base = SocialModel(members, coefficients, trust=1.0, spread=0.0, item_indptr=indptr, item_indices=indices)
    evidence = []
    for task, session in sessions:
        mine = known_friends.of(task.user_id)
        if mine:
            for n in SOCIAL_ANSWERS:
                posterior = session.posteriors[min(n, len(session.questions))]
                knows = known_items(posterior.answers)
                extra = None if served is None else (served(task, posterior) - known.scores(knows)).astype(np.float32)
                evidence.append((task, mine, knows, extra))
    table: dict[str, object] = {"validation_users": len({task.user_id for task, *_ in evidence}),
                                "tasks": len(evidence) // len(SOCIAL_ANSWERS), "answers": list(SOCIAL_ANSWERS),
                                "training_users_with_friends": len(known_friends.links), "served": served is not None,
                                "grid": []}
    none = {"social_trust": 0.0, "social_spread": 0.0, "social_item_weight": 0.0, "social_item_spread": 0.0,
            "social_discovery_slot": 0}
    if not evidence:
        return SocialModel(members, coefficients, 0.0, 0.0, indptr, indices), none, table
    grid: list[dict] = []
    settings = [(0.0, 0.0)] + [(trust, spread) for spread in SPREAD_GRID for trust in TRUST_GRID if trust]  # no trust: one prior
    terms = [(0.0, 0.0)] + [(weight, spread) for spread in ITEM_SPREAD_GRID for weight in ITEM_WEIGHT_GRID if weight]
    votes = {item_spread: [friends_votes([base.items_of(base.row[f]) for f in mine], list(mine.values()), item_spread)
                           for _, mine, _, _ in evidence] for item_spread in ITEM_SPREAD_GRID}
    with threadpool_limits(limits=1):
        for trust, spread in settings:
            # the prior's scores once, then each friends' items term added to them as the served score adds it
            prior = SocialModel(members, base.coefficients, trust, spread, indptr, indices)
            socials = [prior.evidence(mine)[0] for _, mine, _, _ in evidence]
            scores = known.scores_of([items for _, _, items, _ in evidence], socials)
            for row, (_, _, _, extra) in zip(scores, evidence):
                if extra is not None:
                    row += extra
            for weight, item_spread in terms:
                recalls = []
                for (task, _, _, _), row, (items, values) in zip(evidence, scores, votes[item_spread]):
                    targets = task.targets
                    assert isinstance(targets, RankingTargets)
                    if weight and len(items):
                        row = row.copy()
                        row[items] += friends_term(values, weight).astype(np.float32)
                    recalls.append(recall_at_k(top_k(row, targets.k, exclude=targets.exclude), targets.relevant, targets.k))
                grid.append({"trust": trust, "spread": spread, "item_weight": weight, "item_spread": item_spread,
                             "recall@20": float(np.nanmean(recalls))})
    best = max(grid, key=lambda row: (row["recall@20"], -row["trust"], -row["item_weight"], -row["spread"], -row["item_spread"]))
    table["grid"] = grid
    social = SocialModel(members, base.coefficients, best["trust"], best["spread"], indptr, indices, best["item_weight"],
                         best["item_spread"])
    slot, table["discovery_slot"] = choose_discovery_slot(known, social, evidence)
    return social, {"social_trust": best["trust"], "social_spread": best["spread"], "social_item_weight": best["item_weight"],
                    "social_item_spread": best["item_spread"], "social_discovery_slot": slot}, table


def choose_discovery_slot(known: KnownModel, social: SocialModel, evidence: list) -> tuple[int, dict]:
    """The discovery slot's position, chosen on the validation users with friends under a recall constraint.

    Each ``(task, friends, known items, served extra)`` of :func:`choose_social_prior` ranks its top 20
    with the social prior (the served terms ``extra`` beyond the known-items model added), then puts
    the discovery item (:meth:`~prefchat.elicitation.known.KnownModel.discovery`)
    at each position of :data:`SLOT_GRID` (0: none). The slot with the largest mean anomalous recall
    (:func:`~prefchat.elicitation.social.anomalous_items` of the ranking without friends) whose mean
    Recall@20 loses at most :data:`DISCOVERY_TOLERANCE` of no slot's wins; among equals no slot, then the
    later one. Returns the slot and ``{"grid": [{"slot", "recall@20", "anomalous_recall@20"}], "tolerance"}``.
    """
    values = np.full((len(SLOT_GRID), 2, len(evidence)), np.nan)
    with threadpool_limits(limits=1):
        for e, (task, friends, items, extra) in enumerate(evidence):
            targets = task.targets
            assert isinstance(targets, RankingTargets)
            friends_evidence = social.evidence(friends)[0]
            ranked = targets.ranked(known.scores(items, friends_evidence) + (0.0 if extra is None else extra))
            anomalous = anomalous_items(targets.relevant, known.scores(items) + (0.0 if extra is None else extra))
            item = known.discovery(items, friends_evidence, np.union1d(targets.exclude, ranked))
            for s, slot in enumerate(SLOT_GRID):
                shown = np.asarray(with_discovery(ranked, item, slot), dtype=np.intp)
                values[s, :, e] = (recall_at_k(shown, targets.relevant, targets.k), recall_at_k(shown, anomalous, targets.k))
    means = np.nanmean(values, axis=2)
    grid = [{"slot": slot, "recall@20": float(r), "anomalous_recall@20": float(a)} for slot, (r, a) in zip(SLOT_GRID, means)]
    allowed = [row for row in grid if row["recall@20"] >= recall_floor(grid[0]["recall@20"], DISCOVERY_TOLERANCE)]
    best = max(allowed, key=lambda row: (row["anomalous_recall@20"], row["slot"] == 0, row["slot"]))
    return int(best["slot"]), {"grid": grid, "tolerance": DISCOVERY_TOLERANCE}
