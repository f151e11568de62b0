"""The web app of ``prefchat serve``: one FastAPI application.

================================  ===========================================================
``/``                             the onboarding chat (:mod:`prefchat.ui.chat`)
``/api/v1/...``                   the REST API (:mod:`prefchat.ui.rest`)
``/prefchat-static/gradio.js``    the ``<gradio-app>`` web component's script (:mod:`prefchat.ui.embed`)
``/healthz``, ``/readyz``         liveness and readiness, for a load balancer (:func:`health_routes`)
================================  ===========================================================

``/readyz`` answers 503 once the process has been told to stop (SIGTERM or SIGINT, while uvicorn
finishes the requests in flight), so that a load balancer sends new requests elsewhere.

The analyst review is not part of it: it runs as an app of its own, on its own port, behind a
login (:func:`prefchat.ui.analyst.analyst_app`), so that the public chat never carries it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from ..assistant.api import Assistant
from .chat import mount_chat
from .embed import serve_web_component
from .guards import guard
from .rest import API_PREFIX, api_router

__all__ = ["create_app", "health_routes"]


def create_app(
    assistant: Assistant,
    api_tokens: Sequence[str] | None = None,
    cors_origins: Sequence[str] = (),
    api: bool = True,
    chat: bool = True,
    resume_key: bytes | None = None,
) -> FastAPI:
    """The chat, the REST API and the web component's script, for one pack and one store.

    Parameters
    ----------
    assistant : the assistant to serve (its pack and store)
    api_tokens : bearer tokens the REST API requires (see :func:`prefchat.ui.rest.api_router`);
        without them it authenticates no one
    cors_origins : origins whose pages may call this server from a browser (CORS). Default
        none: no cross-origin request gets CORS headers, whatever name the server is reached
        under (Gradio's own policy, which allows any origin on a public name, is replaced)
    api : False serves the chat without the REST API
    chat : False serves the REST API without the chat and the web component (``serve --workers N``:
        Gradio keeps a browser tab's state and its event stream in the process that served the tab,
        so the chat cannot be spread over several processes on one port)
    resume_key : signs the resume tokens the chat keeps in browsers (:mod:`prefchat.ui.ownership`);
        default: a key of this app's own
    """
    draining = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _drain_on_exit_signal(draining)
        yield

    app = FastAPI(title="prefchat", version=metadata.version("prefchat"), docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.include_router(health_routes(assistant, draining))
    guard(app, cors_origins, bounded_elsewhere=(API_PREFIX,))  # CORS, no uploads, bounded bodies and rates
    if api:
        app.include_router(api_router(assistant, api_tokens))
    if not chat:
        return app
    serve_web_component(app)
    return mount_chat(app, assistant, "/", resume_key=resume_key)


def health_routes(assistant: Assistant, draining: threading.Event) -> APIRouter:
    """``GET /healthz`` and ``GET /readyz``: tiny, unauthenticated, for a load balancer or an orchestrator.

    ``/healthz`` (liveness) is 200 while the process answers at all. ``/readyz`` (readiness) is 200
    when the pack is loaded (the app exists only once it is) and the database answers, else 503
    with the reason: ``"draining"`` once ``draining`` is set, ``"database unreachable"``.
    """
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/readyz", summary="Readiness", responses={503: {"description": "draining, or the database is unreachable"}})
    def readyz() -> JSONResponse:
        if draining.is_set():
            return JSONResponse({"status": "draining"}, status_code=503)
        if not assistant.store.reachable():
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ready", "pack": assistant.pack.name, "version": assistant.pack.version})

    return router


def _drain_on_exit_signal(draining: threading.Event) -> None:
    """Set ``draining`` on SIGTERM and SIGINT, then hand the signal to the handler already installed
    (uvicorn's, which starts the graceful shutdown). Nothing changes where no handler is installed
    (the app served by something else than uvicorn) or off the main thread (a test client)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if callable(previous):
            def handler(signum: int, frame: object, previous=previous) -> None:
                draining.set()
                previous(signum, frame)

            signal.signal(sig, handler)
