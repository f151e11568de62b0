"""Embedding: the chat mounted under a path of a host's FastAPI app, and the snippets."""

from __future__ import annotations

import json
import urllib.request

import pytest
from fastapi import FastAPI

from prefchat.settings import Settings
from prefchat.ui.embed import iframe_snippet, mount, web_component_snippet


def test_mount_serves_the_chat_under_a_path_and_leaves_the_host_alone(serve_app, visit, tiny_pack_dir, embed, tmp_path):
    app = FastAPI()
    app.add_api_route("/", lambda: {"host": "mine"})
    settings = Settings(home=tmp_path, db_url=f"sqlite:///{tmp_path / 'host.sqlite'}", embedding_model="unused")
    mount(app, path="/prefchat", pack=tiny_pack_dir, settings=settings, embed=embed)
    with serve_app(app) as url:
        with urllib.request.urlopen(f"{url}/", timeout=10) as response:
            assert json.load(response) == {"host": "mine"}
        with urllib.request.urlopen(f"{url}/prefchat-static/gradio.js", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/javascript")
        visitor = visit(f"{url}/prefchat")
        first = visitor("start")
        assert first.asking and visitor("answer", "b").messages[-2] == "b"


def test_web_component_snippet_points_at_the_server_and_its_script():
    assert web_component_snippet("https://chat.example.org/") == (
        '<script type="module" src="https://chat.example.org/prefchat-static/gradio.js"></script>\n'
        '<gradio-app src="https://chat.example.org/" eager="true"></gradio-app>'
    )
    assert 'src="https://cdn.example.org/gradio.js"' in web_component_snippet("https://chat.example.org", static="https://cdn.example.org/")


def test_snippets_escape_the_url():
    assert 'src="https://x.org/?a=1&amp;b=&quot;2&quot;"' in iframe_snippet('https://x.org/?a=1&b="2"')
    with pytest.raises(ValueError, match="-5"):
        iframe_snippet("https://x.org/", height=-5)


def test_a_page_on_an_origin_not_allowed_is_named_once_on_the_log_with_the_fix(tiny_pack, embed, caplog):
    from fastapi.testclient import TestClient

    from prefchat.assistant.api import Assistant
    from prefchat.storage import open_store
    from prefchat.ui.app import create_app

    with open_store("sqlite://") as store:
        client = TestClient(create_app(Assistant(tiny_pack, store, embed), cors_origins=("https://ok.example",)))
        with caplog.at_level("WARNING", logger="prefchat.ui.guards"):
            for origin in ("https://shop.example", "https://shop.example", "https://ok.example", "http://testserver"):
                assert client.get("/healthz", headers={"Origin": origin}).status_code == 200
    told = [record.getMessage() for record in caplog.records if record.name == "prefchat.ui.guards"]
    assert len(told) == 1 and "https://shop.example called this server" in told[0]
    assert "set PREFCHAT_CORS_ORIGINS=https://shop.example and restart" in told[0]
