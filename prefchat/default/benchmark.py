"""The ``simulated`` evaluation protocol of the default pack: held-out SIMULATED users.

The pack's test users (``sim-NNNNN`` ids of the population it was trained on, never seen in
training) answer onboarding questions through their true Bradley-Terry model, with its noise,
ties and "don't know". Their learned reward is then judged on what they never answered:

- ``auc`` and ``pairwise_accuracy``: fresh pairs of responses to the training prompts (both
  answers to one prompt), answered by the same simulated user; ties and "don't know" left out;
  accuracy at threshold 0;
- ``best_of_n_hit``: for each HELD-OUT prompt (never in training, never asked about), whether
  the response ranked first among its N = 6 candidates is the user's true favourite. The
  candidates are scored through the content head (``Pack.content_features``), as
  ``rank(user, candidates=[...])`` does for new texts.

The held-out responses are appended after the catalog in the evaluation's feature matrix so
one score vector covers both; questions are only drawn from the catalog part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..elicitation.evaluate import Task
from ..elicitation.metrics import roc_auc
from ..elicitation.selection import Question
from ..reward.featurize import embed_texts
from ..reward.pack import Pack
from .domain import Domain, load_domain
from .population import Population, SimulatedUser, simulate_population

METRICS = ("auc", "pairwise_accuracy", "best_of_n_hit")
EVAL_PAIRS = 300
ORACLE_ANSWERS = 200


@dataclass(frozen=True, eq=False)
class SimulatedRespondent:
    """A simulated user answering questions about catalog items (pack indices)."""

    user: SimulatedUser
    response_ids: tuple[str, ...]      # pack item index -> response id
    groups: np.ndarray                 # pack item index -> prompt group
    rng: np.random.Generator

    def answer(self, question: Question) -> str | int | None:
        ids = [self.response_ids[i] for i in question.items]
        if question.is_pair:
            return self.user.answer(ids[0], ids[1], self.rng)
        model = self.user.choice_model
        if self.rng.random() < model.skip_rate:
            return None
        utility = self.user.utility(ids) / model.temperature
        return question.items[int(np.argmax(utility + self.rng.gumbel(size=len(ids))))]  # softmax choice

    def evidence(self, n_items: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``ORACLE_ANSWERS`` of this user's answers to random same-prompt pairs (ties 1/2, skips dropped)."""
        a, b = same_group_pairs(self.groups, ORACLE_ANSWERS, rng)
        choice = [self.user.answer(self.response_ids[i], self.response_ids[j], rng) for i, j in zip(a, b)]
        label = np.array([{"a": 1.0, "b": 0.0, "tie": 0.5}.get(c, np.nan) for c in choice])
        kept = ~np.isnan(label)
        return a[kept], b[kept], label[kept]


@dataclass(frozen=True, eq=False)
class SimulatedTargets:
    """Held-out judgements of one simulated user (see the module docstring)."""

    pair_a: np.ndarray
    pair_b: np.ndarray
    won: np.ndarray                 # True where a won
    heldout_sets: tuple[np.ndarray, ...]   # feature-row indices of each held-out prompt's responses
    favourites: np.ndarray          # feature-row index of the true favourite of each set
    metrics: tuple[str, ...] = METRICS

    def __call__(self, scores: np.ndarray) -> dict[str, float]:
        margin = scores[self.pair_a] - scores[self.pair_b]
        ranked_first = np.array([rows[np.argmax(scores[rows])] for rows in self.heldout_sets])
        return {
            "auc": roc_auc(margin, self.won),
            "pairwise_accuracy": float(np.mean(np.where(margin == 0, 0.5, (margin > 0) == self.won))),
            "best_of_n_hit": float(np.mean(ranked_first == self.favourites)),
        }


def same_group_pairs(groups: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random pairs of distinct items of one group each (groups drawn uniformly)."""
    labels = np.unique(groups)
    members = {g: np.flatnonzero(groups == g) for g in labels.tolist()}
    drawn = rng.choice(labels, n)
    pairs = np.array([rng.choice(members[g], 2, replace=False) for g in drawn.tolist()])
    return pairs[:, 0], pairs[:, 1]


def simulated_features(pack: Pack, domain: Domain, model: str, cache_dir) -> tuple[np.ndarray, list[np.ndarray]]:
    """The catalog's features followed by content features of the held-out prompts' responses.

    Returns the stacked (n_items + n_heldout, n_bases) features and, per held-out prompt, the
    feature rows of its responses.
    """
    heldout = [domain.responses_of(p) for p in domain.heldout_prompts]
    texts = [domain.texts[r] for rows in heldout for r in rows]
    extra = pack.content_features(embed_texts(texts, model, cache_dir=cache_dir))
    rows, start = [], pack.n_items
    for responses in heldout:
        rows.append(np.arange(start, start + len(responses)))
        start += len(responses)
    return np.vstack([pack.features, extra]), rows


def simulated_tasks(pack: Pack, seeds, model: str, cache_dir=None, max_users: int | None = None) -> tuple[list[Task], np.ndarray]:
    """Tasks of the pack's held-out simulated users, and the feature matrix to evaluate with."""
    if not pack.provenance.get("population", {}).get("simulated"):
        raise ValueError(f"pack {pack.name!r} was not trained on a simulated population; the simulated protocol needs the default pack")
    provenance = pack.provenance["population"]
    domain = load_domain()
    population: Population = simulate_population(domain, n_users=provenance["n_users"], seed=provenance["seed"])
    features, heldout_rows = simulated_features(pack, domain, model, cache_dir)
    response_ids = tuple(item.item_id for item in pack.items)
    heldout_ids = [[domain.response_ids[r] for r in domain.responses_of(p)] for p in domain.heldout_prompts]
    groups = pack.groups
    if groups is None:
        raise ValueError(f"pack {pack.name!r} has no groups: the default benchmark needs the prompt of every response")
    test_users = [int(user_id.split("-")[1]) for user_id in pack.test_users][:max_users]
    tasks = []
    for seed in seeds:
        for u in test_users:
            user = population.user(u)
            rng = np.random.default_rng([seed, u])
            a, b = same_group_pairs(groups, EVAL_PAIRS, rng)
            choice = np.array([user.answer(response_ids[i], response_ids[j], rng) for i, j in zip(a, b)])
            decided = (choice == "a") | (choice == "b")
            favourites = np.array([rows[np.argmax(user.utility(ids))] for rows, ids in zip(heldout_rows, heldout_ids)])
            targets = SimulatedTargets(a[decided], b[decided], choice[decided] == "a", tuple(heldout_rows), favourites)
            respondent = SimulatedRespondent(user, response_ids, groups, np.random.default_rng([seed, u, 1]))
            tasks.append(Task(user.user_id, seed, respondent, targets))
    return tasks, features
