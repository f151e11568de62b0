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

from importlib import metadata

from fastapi import FastAPI

from ..assistant.session import Conversation
from .chat import mount_chat
from .embed import serve_web_component
from .rest import api_router

__all__ = ["create_app"]


def create_app(conversation: Conversation) -> FastAPI:
    """The chat, the REST API and the web component's script, for one pack and one store."""
    app = FastAPI(title="prefchat", version=metadata.version("prefchat"), docs_url=None, redoc_url=None)
    app.include_router(api_router(conversation))
    serve_web_component(app)
    return mount_chat(app, conversation, "/")
