"""Load on the REST API: U simulated users onboarding at once against ``prefchat serve --workers N``.

The server is the real command, ``prefchat serve --pack PACK --db URL --workers N --port 0``, in a
subprocess on loopback (N = 1: one process; N > 1: uvicorn's supervisor and N spawned workers on
one socket). ``--db`` is any SQLAlchemy URL (a fresh SQLite file by default; PostgreSQL for more
than one worker under load, e.g. ``postgresql+psycopg://postgres@127.0.0.1/test``). Each simulated
user is a thread with its own HTTP connection that starts a session under its own user id (unique
to the run, so a database may be reused), answers every question as a planted user would
(coefficients drawn from the pack's prior; ties and skips now and then), pausing ``--think``
seconds on average between answers, sending each answer with its ``question_id``.

Clients retry as docs/rest-api.md documents: a request that gets no reply (the connection reset
or refused) or a 5xx is sent again unchanged, up to 6 times over about 6 s; the same
``question_id`` makes a retried answer idempotent. With ``--kill-one``, one worker process is
killed with SIGKILL once a third of the answers expected are in; the supervisor must start a new
one (checked: the number of workers is N again).

Checked at the end, for every user, against the database itself: the answers stored in the
user's session are exactly, in order, those the user sent and saw acknowledged (``lost_answers``:
acknowledged but not stored or stored differently; ``cross_talk``: stored answers the user never
sent, a turn naming another session or user, a question asked twice, profile counts that are not
the user's own); ``unrecovered_errors``: requests that failed after every retry, 4xx replies, users
stopped by the deadline. Measured per turn (starting a session, answering): the server's time (its
``Server-Timing: app;dur=`` header) and the client's latency, median and 95th percentile; the
target is server time p95 <= 250 ms. Exit status 0 when nothing is lost, crossed or unrecovered
and the target is met.

Worker CPU per request: every ``--sample`` seconds the CPU time (user + system, from
``/proc/PID/stat``) of every worker process (the server itself when N = 1) is read, and the CPU
the workers spent in the interval is divided by the requests answered in it; the table gives the
median and 95th percentile over the intervals, the whole run's CPU over all its requests, and each
worker's CPU seconds (how evenly the load spread). A worker counts from its first sample, so the
CPU a replacement spends loading the pack is left out; the supervisor's own CPU is not a worker's.

Run::

    python bench/bench_rest_load.py                     # default pack, 1 process, SQLite, 50 users
    python bench/bench_rest_load.py --workers 4 --db postgresql+psycopg://postgres@127.0.0.1/test \\
        --users 200 --kill-one --json load.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

TARGET_P95_MS = 250.0
MAX_ANSWERS = 15
TURNS = ("POST /sessions", "POST /answers")
RETRIES = 6
"""Attempts after the first, waiting 0.1, 0.2, 0.4, ... s (capped at 2 s) before each."""


@dataclass
class Log:
    """Every timed request and every finding, from all user threads."""

    server_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    client_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unrecovered: list[str] = field(default_factory=list)
    cross_talk: list[str] = field(default_factory=list)
    retried: int = 0
    requests: int = 0
    answers: int = 0
    sessions: dict[str, tuple[str, list[tuple[int, str]]]] = field(default_factory=dict)
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, client: httpx.Client, name: str, method: str, url: str, **kwargs) -> dict | None:
        """The JSON reply, retried on no reply and on 5xx; None (logged as unrecovered) when it never came."""
        for attempt in range(RETRIES + 1):
            if attempt:
                with self.lock:
                    self.retried += 1
                time.sleep(min(2.0, 0.1 * 2 ** (attempt - 1)))
            started = time.perf_counter()
            try:
                response = client.request(method, url, **kwargs)
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error}"
                continue
            if response.status_code >= 500:
                problem = f"{response.status_code} {response.text[:200]}"
                continue
            elapsed = 1e3 * (time.perf_counter() - started)
            with self.lock:
                self.requests += 1
                self.client_ms[name].append(elapsed)
                self.server_ms[name].append(float(response.headers.get("Server-Timing", "app;dur=nan").split("dur=")[1]))
            if not response.is_success:
                self.fail(f"{name} {url}: {response.status_code} {response.text[:200]}")
                return None
            return response.json()
        self.fail(f"{name} {url}: no reply after {RETRIES} retries ({problem})")
        return None

    def fail(self, message: str) -> None:
        with self.lock:
            self.unrecovered.append(message)

    def crossed(self, message: str) -> None:
        with self.lock:
            self.cross_talk.append(message)


def simulated_user(base: str, user_id: str, n: int, pack, log: Log, think: float, deadline: float) -> None:
    """One user's whole onboarding; what they sent and saw acknowledged goes to ``log.sessions``."""
    rng = np.random.default_rng(n)
    prior_mean, prior_cov = pack.prior
    coef = rng.multivariate_normal(prior_mean, prior_cov)
    time.sleep(rng.uniform(0, 2 * think))  # users arrive over a while, not all in the same millisecond
    sent: list[tuple[int, str]] = []
    asked: set[tuple[str, ...]] = set()
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as client:
        turn = log.request(client, "POST /sessions", "POST", "/sessions", json={"user_id": user_id})
        if turn is None:
            return
        session_id = turn["session_id"]
        with log.lock:
            log.sessions[user_id] = (session_id, sent)
        while turn["type"] == "question":
            items = tuple(item["item_id"] for item in turn["items"])
            if turn["session_id"] != session_id or turn["user_id"] != user_id or items in asked:
                log.crossed(f"{user_id}: turn of {turn['session_id']} {turn['user_id']} {items}")
                return
            if len(sent) >= MAX_ANSWERS or time.monotonic() > deadline:
                log.fail(f"{user_id}: still asked after {len(sent)} answers")
                return
            asked.add(items)
            a, b = (pack.features[pack.index_of(item)] for item in items[:2])
            roll = rng.random()
            choice = "skip" if roll < 0.05 else "tie" if roll < 0.1 else "a" if coef @ (a - b) > 0 else "b"
            time.sleep(rng.uniform(0.5, 1.5) * think)
            body = {"choice": choice, "question_id": turn["question_id"]}
            reply = log.request(client, "POST /answers", "POST", f"/sessions/{session_id}/answers", json=body)
            if reply is None:
                return
            sent.append((turn["question_id"], choice))
            with log.lock:
                log.answers += 1
            turn = reply
        if turn["session_id"] != session_id or turn["user_id"] != user_id:
            log.crossed(f"{user_id}: the result of another session: {turn['session_id']}")
            return
        profile = log.request(client, "GET /profile", "GET", f"/users/{user_id}/profile")
        if profile is None:
            return
        own = {kind: [c for _, c in sent].count(kind) for kind in {c for _, c in sent}}
        if profile["counts"] != own or profile["user_id"] != user_id:
            log.crossed(f"{user_id}: stored counts {profile['counts']} are not the answers given {own}")
            return
    with log.lock:
        log.finished += 1


