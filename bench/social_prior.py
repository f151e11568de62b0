"""What the social prior costs a session start: ``Assistant.start(user, friends=...)`` with 100 friends.

On a pack with a social prior (``prefchat pack ciao``, or ``prefchat train --friends``), through
the public API on a SQLite file, for ``--repeats`` new users each:

- **start**: ``Assistant.start(user)`` (no friends) and ``Assistant.start(user, friends=F)``, F
  ``--friends`` of the pack's training users; the cost is the paired difference (storing the
  friends and nothing else: the questions are the same);
- **prior**: rebuilding the social prior from the stored friends
  (:meth:`~prefchat.assistant.friends.Friendships.evidence`: one read of the friend list and the
  weighted mean of their coefficients), which every ranking of that user does.

Prints medians and 95th percentiles in milliseconds; the issue's bound is 5 ms per start. Run::

    OPENBLAS_NUM_THREADS=1 python bench/social_prior.py --pack /work/packs/friends26-ciao
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from prefchat.api import Assistant
from prefchat.assistant.turns import SessionOptions
from prefchat.reward.pack import load_pack

BOUND_MS = 5.0


def _ms(seconds: list[float]) -> str:
    values = np.array(seconds) * 1000
    return f"median {np.median(values):.2f} ms, p95 {np.percentile(values, 95):.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", required=True, help="a pack with a social prior")
    parser.add_argument("--friends", type=int, default=100, help="friends per user (default 100)")
    parser.add_argument("--repeats", type=int, default=50, help="new users per measure (default 50)")
    args = parser.parse_args()
    pack = load_pack(args.pack)
    if pack.social is None:
        raise SystemExit(f"pack {args.pack} has no social prior: build it with --friends")
    rng = np.random.default_rng(0)
    options = SessionOptions(objective="watch")
    plain, social, prior = [], [], []
    with tempfile.TemporaryDirectory() as home, Assistant.open(pack, db=f"sqlite:///{home}/bench.sqlite") as app:
        app.start("warm-up", options=options, seed=0, friends=list(pack.social.members[: args.friends]))
        for r in range(args.repeats):
            friends = [pack.social.members[i] for i in rng.choice(len(pack.social.members), args.friends, replace=False)]
            started = time.perf_counter()
            app.start(f"alone-{r}", options=options, seed=r)
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            app.start(f"social-{r}", options=options, seed=r, friends=friends)
            social.append(time.perf_counter() - started)
            started = time.perf_counter()
            evidence = app.friends.evidence(f"social-{r}")
            prior.append(time.perf_counter() - started)
            assert evidence is not None
    cost = [s - p for s, p in zip(social, plain)]
    print(f"pack {pack.name}: {len(pack.social.members)} training users, {args.friends} friends each, {args.repeats} users")
    print(f"start without friends:           {_ms(plain)}")
    print(f"start with {args.friends} friends:           {_ms(social)}")
    print(f"cost of the friends at start:    {_ms(cost)} (paired)")
    print(f"social prior rebuilt per ranking: {_ms(prior)}")
    verdict = "met" if 1000 * max(np.median(cost), np.median(prior)) <= BOUND_MS else "NOT met"
    print(f"bound {BOUND_MS:g} ms per start: {verdict}")


if __name__ == "__main__":
    main()
