"""How long ranking and summarising take on a real pack (target: ranking 10k items <= 20 ms median).

Loads a pack (default: the MovieLens pack at /tmp/packs/ml), gives a user ten answers to random
pairs, and prints the median and 95th percentile of

- the first call on the pack, which builds the per-pack descriptor index (once per pack);
- ``rank`` over the whole catalog, top 10, summary blended in, with reasons;
- the same with the "watch" objective recommendations use (the chance of a pick, which needs the
  posterior covariance of every item's utility);
- ``rank`` of 6 candidate texts (their embeddings given, as the caller passes them);
- ``summarize`` of the posterior (256 posterior draws).

Run::

    OPENBLAS_NUM_THREADS=1 python bench/bench_ranking.py [--pack DIR]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_selection import timings

from prefchat.assistant.recommender import Candidates, Recommender, Taste
from prefchat.assistant.summary import summarize
from prefchat.elicitation import Comparison, laplace_posterior
from prefchat.reward.pack import load_pack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="/tmp/packs/ml")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    pack = load_pack(args.pack)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    index = pack.serving.descriptors
    print(f"pack {pack.name}: {pack.n_items} items, {pack.n_bases} bases, {len(index.columns)} descriptors")
    print(f"descriptor index (first call only): {1e3 * (time.perf_counter() - start):.1f} ms")

    answers = [Comparison(int(a), int(b), str(rng.choice(["a", "b"]))) for a, b in (rng.choice(pack.n_items, 2, replace=False) for _ in range(10))]
    posterior = laplace_posterior(*pack.prior, pack.features, answers)
    summary = summarize(pack, posterior.mean, posterior.cov, len(answers), 0)
    print(f"summary: {summary.text}")
    told = sorted({item for answer in answers for item in answer.items})
    picks = rng.choice(pack.n_items, 6, replace=False)
    texts, embeddings = [pack.items[i].text for i in picks], pack.embeddings[picks]

    recommender, known = Recommender(pack, beta=1.0), frozenset(told)
    prefer = Taste(posterior.mean, posterior.cov, summary, "prefer", known)
    watch = Taste(posterior.mean, posterior.cov, summary, "watch", known)
    cases = {
        f"rank catalog ({pack.n_items} items), top 10": lambda: recommender.recommend(prefer, 10),
        "recommend (watch), top 10": lambda: recommender.recommend(watch, 10),
        "rank 6 candidate texts": lambda: recommender.rank(Taste(posterior.mean, summary=summary), 6,
                                                           candidates=Candidates(texts, embeddings)),
        "summarize": lambda: summarize(pack, posterior.mean, posterior.cov, len(answers), 0),
    }
    for name, call in cases.items():
        median, p95 = timings(call, args.repeat)
        print(f"{name:<40} median {median:7.2f} ms   p95 {p95:7.2f} ms")
    for ranked in recommender.recommend(prefer, 3):
        print(f"  {ranked.title}: {ranked.why}")


if __name__ == "__main__":
    main()
