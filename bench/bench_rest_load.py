"""Load on the REST API: 50 simulated users onboarding at once against one server process.

The server is ``prefchat serve``'s app (:func:`prefchat.ui.app.create_app`: chat and REST API)
in a subprocess: one uvicorn process on loopback, a fresh SQLite file, the embedded default
pack (or ``--pack``). Each simulated user is a thread with its own HTTP connection that starts
a session under its own user id, answers every question as a planted user would (coefficients
drawn from the pack's prior; ties and skips now and then), pausing ``--think`` seconds on
average between answers, then reads its profile back.

Checked, and counted as errors: any non-2xx response; cross-talk (a turn naming another
session or user; a question asked twice in one session; a stored profile whose answer counts
are not exactly the user's own). Measured per turn (starting a session, answering): the
server's time (its ``Server-Timing: app;dur=`` header) and the client's latency, median and
95th percentile, against the targets (server time median <= 50 ms, p95 <= 250 ms). Bounded:
every user stops at ``--deadline`` seconds, or after 15 answers (an error). Exit status 0 when
there are no errors and the targets are met.

Run::

    python bench/bench_rest_load.py                     # default pack, 50 users
    python bench/bench_rest_load.py --pack PATH --users 20 --think 0.5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

TARGET_MEDIAN_MS, TARGET_P95_MS = 50.0, 250.0
MAX_ANSWERS = 15
TURNS = ("POST /sessions", "POST /answers")


def serve(pack: str, db: str) -> None:
    """The server process: the app on a free loopback port, announced on stdout."""
    import uvicorn

    from prefchat.api import Assistant
    from prefchat.settings import Settings
    from prefchat.ui.app import create_app
    from prefchat.ui.commands import listen

    conversation = Assistant.open(pack=pack, db=db, settings=Settings.from_env())
    sock = listen("127.0.0.1", 0)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]} pack {conversation.pack.name}", flush=True)
    uvicorn.Server(uvicorn.Config(create_app(conversation), log_level="warning")).run(sockets=[sock])


@dataclass
class Log:
    """Every timed request and every error, from all user threads."""

    server_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    client_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, client: httpx.Client, name: str, method: str, url: str, **kwargs) -> dict | None:
        started = time.perf_counter()
        response = client.request(method, url, **kwargs)
        elapsed = 1e3 * (time.perf_counter() - started)
        with self.lock:
            self.client_ms[name].append(elapsed)
            self.server_ms[name].append(float(response.headers.get("Server-Timing", "app;dur=nan").split("dur=")[1]))
        if not response.is_success:
            self.error(f"{name} {url}: {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def simulated_user(base: str, n: int, pack, log: Log, think: float, deadline: float) -> None:
    """One user's whole onboarding; every surprise is logged as an error."""
    rng = np.random.default_rng(n)
    prior_mean, prior_cov = pack.prior
    coef = rng.multivariate_normal(prior_mean, prior_cov)
    user_id = f"load-user-{n:03d}"
    time.sleep(rng.uniform(0, 2 * think))  # users arrive over a while, not all in the same millisecond
    given: list[str] = []
    asked: set[tuple[str, str]] = set()
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as client:
        turn = log.request(client, "POST /sessions", "POST", "/sessions", json={"user_id": user_id})
        session_id = None if turn is None else turn["session_id"]
        while turn is not None and turn["type"] == "question":
            pair = (turn["item_a"]["item_id"], turn["item_b"]["item_id"])
            if turn["session_id"] != session_id or turn["user_id"] != user_id or pair in asked:
                log.error(f"{user_id}: cross-talk: {turn['session_id']} {turn['user_id']} {pair}")
                return
            if len(given) >= MAX_ANSWERS or time.monotonic() > deadline:
                log.error(f"{user_id}: still asked after {len(given)} answers")
                return
            asked.add(pair)
            a, b = (pack.features[pack.index_of(item)] for item in pair)
            roll = rng.random()
            given.append("skip" if roll < 0.05 else "tie" if roll < 0.1 else "a" if coef @ (a - b) > 0 else "b")
            time.sleep(rng.uniform(0.5, 1.5) * think)
            turn = log.request(client, "POST /answers", "POST", f"/sessions/{session_id}/answers", json={"choice": given[-1]})
        if turn is None:
            return
        if turn["session_id"] != session_id or turn["user_id"] != user_id:
            log.error(f"{user_id}: the result of another session: {turn['session_id']}")
            return
        profile = log.request(client, "GET /profile", "GET", f"/users/{user_id}/profile")
        if profile is not None:
            own = {kind: given.count(kind) for kind in set(given)}
            if profile["counts"] != own or profile["user_id"] != user_id:
                log.error(f"{user_id}: stored counts {profile['counts']} are not the answers given {own}")
                return
    with log.lock:
        log.finished += 1


