"""Does the semantic summary help ranking? Coefficients, summary, both, and episodic memory on held-out users.

Protocol (MovieLens-style ratings; the pack's TEST users only): each user's ratings are split,
seeded, into a QUERY half and an EVAL half (:func:`prefchat.elicitation.evaluate.rating_tasks`).
Ten answers are drawn from the QUERY half as random unequally rated pairs, the higher rated
winning; replayed by the onboarding loop from each objective's session prior they give the
posterior and the summary the session writes (the served path). Each method then
scores every catalog item:

- ``population``: the prior mean, no answers (reference);
- ``coefficients``: the posterior mean alone, :math:`m^\\top\\phi`;
- ``summary``: the summary alone, :math:`s(i)`;
- ``blend``: :math:`m^\\top\\phi + \\beta s` with the pack's beta, or, when the pack records
  none, the beta :func:`~prefchat.reward.calibration.choose_beta` picks on the pack's VALIDATION
  users (rebuilt from the data exactly as ``prefchat train`` builds them);
- ``episodic``: the answers replayed as nearest neighbours (:mod:`prefchat.research.memory`).

Metrics: pairwise accuracy and AUC over the EVAL ratings ("prefer" scores), and Recall@20 of
the EVAL items in the catalog minus the QUERY items ("watch" scores, as recommendations are
ranked: the chance of a pick calibrated to base rates, see :mod:`prefchat.assistant.recommender`). Per user the mean over seeds; the table gives the mean over users with a 95%
interval, and paired per-user differences. Run::

    OPENBLAS_NUM_THREADS=1 python bench/ranking_quality.py [--pack DIR] [--data DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from prefchat.assistant.recommender import Recommender, Taste
from prefchat.assistant.summary import summarize, summary_affinity
from prefchat.elicitation import Comparison
from prefchat.elicitation.evaluate import mean_ci, per_user, rating_tasks
from prefchat.elicitation.onboarding import known_items, replay
from prefchat.elicitation.respondents import RatingsRespondent
from prefchat.evaluation import load_test_users
from prefchat.research.memory import episodic_scores
from prefchat.reward.calibration import choose_beta
from prefchat.reward.pack import Pack, load_pack

METHODS = ("population", "coefficients", "summary", "blend", "episodic")
METRICS = ("pairwise_accuracy", "auc", "recall@20")
PAIRED = (("blend", "coefficients"), ("summary", "episodic"), ("coefficients", "population"))


def validation_beta(pack: Pack, data_dir: Path) -> tuple[float, list[dict]]:
    """:func:`choose_beta` on the pack's validation users, rebuilt as ``prefchat train`` builds them."""
    from prefchat.reward.build import interactions_of
    from prefchat.reward.data import load_dataset
    from prefchat.reward.train import make_validation_users

    dataset = load_dataset(data_dir / "items.csv", data_dir / "ratings.csv")
    if dataset.items.item_ids.tolist() != [item.item_id for item in pack.items]:
        raise SystemExit(f"{data_dir}: the items are not those of pack {pack.name!r}")
    position = {user_id: u for u, user_id in enumerate(dataset.user_ids.tolist())}
    users = np.array([position[u] for u in pack.split["validation"] if u in position], dtype=np.int64)
    n_answers = pack.hyperparameters.get("validation_answers", 10)
    validation = make_validation_users(interactions_of(dataset), users, n_answers, pack.split["seed"])
    return choose_beta(pack, validation)


def method_scores(pack: Pack, answers: list[Comparison], beta: float | None, objective: str) -> dict[str, np.ndarray]:
    """Every method's scores of the catalog for one user (see the module docstring).

    The served path: the posterior the onboarding loop holds after the answers, from the session
    prior of ``objective``; the summary the session writes (with the answers' evidence); "blend"
    scores as :meth:`~prefchat.assistant.recommender.Recommender.scores` serves them, with the pack's
    weight for that objective when ``beta`` is None."""
    prior = pack.serving.session_prior(objective)
    posterior = replay(prior, pack.features, answers)
    known = known_items(answers)  # what a "watch" ranking with a known-items model reads, as served
    summary = summarize(pack, posterior.mean, posterior.cov, len(answers), 0, answers=answers)
    alone, blended = Recommender(pack, beta=0.0), Recommender(pack, beta=beta)
    return {
        "population": alone.scores(Taste(prior.prior_mean, prior.prior_cov, objective=objective)),
        "coefficients": alone.scores(Taste(posterior.mean, posterior.cov, None, objective, known)),
        "summary": summary_affinity(pack, summary),
        "blend": blended.scores(Taste(posterior.mean, posterior.cov, summary, objective, known)),
        "episodic": episodic_scores(pack, answers),
    }


