"""Read timeouts on every server (issue 24, finding 6): a half-sent request is answered 408 and closed.

The probes are bounded: a handful of loopback connections, each waiting at most
:data:`PATIENCE` seconds for the server to close it (a server without timeouts fails there).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI, Request

from prefchat.settings import Settings
from prefchat.ui.commands import listen
from prefchat.ui.server import ServerConfig, server_config
from prefchat.ui.worker import worker_config

PATIENCE = 20.0
"""Seconds a probe waits for the server to close a half-sent request (its timeouts are 1 s)."""
HALF_HEADERS = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def half_body(path: str, media_type: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media_type}\r\nContent-Length: 100\r\n\r\nx=".encode()


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


@contextmanager
def running(config: uvicorn.Config, sock: socket.socket) -> Iterator[int]:
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def probe(port: int, sent: bytes) -> bytes:
    """Everything the server answers on a connection that sent ``sent`` and then nothing, until it closes
    (an AssertionError if it is still open after :data:`PATIENCE` seconds)."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as conn:
        if sent:
            conn.sendall(sent)
        received = b""
        try:
            while chunk := conn.recv(4096):
                received += chunk
        except TimeoutError:
            raise AssertionError(f"the connection that sent {sent[:30]!r}... is still open after {PATIENCE} s") from None
    return received


def probe_all(port: int, path: str = "/echo", media_type: str = "application/json") -> list[bytes]:
    """Five connections at once: two silent, two with half the headers, one with half a body posted to ``path``."""
    probes = [b"", b"", HALF_HEADERS, HALF_HEADERS[:20], half_body(path, media_type)]
    results: list[bytes] = [b""] * len(probes)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            results[n] = probe(port, probes[n])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(probes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_half_sent_requests_are_answered_408_and_closed_while_whole_ones_are_served():
    config = ServerConfig(echo_app(), header_timeout=1.0, body_timeout=1.0, log_level="warning")
    with running(config, listen("127.0.0.1", 0)) as port:
        answers = probe_all(port)
        whole = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        served = probe(port, whole)
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), answers
    assert served.startswith(b"HTTP/1.1 200 ") and served.endswith(b'{"bytes":2}'), served


def test_settings_give_the_timeouts_with_defaults_a_slow_phone_passes():
    settings = Settings.from_env({"PREFCHAT_EMBEDDING_MODEL": "x"})
    assert (settings.header_timeout, settings.body_timeout) == (30.0, 60.0)
    chosen = Settings.from_env({"PREFCHAT_EMBEDDING_MODEL": "x", "PREFCHAT_HEADER_TIMEOUT": "5",
                                "PREFCHAT_BODY_TIMEOUT": "7.5"})
    config = server_config(echo_app(), chosen)
    assert (config.header_timeout, config.body_timeout) == (5.0, 7.5)
    for bad in ("0", "-1", "abc", "1e9"):
        with pytest.raises(ValueError, match="PREFCHAT_BODY_TIMEOUT"):
            Settings.from_env({"PREFCHAT_EMBEDDING_MODEL": "x", "PREFCHAT_BODY_TIMEOUT": bad})


def test_the_workers_of_serve_get_the_timeouts(tmp_path):
    settings = Settings(home=tmp_path, db_url="sqlite://", embedding_model="x", header_timeout=3.0, body_timeout=4.0)
    config = worker_config(2, 1, settings, pack="p", db="sqlite://", question_size=None)
    assert isinstance(config, ServerConfig) and (config.header_timeout, config.body_timeout) == (3.0, 4.0)


SERVE = """
import argparse, sys
from prefchat.settings import Settings
from prefchat.ui import analyst_commands, commands
parser = argparse.ArgumentParser(prog="prefchat")
if sys.argv[1] == "analyst":
    analyst_commands.add_arguments(parser)
    run = analyst_commands.run
else:
    commands.add_serve_arguments(parser)
    run = commands.serve
sys.exit(run(parser.parse_args(sys.argv[2:]), Settings.from_env()))
"""


@pytest.mark.parametrize("command, path, media_type", [
    ("serve", "/api/v1/sessions", "application/json"), ("analyst", "/login", "application/x-www-form-urlencoded")])
def test_the_servers_prefchat_runs_close_half_sent_requests(command, path, media_type, tiny_pack_dir, tmp_path):
    env = {**os.environ, "PREFCHAT_EMBEDDING_MODEL": "x", "PREFCHAT_HOME": str(tmp_path), "PREFCHAT_HEADER_TIMEOUT": "1",
           "PREFCHAT_BODY_TIMEOUT": "1", "PREFCHAT_ANALYST_USER": "ana", "PREFCHAT_ANALYST_PASSWORD": "correct horse"}
    arguments = ["--db", f"sqlite:///{tmp_path / 'timeouts.sqlite'}", "--port", "0"]
    if command == "serve":
        arguments += ["--pack", str(tiny_pack_dir)]
    process = subprocess.Popen([sys.executable, "-c", SERVE, command, *arguments], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = ""
        while "http://127.0.0.1:" not in line:
            line = process.stdout.readline()
            assert line, "the server did not start"
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        answers = probe_all(port, path, media_type)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), answers


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")
def test_servers_run_on_uvloop_where_it_installs():
    from uvicorn.loops.auto import auto_loop_factory

    assert importlib.util.find_spec("uvloop") is not None, "uvloop is a dependency of prefchat (but on Windows)"
    assert auto_loop_factory(use_subprocess=False).__module__.startswith("uvloop")