def ready(base: str, deadline: float) -> None:
    """Wait until the server answers (its port is bound before its app has started)."""
    while True:
        try:
            if httpx.get(f"{base}/api/v1/openapi.json", timeout=5).is_success:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {base} did not answer in time")
        time.sleep(0.2)


def percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.median(values)), float(np.percentile(values, 95))


def report(log: Log, users: int, wall: float) -> bool:
    """Print the table; True when the server-time targets per turn are met."""
    print(f"\n{'requests':<16}{'n':>6}{'server p50':>12}{'server p95':>12}{'client p50':>12}{'client p95':>12}   (ms)")
    rows = [*log.server_ms, "all turns"]
    for name in rows:
        keys = TURNS if name == "all turns" else (name,)
        server = [v for key in keys for v in log.server_ms.get(key, [])]
        client = [v for key in keys for v in log.client_ms.get(key, [])]
        if server:
            print(f"{name:<16}{len(server):>6}" + "".join(f"{v:>12.1f}" for v in (*percentiles(server), *percentiles(client))))
    turns = [v for key in TURNS for v in log.server_ms.get(key, [])]
    median, p95 = percentiles(turns) if turns else (float("nan"), float("nan"))
    met = median <= TARGET_MEDIAN_MS and p95 <= TARGET_P95_MS
    total = sum(len(v) for v in log.server_ms.values())
    print(f"\n{log.finished} of {users} users finished onboarding in {wall:.1f} s ({total / wall:.1f} requests/s); "
          f"{len(log.errors)} errors")
    for message in log.errors[:10]:
        print(f"  error: {message}")
    print(f"server time per turn: median {median:.1f} ms (target <= {TARGET_MEDIAN_MS:.0f}), "
          f"p95 {p95:.1f} ms (target <= {TARGET_P95_MS:.0f}): {'met' if met else 'NOT met'}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="default", help="pack directory or name (default: the embedded default pack)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds a user takes to answer")
    parser.add_argument("--deadline", type=float, default=240.0, help="seconds after which every user stops")
    parser.add_argument("--serve", metavar="DB", help=argparse.SUPPRESS)  # internal: run the server process
    args = parser.parse_args()
    if args.serve:
        serve(args.pack, args.serve)
        return 0

    from prefchat.api import open_pack
    from prefchat.settings import Settings

    pack = open_pack(args.pack, Settings.from_env())  # builds the default pack on first use (about 30 s)
    with tempfile.TemporaryDirectory(prefix="prefchat-load-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'load.sqlite'}"
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False",
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        server = subprocess.Popen([sys.executable, __file__, "--pack", args.pack, "--serve", db],
                                  env=env, stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            if not line.startswith("listening on "):
                print(f"the server did not start: {line!r}", file=sys.stderr)
                return 1
            base = line.split()[2]
            ready(base, time.monotonic() + 60)
            print(f"server {base} (pid {server.pid}), pack {pack.name} {pack.version}, {args.users} users, "
                  f"think {args.think} s")
            log, started = Log(), time.monotonic()
            deadline = started + args.deadline
            threads = [threading.Thread(target=simulated_user, args=(base, n, pack, log, args.think, deadline), daemon=True)
                       for n in range(args.users)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(max(0.0, deadline + 35 - time.monotonic()))
            wall = time.monotonic() - started
            if any(thread.is_alive() for thread in threads):
                log.error("some users were still waiting at the deadline")
        finally:
            server.terminate()
            server.wait(timeout=30)
    met = report(log, args.users, wall)
    return 0 if met and not log.errors and log.finished == args.users else 1


if __name__ == "__main__":
    sys.exit(main())