def evaluate(pack: Pack, users: dict, beta: float | None, seeds: int, n_answers: int) -> tuple[np.ndarray, np.ndarray]:
    """Values (methods, metrics, tasks) and the user of each task."""
    preferred = rating_tasks(users, "prefer", range(seeds), pack.popularity)
    watched_tasks = rating_tasks(users, "watch", range(seeds), pack.popularity, k=20)
    values = np.full((len(METHODS), len(METRICS), len(preferred)), np.nan)
    for t, (rated, watched) in enumerate(zip(preferred, watched_tasks)):
        assert isinstance(rated.respondent, RatingsRespondent)
        respondent = replace(rated.respondent, max_pairs=n_answers)
        winners, losers, _ = respondent.evidence(pack.n_items, np.random.default_rng([rated.seed, t]))
        answers = [Comparison(int(a), int(b), "a") for a, b in zip(winners, losers)]
        prefer = method_scores(pack, answers, beta, "prefer")
        watch = method_scores(pack, answers, beta, "watch")
        for m, method in enumerate(METHODS):
            held_out = rated.targets(prefer[method])
            values[m, :2, t] = held_out["pairwise_accuracy"], held_out["auc"]
            values[m, 2, t] = watched.targets(watch[method])["recall@20"]
    return values, np.array([task.user_id for task in preferred])


def report(values: np.ndarray, user_ids: np.ndarray) -> dict:
    """Means with 95% intervals per method and metric, and the paired differences."""
    users = per_user(values, user_ids)  # (methods, metrics, users)
    results = [
        {"method": method, "metric": metric, **dict(zip(("mean", "lo", "hi"), mean_ci(users[m, k])))}
        for m, method in enumerate(METHODS) for k, metric in enumerate(METRICS)
    ]
    paired = [
        {"a": a, "b": b, "metric": metric,
         **dict(zip(("mean_diff", "lo", "hi"), mean_ci(users[METHODS.index(a), k] - users[METHODS.index(b), k])))}
        for a, b in PAIRED for k, metric in enumerate(METRICS)
    ]
    return {"n_test_users": int(users.shape[-1]), "results": results, "paired": paired}


def print_report(summary: dict, beta: float | None, source: str, table: list[dict]) -> None:
    if table:
        print("beta chosen on validation users:")
        for row in table:
            print(f"  x{row['multiplier']:<5} beta {row['beta']:.4f}   "
                  f"accuracy {row['pairwise_accuracy']:.4f}   auc {row['auc']:.4f}")
    print(f"beta = {'as served' if beta is None else f'{beta:.4f}'} ({source}); {summary['n_test_users']} test users\n")
    print(f"{'method':<14}" + "".join(f"{metric:>26}" for metric in METRICS))
    for method in METHODS:
        cells = [r for r in summary["results"] if r["method"] == method]
        print(f"{method:<14}" + "".join(f"{r['mean']:>10.4f} [{r['lo']:.4f}, {r['hi']:.4f}]" for r in cells))
    print("\npaired differences (per user)")
    for a, b in PAIRED:
        cells = [r for r in summary["paired"] if (r["a"], r["b"]) == (a, b)]
        print(f"{a + ' - ' + b:<28}" + "".join(f"{r['mean_diff']:>+10.4f} [{r['lo']:+.4f}, {r['hi']:+.4f}]" for r in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=Path("/tmp/packs/ml"))
    parser.add_argument("--data", type=Path, default=Path("/tmp/packs/ml-input"), help="directory of items.csv and ratings.csv")
    parser.add_argument("--seeds", type=int, default=2, help="QUERY/EVAL splits per user")
    parser.add_argument("--answers", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()

    start = time.perf_counter()
    pack = load_pack(args.pack)
    beta: float | None
    table: list[dict]
    if "beta" in pack.hyperparameters:  # each objective with its own recorded weight, as served
        beta, source, table = None, f"recorded in the pack: prefer {pack.beta('prefer'):.4f}, watch {pack.beta('watch'):.4f}", []
    else:
        (beta, table), source = validation_beta(pack, args.data), "chosen by choose_beta on validation users"
    users = load_test_users(args.data / "ratings.csv", pack)
    summary = report(*evaluate(pack, users, beta, args.seeds, args.answers))
    print_report(summary, beta, source, table)
    seconds = time.perf_counter() - start
    print(f"\n{seconds:.0f} s")
    if args.json:
        document = {"pack": str(args.pack), "beta": beta, "beta_source": source, "beta_table": table, "seeds": args.seeds,
                    "answers": args.answers, "seconds": round(seconds, 1), **summary}
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
