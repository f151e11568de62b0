"""Hardening of ``prefchat serve``: REST authentication, CORS, and one-line errors (issue 14)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from prefchat.assistant.api import Assistant
from prefchat.settings import Settings
from prefchat.storage import DatabaseUnavailable, make_engine, open_store
from prefchat.ui import commands
from prefchat.ui.app import create_app
from prefchat.ui.rest import API_PREFIX

API = API_PREFIX
TOKEN, OLD_TOKEN = "t0ken-" + "a" * 20, "old-t0ken-" + "b" * 20
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'auth.sqlite'}") as store:
        yield store


@pytest.fixture
def secured(tiny_pack, store, embed):
    app = create_app(Assistant(tiny_pack, store, embed), api_tokens=[TOKEN, OLD_TOKEN])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


ROUTES = [
    ("post", "/sessions", {"json": {"user_id": "alice"}}),
    ("get", "/sessions/abc/question", {}),
    ("post", "/sessions/abc/answers", {"json": {"choice": "a"}}),
    ("post", "/sessions/abc/undo", {}),
    ("post", "/sessions/abc/finish", {}),
    ("get", "/users/alice/profile", {}),
    ("get", "/users/alice/summary", {}),
    ("post", "/users/alice/summary/corrections", {"json": {"text": "actually I love jokes"}}),
    ("get", "/users/alice/recommendations", {}),
    ("post", "/users/alice/rank", {"json": {"candidates": ["x"]}}),
    ("delete", "/users/alice", {}),
    ("get", "/no/such/route", {}),
    ("put", "/sessions", {}),
]


@pytest.mark.parametrize("method, path, kwargs", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-xxxxxxxxxxxx"}, {"Authorization": TOKEN},
                                     {"X-Prefchat-User": "alice"}], ids=["none", "wrong", "no scheme", "header only"])
def test_without_a_valid_token_every_route_is_401(secured, method, path, kwargs, headers):
    response = secured.request(method.upper(), API + path, headers=headers, **kwargs)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_with_a_token_alice_is_served_and_impersonation_needs_the_token(secured, store):
    turn = secured.post(f"{API}/sessions", json={"user_id": "alice"}, headers=BEARER)
    assert turn.status_code == 201
    old = {"Authorization": f"Bearer {OLD_TOKEN}"}  # rotation: the old token still works
    assert secured.get(f"{API}/sessions/{turn.json()['session_id']}/question", headers=old).status_code == 200
    # a caller without the token can neither read, rewrite nor delete alice
    for method, path in [("GET", "/users/alice/summary"), ("DELETE", "/users/alice")]:
        assert secured.request(method, API + path, headers={"X-Prefchat-User": "alice"}).status_code == 401
    assert store.get_user("alice").id == "alice"


def test_the_openapi_document_stays_public_and_declares_the_bearer_scheme(secured):
    document = secured.get(f"{API}/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearer": []}]
    profile = document["paths"][f"{API}/users/{{user_id}}/profile"]["get"]
    user = next(p for p in profile["parameters"] if p["name"] == "user_id")
    assert (user["schema"]["minLength"], user["schema"]["maxLength"]) == (1, 128)


def test_the_chat_keeps_working_for_anonymous_visitors(secured):
    page = secured.get("/")
    assert page.status_code == 200 and "Both fine" in page.text


def test_short_tokens_are_refused_without_quoting_them():
    with pytest.raises(ValueError, match="token number 2") as error:
        Settings.from_env({"PREFCHAT_API_TOKEN": f"{TOKEN},short", "PREFCHAT_EMBEDDING_MODEL": "x"})
    assert "short" not in str(error.value)
    settings = Settings.from_env({"PREFCHAT_API_TOKEN": f" {TOKEN} , {OLD_TOKEN}", "PREFCHAT_EMBEDDING_MODEL": "x"})
    assert settings.api_tokens == (TOKEN, OLD_TOKEN)


# --------------------------------------------------------------------------- CORS


def test_cors_is_off_by_default_under_any_host_name(tiny_pack, store, embed):
    app = create_app(Assistant(tiny_pack, store, embed))
    with TestClient(app, base_url="http://prefchat.example.org") as client:
        headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"}
        preflight = client.options(f"{API}/users/alice", headers=headers)
        assert "access-control-allow-origin" not in preflight.headers
        chat = client.get("/config", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in chat.headers
        assert "access-control-allow-credentials" not in chat.headers


def test_cors_answers_only_the_allow_list(tiny_pack, store, embed):
    app = create_app(Assistant(tiny_pack, store, embed), cors_origins=["https://shop.example.org"])
    with TestClient(app, base_url="http://prefchat.example.org") as client:
        good = client.get("/config", headers={"Origin": "https://shop.example.org"})
        assert good.headers["access-control-allow-origin"] == "https://shop.example.org"
        assert "access-control-allow-credentials" not in good.headers
        bad = client.get("/config", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in bad.headers


def test_an_origin_list_is_validated():
    with pytest.raises(ValueError, match="evil"):
        Settings.from_env({"PREFCHAT_CORS_ORIGINS": "https://ok.example,evil", "PREFCHAT_EMBEDDING_MODEL": "x"})


# --------------------------------------------------------------------------- serve


def serve_args(pack_dir, db, host="127.0.0.1", port=0, no_api=False):
    return argparse.Namespace(pack=str(pack_dir), db=db, host=host, port=port, no_api=no_api)


def test_serve_refuses_rest_beyond_loopback_without_a_token(tiny_pack_dir, tmp_path, capsys):
    settings = Settings(home=tmp_path, db_url=f"sqlite:///{tmp_path / 'x.sqlite'}", embedding_model="x")
    assert commands.serve(serve_args(tiny_pack_dir, None, host="0.0.0.0"), settings) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "PREFCHAT_API_TOKEN" in err and "--no-api" in err
    commands.check_exposure("0.0.0.0", False, settings)  # the chat alone may go public
    commands.check_exposure("0.0.0.0", True, Settings(home=tmp_path, db_url="sqlite://", embedding_model="x", api_tokens=(TOKEN,)))
    commands.check_exposure("127.0.0.1", True, settings)
    commands.check_exposure("::1", True, settings)


def test_a_port_in_use_is_one_line_at_once(tiny_pack_dir, tmp_path, capsys, monkeypatch):
    import prefchat.assistant.api

    def never(*args, **kwargs):
        raise AssertionError("the pack was opened before the port was checked")

    monkeypatch.setattr(prefchat.assistant.api.Assistant, "open", never)  # "at once": before the pack loads
    with commands.listen("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        settings = Settings(home=tmp_path, db_url="sqlite://", embedding_model="x")
        assert commands.serve(serve_args(tiny_pack_dir, f"sqlite:///{tmp_path / 'p.sqlite'}", port=port), settings) == 2
    err = capsys.readouterr().err
    assert err == f"prefchat: error: port {port} on 127.0.0.1 is already in use: stop what listens there, or pick another --port\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_database_is_one_line(tiny_pack_dir, tmp_path, capsys):
    settings = Settings(home=tmp_path, db_url="sqlite://", embedding_model="x")
    db = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    assert commands.serve(serve_args(tiny_pack_dir, db), settings) == 2
    err = capsys.readouterr().err
    assert err.startswith("prefchat: error: cannot open the database postgresql+psycopg://nobody@127.0.0.1:")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_mistyped_sqlite_path_creates_no_directories(tmp_path):
    with pytest.raises(DatabaseUnavailable, match="typo"):
        make_engine(f"sqlite:///{tmp_path / 'typo' / 'deeper' / 'prefchat.sqlite'}")
    assert not (tmp_path / "typo").exists()


SCRIPT = """
import argparse, sys
from prefchat.settings import Settings
from prefchat.ui import commands
parser = argparse.ArgumentParser(prog="prefchat")
commands.add_serve_arguments(parser)
sys.exit(commands.serve(parser.parse_args(), Settings.from_env()))
"""


def _terminal_ctrl_c() -> None:
    """In the child, before it runs: Ctrl+C as a terminal delivers it (the default disposition, unblocked). A child
    inherits an ignored SIGINT, and the signal mask of the thread that starts it, from the test process, where
    libraries the earlier tests ran may have left either; this test asks what a person at a terminal sees."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_ctrl_c_on_serve_prints_no_traceback(tiny_pack_dir, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "--pack", str(tiny_pack_dir), "--db", f"sqlite:///{tmp_path / 'c.sqlite'}", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PREFCHAT_EMBEDDING_MODEL": "x"},
        preexec_fn=_terminal_ctrl_c,
    )
    for line in process.stdout:
        if line.startswith("Press Ctrl+C"):
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert process.returncode in (0, -signal.SIGINT, 130)


def test_a_question_size_out_of_range_is_one_line_not_a_traceback(capsys):
    import argparse

    parser = argparse.ArgumentParser(prog="prefchat")
    commands.add_serve_arguments(parser)
    args = parser.parse_args(["--pack", "default", "--question-size", "9"])
    assert commands.serve(args, Settings.from_env()) == 2
    err = capsys.readouterr().err
    assert err.startswith("prefchat: error: --question-size: question_size must be an integer from 2 to 6, got 9")
    assert err.count("\n") == 1