def check_stored(db: str, log: Log) -> int:
    """Compare every user's stored answers with those they sent; lost answers counted, extra ones are cross-talk."""
    from prefchat.storage import open_store

    lost = 0
    with open_store(db) as store:
        for user_id, (session_id, sent) in sorted(log.sessions.items()):
            session = store.get_session(session_id)
            if session.user_id != user_id:
                log.crossed(f"{user_id}: session {session_id} is stored as {session.user_id}'s")
            stored = [(turn.question.id, turn.answer.choice) for turn in store.session_history(session_id)
                      if turn.answer is not None]
            missing = [answer for answer in sent if answer not in stored]
            lost += len(missing)
            extra = [answer for answer in stored if answer not in sent]
            if extra:
                log.crossed(f"{user_id}: stored answers {extra} were never sent by this user")
            if not missing and not extra and stored != sent:
                log.crossed(f"{user_id}: stored answers {stored} are not in the order sent {sent}")
    return lost


def children(pid: int) -> list[int]:
    """The worker processes of supervisor ``pid``: its children started by multiprocessing's spawn."""
    try:
        kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    workers = []
    for kid in kids:
        try:
            if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes():
                workers.append(kid)
        except OSError:
            pass
    return workers


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def killer(server_pid: int, workers: int, log: Log, when: int, out: dict) -> None:
    """SIGKILL one worker once ``when`` answers are in; then check that the supervisor replaced it."""
    while log.answers < when:
        time.sleep(0.05)
    victim = children(server_pid)[0]
    os.kill(victim, signal.SIGKILL)
    out.update(killed_pid=victim, killed_after_answers=log.answers, restarted=False)
    print(f"killed worker {victim} with SIGKILL after {log.answers} answers", flush=True)
    for _ in range(600):
        time.sleep(0.1)
        alive = children(server_pid)
        if len(alive) == workers and victim not in alive:
            out["restarted"] = True
            print(f"the supervisor started worker {sorted(set(alive))} in its place", flush=True)
            return


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (``/proc/PID/stat`` fields 14 and 15), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuSampler(threading.Thread):
    """Samples the workers' CPU time and the requests answered every ``interval`` seconds until stopped."""

    def __init__(self, workers, log: Log, interval: float):
        super().__init__(daemon=True)
        self.workers, self.log, self.interval = workers, log, interval
        self.stopped = threading.Event()
        self.seen: dict[int, tuple[float, float]] = {}  # pid -> (CPU seconds at its first sample, at its last)
        self.intervals: list[tuple[float, int]] = []  # (workers' CPU seconds, requests answered) per interval

    def sample(self, requests_before: int) -> int:
        spent, requests = 0.0, self.log.requests
        for pid in self.workers():
            now = cpu_seconds(pid)
            if now is None:
                continue
            first, last = self.seen.get(pid, (now, now))
            spent += now - last
            self.seen[pid] = (first, now)
        if requests > requests_before:
            self.intervals.append((spent, requests - requests_before))
        return requests

    def run(self) -> None:
        requests = self.sample(self.log.requests)  # the first sample: where each worker's CPU starts
        while not self.stopped.wait(self.interval):
            requests = self.sample(requests)

    def stop(self) -> dict:
        """The figures: CPU ms per request (median and p95 over intervals, whole run) and each worker's CPU seconds."""
        self.stopped.set()
        self.join()
        self.sample(self.log.requests)
        per_request = [1e3 * spent / n for spent, n in self.intervals]
        median, p95 = percentiles(per_request)
        total = sum(spent for spent, _ in self.intervals)
        answered = sum(n for _, n in self.intervals)
        return {"cpu_ms_per_request_p50": round(median, 1), "cpu_ms_per_request_p95": round(p95, 1),
                "cpu_ms_per_request_run": round(1e3 * total / answered, 1) if answered else float("nan"),
                "cpu_intervals": len(self.intervals),
                "worker_cpu_s": [round(last - first, 1) for first, last in self.seen.values()]}


