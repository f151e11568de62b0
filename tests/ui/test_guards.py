"""What both web apps put in front of their routes (issue 24, findings 1 and 2): the CORS policy of
``serve`` on the analyst app too, no uploads, bounded bodies and rates; and (finding 10) tabs kept to their browser."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prefchat.assistant.api import Assistant
from prefchat.settings import Settings
from prefchat.storage import open_store
from prefchat.ui import guards
from prefchat.ui.analyst import analyst_app
from prefchat.ui.app import create_app
from prefchat.ui.guards import BURST, MAX_BODY, RateLimit, guard
from prefchat.ui.rest import MAX_BODY as REST_MAX_BODY
from prefchat.ui.tabs import TabOwners

PUBLIC = "http://prefchat.example.org"  # a name that is not localhost: Gradio's own CORS policy reflected any origin there
EVIL = ("https://evil.example", "null")
SHOP = "https://shop.example.org"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'guards.sqlite'}") as store:
        yield store


def settings(tmp_path, origins=()) -> Settings:
    return Settings(home=tmp_path, db_url="sqlite://", embedding_model="x", analyst_user="ana",
                    analyst_password="correct horse battery staple", cors_origins=tuple(origins))


@pytest.fixture(params=["chat", "analyst"])
def app_of(request, tiny_pack, store, embed, tmp_path):
    """``app_of(origins)``: ``prefchat serve``'s app or the analyst's, allowing ``origins``."""
    def make(origins=()):
        if request.param == "chat":
            return create_app(Assistant(tiny_pack, store, embed), cors_origins=origins)
        return analyst_app(store, tiny_pack, settings(tmp_path, origins))
    return make


# --------------------------------------------------------------------------- finding 1: CORS


@pytest.mark.parametrize("origin", EVIL)
def test_no_origin_gets_cors_headers_by_default_under_a_public_name(app_of, origin):
    with TestClient(app_of(), base_url=PUBLIC) as client:
        for response in (
            client.get("/config", headers={"Origin": origin}),
            client.options("/gradio_api/queue/join", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}),
            client.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"},
                        headers={"Origin": origin}),
        ):
            assert "access-control-allow-origin" not in response.headers, response.headers
            assert "access-control-allow-credentials" not in response.headers


def test_only_the_allow_list_gets_cors_headers_and_never_credentials(app_of):
    with TestClient(app_of([SHOP]), base_url=PUBLIC) as client:
        good = client.get("/config", headers={"Origin": SHOP})
        assert good.headers["access-control-allow-origin"] == SHOP
        assert "access-control-allow-credentials" not in good.headers
        for origin in EVIL:
            assert "access-control-allow-origin" not in client.get("/config", headers={"Origin": origin}).headers


# --------------------------------------------------------------------------- finding 2: uploads, bodies, rates


def test_uploads_are_refused_before_a_byte_is_kept_and_no_path_is_shown(app_of, tmp_path, monkeypatch):
    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    with TestClient(app_of(), base_url=PUBLIC) as client:
        for path in ("/gradio_api/upload", "/gradio_api/upload/", "/gradio_api/upload?upload_id=abc"):
            response = client.post(path, files={"files": ("x.bin", b"\0" * 4096)})
            assert response.status_code == 403, response.text
            assert "no files" in response.text and str(tmp_path) not in response.text and "/tmp" not in response.text
    assert not cache.exists() or not any(cache.rglob("x.bin"))


def test_a_body_over_the_limit_is_413_by_length_or_as_it_streams(app_of):
    with TestClient(app_of(), base_url=PUBLIC) as client:
        declared = client.post("/gradio_api/queue/join", content=b"{" + b" " * MAX_BODY + b"}")
        assert declared.status_code == 413

        def chunks():
            for _ in range(MAX_BODY // 1024 + 2):
                yield b" " * 1024

        streamed = client.post("/gradio_api/queue/join", content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        small = client.post("/gradio_api/queue/join", json={"data": []})
        assert small.status_code != 413


def test_the_rest_api_keeps_its_own_bound_and_error_format(tiny_pack, store, embed):
    with TestClient(create_app(Assistant(tiny_pack, store, embed))) as client:
        def padded(size: int) -> bytes:
            return b'{"user_id": "pad"' + b" " * size + b"}"

        assert client.post("/api/v1/sessions", content=padded(2 * MAX_BODY), headers=JSON).status_code == 201
        refused = client.post("/api/v1/sessions", content=padded(REST_MAX_BODY), headers=JSON)
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "body_too_large"


def test_the_chats_queue_is_bounded(tiny_pack, store, embed):
    from gradio.routes import App as GradioApp
    from starlette.routing import Mount

    from prefchat.ui.chat import QUEUE_SIZE

    app = create_app(Assistant(tiny_pack, store, embed))
    (gradio_app,) = [route.app for route in app.routes if isinstance(route, Mount) and isinstance(route.app, GradioApp)]
    assert gradio_app.get_blocks()._queue.max_size == QUEUE_SIZE


def test_a_token_bucket_per_address_known_answers():
    now = [0.0]
    limit = RateLimit(3, 2.0, clock=lambda: now[0])
    assert [limit.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.wait("a") == 0.5, "empty: one token comes after 1/rate seconds"
    assert limit.wait("b") == 0.0, "another address has its own bucket"
    now[0] = 0.5
    assert limit.wait("a") == 0.0 and limit.wait("a") == 0.5
    now[0] = 100.0
    assert [limit.wait("a") for _ in range(4)] == [0.0, 0.0, 0.0, 0.5], "the bucket holds at most its burst"


def test_a_flood_of_posts_from_one_address_is_slowed_with_retry_after(monkeypatch):
    # One token back per 100 s: however slow the machine, the bucket does not refill during the flood.
    monkeypatch.setattr(guards, "RATE", 0.01)
    app = FastAPI()

    @app.post("/act")
    def act() -> dict[str, bool]:
        return {"ok": True}

    guard(app, ())
    with TestClient(app) as client:
        codes = [client.post("/act").status_code for _ in range(BURST * 3)]
        refused = client.post("/act")
    assert codes == [200] * BURST + [429] * (2 * BURST)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


# --------------------------------------------------------------------------- finding 10: session hashes


def test_a_tabs_session_hash_read_from_a_log_does_not_reach_its_transcript(server_url, visit):
    """Whoever knew a tab's session_hash (it travels in query strings) could read its transcript
    (``deep_link`` copies a tab's state) and act as the tab; now only the browser that named it first may."""
    victim = visit(server_url)
    victim("start")
    victim("say", "b")
    session_hash = victim.client.session_hash
    with httpx.Client(base_url=server_url, timeout=30) as attacker:
        assert attacker.get("/gradio_api/deep_link", params={"session_hash": session_hash}).status_code == 403
        joined = attacker.post("/gradio_api/queue/join", json={"data": ["forget me", 0], "fn_index": 0,
                                                                "session_hash": session_hash, "trigger_id": None})
        assert joined.status_code == 403 and "another browser" in joined.text
        assert attacker.get("/gradio_api/queue/data", params={"session_hash": session_hash}).status_code == 403
        assert attacker.get(f"/gradio_api/heartbeat/{session_hash}").status_code == 403
    assert "Question 3" in victim("say", "a").progress, "the tab's own browser is still served"


def test_tab_owners_known_answers():
    owners = TabOwners()
    assert owners.claim("h1", "cookie-a") and owners.claim("h1", "cookie-a")
    assert not owners.claim("h1", "cookie-b") and not owners.claim("h1", "")
    assert owners.claim("h2", "") and owners.claim("h2", "") and not owners.claim("h2", "cookie-a")
