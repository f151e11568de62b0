"""Many server processes on one database: health and readiness, draining, ``serve --workers N``."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prefchat.assistant.api import Assistant
from prefchat.settings import Settings
from prefchat.storage import Store, make_engine, open_store
from prefchat.ui import commands
from prefchat.ui.app import _drain_on_exit_signal, create_app, health_routes

TOKEN = "t0ken-" + "w" * 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'health.sqlite'}") as store:
        yield store


def test_healthz_and_readyz_answer_without_the_token(tiny_pack, store, embed):
    with TestClient(create_app(Assistant(tiny_pack, store, embed), api_tokens=[TOKEN])) as client:
        assert client.get("/api/v1/users/x/summary").status_code == 401
        alive = client.get("/healthz")
        assert alive.status_code == 200 and alive.json() == {"status": "alive"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "pack": tiny_pack.name, "version": tiny_pack.version}


def test_readyz_is_503_when_the_database_is_unreachable(tiny_pack, embed):
    unreachable = Store(make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing?connect_timeout=2"))
    with TestClient(create_app(Assistant(tiny_pack, unreachable, embed))) as client:
        assert client.get("/healthz").status_code == 200, "alive: the process answers"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "database unreachable"}


def test_readyz_is_503_while_draining(tiny_pack, store, embed):
    draining = threading.Event()
    app = FastAPI()
    app.include_router(health_routes(Assistant(tiny_pack, store, embed), draining))
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        draining.set()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "draining"}
        assert client.get("/healthz").status_code == 200


def test_an_exit_signal_sets_draining_then_reaches_the_server_handler():
    draining, received = threading.Event(), []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        _drain_on_exit_signal(draining)
        signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert draining.is_set() and received == [signal.SIGTERM]


def test_workers_refuse_an_in_memory_database(tiny_pack_dir, tmp_path, capsys):
    args = argparse.Namespace(pack=str(tiny_pack_dir), db="sqlite://", host="127.0.0.1", port=0, no_api=False, workers=2)
    assert commands.serve(args, Settings(home=tmp_path, db_url="sqlite://", embedding_model="x")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in memory" in err and "PostgreSQL" in err


def test_workers_refuse_no_api(tiny_pack_dir, tmp_path, capsys):
    args = argparse.Namespace(pack=str(tiny_pack_dir), db=f"sqlite:///{tmp_path / 'n.sqlite'}", host="127.0.0.1", port=0,
                              no_api=True, workers=2)
    assert commands.serve(args, Settings(home=tmp_path, db_url="sqlite://", embedding_model="x")) == 2
    assert "REST API alone" in capsys.readouterr().err


def test_db_upgrade_creates_the_schema_once(tmp_path, capsys):
    from prefchat.cli import main

    url = f"sqlite:///{tmp_path / 'deploy.sqlite'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert main(["db", "upgrade", "--db", url]) == 0, "a second run is a no-op"
    assert capsys.readouterr().out.count("up to date") == 2
    with open_store(url) as store:
        assert store.reachable()


def worker_pids(pid: int) -> list[int]:
    kids = [int(k) for k in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    return [k for k in kids if b"spawn_main" in open(f"/proc/{k}/cmdline", "rb").read()]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workers.sqlite'}"
    return request.getfixturevalue("postgres_schema")()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads worker processes from /proc")
def test_serve_with_two_workers_onboards_over_rest_survives_a_killed_worker_and_stops_cleanly(tiny_pack_dir, served_url):
    port = free_port()
    env = {**os.environ, "PREFCHAT_EMBEDDING_MODEL": "x", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("PREFCHAT_API_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "prefchat.cli", "serve", "--pack", str(tiny_pack_dir), "--db", served_url,
         "--workers", "2", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while len(worker_pids(process.pid)) < 2 or not _ready(base):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "two workers were not ready within 120 s"
            time.sleep(0.2)
        assert httpx.get(f"{base}/", timeout=10).status_code == 404, "workers serve the REST API, not the chat"
        with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as client:
            turn = client.post("/sessions", json={"user_id": "alice"}).json()
            sent, killed = [], None
            while turn["type"] == "question":
                if len(sent) == 2 and killed is None:  # one worker dies mid-onboarding: the other takes over
                    killed = worker_pids(process.pid)[0]
                    os.kill(killed, signal.SIGKILL)
                body = {"choice": "a" if len(sent) % 2 else "b", "question_id": turn["question_id"]}
                turn = _post_retrying(client, f"/sessions/{turn['session_id']}/answers", body)
                sent.append(body["choice"])
            assert turn["type"] == "result" and turn["user_id"] == "alice"
            assert client.get("/users/alice/profile").json()["n_answers"] == len(sent)
        with open_store(served_url) as store:
            stored = [t.answer.choice for t in store.session_history(turn["session_id"]) if t.answer is not None]
        assert stored == sent
        deadline = time.monotonic() + 60
        while len(worker_pids(process.pid)) < 2 or killed in worker_pids(process.pid) or not all(
                _serving(pid) for pid in worker_pids(process.pid)):  # see prefchat.ui.worker: Signals
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl+C in a terminal: the whole process group
        _, err = process.communicate(timeout=60)
        assert "Traceback" not in err, err
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _serving(pid: int) -> bool:
    """Whether worker ``pid`` runs uvicorn's server: it has installed uvicorn's handlers of SIGINT
    and SIGTERM (``Server.capture_signals``), so SIGTERM is in the mask of caught signals."""
    status = open(f"/proc/{pid}/status").read()
    caught = int(status.split("SigCgt:")[1].split()[0], 16)
    return bool(caught >> (signal.SIGTERM - 1) & 1)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _post_retrying(client: httpx.Client, path: str, body: dict) -> dict:
    """As docs/deployment.md tells clients: a request without a reply is sent again, the same question_id."""
    for _ in range(20):
        try:
            response = client.post(path, json=body)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if response.status_code < 500:
            assert response.status_code == 200, response.text
            return response.json()
        time.sleep(0.2)
    pytest.fail(f"no reply to {path} after 20 tries")
