"""Benchmark of the embedded default pack ("assistant styles", SIMULATED population).

Reports what issue 6 asks for:
- build time of the pack from the shipped files (embedding cache cold or warm);
- the ceiling: ROC AUC of the true simulated model (true weights on true attributes);
- recovered structure: R^2 of each annotated style dimension regressed on the learned bases,
  in-sample and out-of-prompt (5-fold by prompt), and on the content head alone;
- an upper bound for best-of-N on held-out prompts: the annotated attributes regressed from the
  text embedding on the training prompts (supervision the pack never gets), combined with each
  simulated user's TRUE weights;
- the simulated protocol of ``prefchat eval`` (population, random, active, bald, oracle).

    python bench/default_pack.py [--seeds 2] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from prefchat.cli import main as prefchat  # noqa: E402
from prefchat.default.build import N_USERS, PAIRS_PER_USER, SEED, build_default_pack  # noqa: E402
from prefchat.default.domain import DIMENSIONS, load_domain  # noqa: E402
from prefchat.default.population import simulate_population, true_model_ceiling  # noqa: E402
from prefchat.reward.featurize import embed_texts  # noqa: E402
from prefchat.settings import Settings  # noqa: E402


def r_squared(x: np.ndarray, y: np.ndarray, folds: np.ndarray | None = None) -> np.ndarray:
    """R^2 of each column of ``y`` under least squares on ``x`` (+ intercept), out of fold if given."""
    design = np.column_stack([x, np.ones(len(x))])
    if folds is None:
        predicted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    else:
        predicted = np.zeros_like(y)
        for fold in np.unique(folds):
            test = folds == fold
            predicted[test] = design[test] @ np.linalg.lstsq(design[~test], y[~test], rcond=None)[0]
    return 1 - ((y - predicted) ** 2).mean(0) / y.var(0)


def supervised_best_of_n(domain, population, embeddings: np.ndarray, ridge: float = 1.0) -> float:
    """Best-of-N hit rate with attributes ridge-regressed from embeddings and TRUE user weights."""
    train = np.isin(domain.group, domain.training_prompts)
    design = np.column_stack([embeddings, np.ones(len(embeddings))])
    gram = design[train].T @ design[train] + ridge * np.eye(design.shape[1])
    predicted = design @ np.linalg.solve(gram, design[train].T @ domain.attributes[train])
    hits = [
        np.argmax(predicted[rows] @ w) == np.argmax(domain.attributes[rows] @ w)
        for w in population.weights
        for rows in (domain.responses_of(p) for p in domain.heldout_prompts)
    ]
    return float(np.mean(hits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path("default-pack-bench.json"))
    args = parser.parse_args()
    settings = Settings.from_env()
    domain = load_domain()
    population = simulate_population(domain, n_users=N_USERS, pairs_per_user=PAIRS_PER_USER, seed=SEED)
    report: dict[str, Any] = {"true_model_auc_ceiling": true_model_ceiling(population)}

    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        pack = build_default_pack(Path(work) / "pack", settings.embedding_model, settings.cache_dir)
        report["build_seconds"] = round(time.perf_counter() - started, 1)
        rows = domain.indices_of([item.item_id for item in pack.items])
        attributes = domain.attributes[rows]
        assert pack.groups is not None  # the default pack's items are grouped by prompt
        folds = pack.groups % 5
        report["r2_bases"] = dict(zip(DIMENSIONS, np.round(r_squared(pack.features, attributes), 3).tolist()))
        report["r2_bases_out_of_prompt"] = dict(zip(DIMENSIONS, np.round(r_squared(pack.features, attributes, folds), 3).tolist()))
        content = pack.embeddings.astype(float) @ pack.head_weight
        report["r2_content_head_out_of_prompt"] = dict(zip(DIMENSIONS, np.round(r_squared(content, attributes, folds), 3).tolist()))
        embeddings = embed_texts(list(domain.texts), settings.embedding_model, cache_dir=settings.cache_dir).astype(float)
        report["best_of_n_upper_bound_supervised"] = supervised_best_of_n(domain, population, embeddings)
        report["hyperparameters"] = pack.hyperparameters

        out = Path(work) / "eval.json"
        prefchat(["eval", "--pack", str(Path(work) / "pack"), "--protocol", "simulated", "--answers", "0,5,10",
                  "--strategies", "population,random,active,bald,oracle", "--seeds", str(args.seeds), "--json", str(out)])
        report["eval"] = json.loads(out.read_text())

    for key in ("true_model_auc_ceiling", "build_seconds", "best_of_n_upper_bound_supervised"):
        print(f"{key}: {report[key]}")
    for key in ("r2_bases", "r2_bases_out_of_prompt", "r2_content_head_out_of_prompt"):
        print(key, report[key])
    args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
