"""Embedding the chat in another site or app.

Three ways, from most to least integrated:

1. **Mount it in your FastAPI app**::

       from fastapi import FastAPI
       from prefchat.ui.embed import mount

       app = FastAPI()
       mount(app, path="/prefchat", pack="default", db="sqlite:///prefchat.sqlite")

2. **The web component** on any page, pointing at a running prefchat server
   (:func:`web_component_snippet`); its script is Gradio's own, served by that server from the
   installed wheel at ``/prefchat-static/gradio.js`` (:func:`serve_web_component`), so the page
   needs no CDN and the script always matches the server's Gradio version.

3. **An iframe** (:func:`iframe_snippet`): isolated, works everywhere.

The copy-paste snippets are in docs/embedding.md.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import gradio
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from ..assistant.api import Assistant
from ..assistant.intents import Embed
from ..assistant.settings import Settings
from .chat import mount_chat

__all__ = ["STATIC_PATH", "iframe_snippet", "mount", "serve_web_component", "web_component_snippet"]


STATIC_PATH = "/prefchat-static"
"""Where :func:`serve_web_component` serves the web component's script and its assets."""
FRONTEND = Path(gradio.__file__).parent / "templates" / "frontend"
"""Gradio's built frontend inside the installed wheel: ``gradio.js`` imports ``./assets/index-*.js``."""


def serve_web_component(app: FastAPI, path: str = STATIC_PATH) -> FastAPI:
    """Serve Gradio's ``<gradio-app>`` script at ``{path}/gradio.js`` and its modules under ``{path}/assets``.

    The files are public and static, so any origin may load them (``Access-Control-Allow-Origin: *``):
    a module script from another origin needs it. Add this before mounting anything at ``"/"``,
    which would answer these paths first.
    """
    script = FRONTEND / "gradio.js"
    if not script.is_file():
        raise FileNotFoundError(f"Gradio's web component script is not at {script}: is gradio {gradio.__version__} complete?")
    files = Router([
        Route("/gradio.js", lambda request: FileResponse(script, media_type="text/javascript")),
        Mount("/assets", StaticFiles(directory=FRONTEND / "assets")),
    ])
    app.mount(path, CORSMiddleware(files, allow_origins=["*"], allow_methods=["GET"]), name="prefchat-static")
    return app


def web_component_snippet(url: str, static: str | None = None) -> str:
    """HTML that shows the chat served at ``url`` inside any page.

    ``static`` is where the script is served, by default ``{url}`` + :data:`STATIC_PATH`
    (the server of :func:`prefchat.ui.app.create_app` serves it).
    """
    base = url.rstrip("/")
    script = f"{base}{STATIC_PATH}/gradio.js" if static is None else f"{static.rstrip('/')}/gradio.js"
    return (
        f'<script type="module" src="{escape(script)}"></script>\n'
        f'<gradio-app src="{escape(base)}/" eager="true"></gradio-app>'
    )


def iframe_snippet(url: str, height: int = 760) -> str:
    """An ``<iframe>`` showing the chat served at ``url``."""
    if height <= 0:
        raise ValueError(f"height must be a positive number of pixels, got {height!r}")
    return (
        f'<iframe src="{escape(url)}" title="prefchat" width="100%" height="{height}" '
        'style="border: 0; max-width: 960px;" allow="clipboard-write"></iframe>'
    )


def mount(
    app: FastAPI,
    path: str = "/prefchat",
    pack: str | Path = "default",
    db: str | Path | None = None,
    settings: Settings | None = None,
    embed: Embed | None = None,
) -> FastAPI:
    """Mount the onboarding chat on ``app`` at ``path`` and serve the web component's script.

    Parameters
    ----------
    app : the host's FastAPI application
    path : where the chat answers, e.g. ``"/prefchat"``
    pack, db, settings, embed : as for :meth:`prefchat.Assistant.open`
    """
    assistant = Assistant.open(pack=pack, db=db, settings=settings, embed=embed)
    serve_web_component(app)
    return mount_chat(app, assistant, path)