def start_server(pack: str, db: str, workers: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PREFCHAT_API_TOKEN", None)
    command = [str(Path(sys.executable).with_name("prefchat")), "serve", "--pack", pack, "--db", db,
               "--workers", str(workers), "--port", "0"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    for line in server.stdout:
        if line.strip().startswith("health"):
            base = line.split()[1].rstrip(",").removesuffix("/healthz")
            threading.Thread(target=server.stdout.read, daemon=True).start()  # keep the pipe drained
            return server, base
    raise RuntimeError(f"the server did not start (exit status {server.wait()})")


def ready(base: str, deadline: float) -> None:
    """Wait until the server is ready (its port is bound before its workers have loaded the pack)."""
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).is_success:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {base} was not ready in time")
        time.sleep(0.2)


def percentiles(values: list[float]) -> tuple[float, float]:
    return (float(np.median(values)), float(np.percentile(values, 95))) if values else (float("nan"), float("nan"))


def report(log: Log, users: int, wall: float, lost: int, cpu: dict, interval: float) -> dict:
    """Print the table; the figures of the JSON report."""
    print(f"\n{'requests':<16}{'n':>6}{'server p50':>12}{'server p95':>12}{'client p50':>12}{'client p95':>12}   (ms)")
    for name in [*log.server_ms, "all turns"]:
        keys = TURNS if name == "all turns" else (name,)
        server = [v for key in keys for v in log.server_ms.get(key, [])]
        client = [v for key in keys for v in log.client_ms.get(key, [])]
        if server:
            print(f"{name:<16}{len(server):>6}" + "".join(f"{v:>12.1f}" for v in (*percentiles(server), *percentiles(client))))
    median, p95 = percentiles([v for key in TURNS for v in log.server_ms.get(key, [])])
    print(f"\n{log.finished} of {users} users finished onboarding in {wall:.1f} s ({log.requests / wall:.1f} requests/s); "
          f"{lost} lost answers, {len(log.cross_talk)} cross-talk, {len(log.unrecovered)} unrecovered errors, "
          f"{log.retried} retries")
    for message in (log.cross_talk + log.unrecovered)[:10]:
        print(f"  {message}")
    print(f"server time per turn: median {median:.1f} ms, p95 {p95:.1f} ms (target <= {TARGET_P95_MS:.0f}): "
          f"{'met' if p95 <= TARGET_P95_MS else 'NOT met'}")
    print(f"worker CPU per request: median {cpu['cpu_ms_per_request_p50']:.1f} ms, p95 {cpu['cpu_ms_per_request_p95']:.1f} ms "
          f"over {cpu['cpu_intervals']} intervals of {interval:g} s; {cpu['cpu_ms_per_request_run']:.1f} ms over the run; "
          f"CPU seconds per worker {cpu['worker_cpu_s']}")
    return {**cpu, "lost_answers": lost, "cross_talk": len(log.cross_talk), "unrecovered_errors": len(log.unrecovered),
            "p50_ms": round(median, 1), "p95_ms": round(p95, 1), "throughput_rps": round(log.requests / wall, 1),
            "finished": log.finished, "retries": log.retried}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="default", help="pack directory or name (default: the embedded default pack)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (prefchat serve --workers N)")
    parser.add_argument("--db", help="SQLAlchemy URL of the server's database (default: a fresh SQLite file)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds a user takes to answer")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds after which every user stops")
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL one worker process mid-run (needs --workers >= 2)")
    parser.add_argument("--sample", type=float, default=2.0, help="seconds between samples of the workers' CPU time")
    parser.add_argument("--json", type=Path, help="where to write the figures")
    args = parser.parse_args()
    if args.kill_one and args.workers < 2:
        parser.error("--kill-one needs --workers 2 or more: a single process has no supervisor to replace it")

    from prefchat.api import SessionOptions, open_pack
    from prefchat.cli import DEFAULT, ensure_default_pack
    from prefchat.settings import Settings

    settings = Settings.from_env()
    if args.pack == DEFAULT:
        ensure_default_pack(settings)  # the explicit build step (about a minute, once): a server never trains
    pack = open_pack(args.pack, settings)
    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="prefchat-load-") as tmp:
        db = args.db or f"sqlite:///{Path(tmp) / 'load.sqlite'}"
        server, base = start_server(args.pack, db, args.workers)
        killed: dict = {}
        try:
            ready(base, time.monotonic() + 300)
            workers = children(server.pid) if args.workers > 1 else [server.pid]
            rss = [round(rss_mb(pid)) for pid in workers]
            print(f"server {base} (pid {server.pid}, workers {workers}, RSS {rss} MB), pack {pack.name} {pack.version}, "
                  f"{args.users} users, think {args.think} s, run {run}", flush=True)
            log, started = Log(), time.monotonic()
            deadline = started + args.deadline
            sampler = CpuSampler(lambda: children(server.pid) if args.workers > 1 else [server.pid], log, args.sample)
            sampler.start()
            threads = [threading.Thread(target=simulated_user, daemon=True,
                                        args=(base, f"load-{run}-{n:03d}", n, pack, log, args.think, deadline))
                       for n in range(args.users)]
            if args.kill_one:
                expected = args.users * SessionOptions().min_questions
                threading.Thread(target=killer, args=(server.pid, args.workers, log, expected // 3, killed),
                                 daemon=True).start()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(max(0.0, deadline + 35 - time.monotonic()))
            wall = time.monotonic() - started
            cpu = sampler.stop()
            if any(thread.is_alive() for thread in threads):
                log.fail("some users were still waiting at the deadline")
            workers_after = children(server.pid) if args.workers > 1 else [server.pid]
            rss_after = [round(rss_mb(pid)) for pid in workers_after]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        lost = check_stored(db, log)
    figures = {"workers": args.workers, "users": args.users, **report(log, args.users, wall, lost, cpu, args.sample),
               "db": db.split("://")[0], "think_s": args.think, "worker_rss_mb": rss_after, **killed}
    print(f"worker RSS at the end: {rss_after} MB")
    if args.kill_one and not killed.get("restarted"):
        log.fail("the killed worker was not replaced")
        figures["unrecovered_errors"] = len(log.unrecovered)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    clean = not (lost or log.cross_talk or log.unrecovered) and log.finished == args.users
    return 0 if clean and figures["p95_ms"] <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
