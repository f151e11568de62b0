"""The web app of ``prefchat serve``: one FastAPI application.

================================  ===========================================================
``/``                             the onboarding chat (:mod:`prefchat.ui.chat`)
``/api/v1/...``                   the REST API (:mod:`prefchat.ui.rest`)
``/prefchat-static/gradio.js``    the ``<gradio-app>`` web component's script (:mod:`prefchat.ui.embed`)
================================  ===========================================================

The analyst review is not part of it: it runs as an app of its own, on its own port, behind a
login (:func:`prefchat.ui.analyst.analyst_app`), so that the public chat never carries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from ..assistant.session import Conversation
from .chat import mount_chat
from .embed import serve_web_component
from .rest import api_router

__all__ = ["create_app"]


def create_app(
    conversation: Conversation,
    api_tokens: Sequence[str] | None = None,
    cors_origins: Sequence[str] = (),
    api: bool = True,
) -> FastAPI:
    """The chat, the REST API and the web component's script, for one pack and one store.

    Parameters
    ----------
    conversation : the engine
    api_tokens : bearer tokens the REST API requires (see :func:`prefchat.ui.rest.api_router`);
        without them it authenticates no one
    cors_origins : origins whose pages may call this server from a browser (CORS). Default
        none: no cross-origin request gets CORS headers, whatever name the server is reached
        under (Gradio's own policy, which allows any origin on a public name, is replaced)
    api : False serves the chat without the REST API
    """
    app = FastAPI(title="prefchat", version=metadata.version("prefchat"), docs_url=None, redoc_url=None)
    # A CORSMiddleware on the parent app makes Gradio's own CORS handling stand aside.
    app.add_middleware(
        CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST", "DELETE"],
        # x-gradio-user: the web component's queue requests name their browser session with it.
        allow_headers=["Content-Type", "Authorization", "X-Prefchat-User", "X-Gradio-User"], allow_credentials=False,
    )
    if api:
        app.include_router(api_router(conversation, api_tokens))
    serve_web_component(app)
    return mount_chat(app, conversation, "/")
