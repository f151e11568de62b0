"""One worker process of ``prefchat serve --workers N`` (:mod:`prefchat.ui.commands`).

uvicorn's supervisor spawns each worker (``spawn``: a new interpreter, never a fork) and calls
:func:`app` in it, which opens the pack and the database from the arguments ``serve`` left in the
environment variable :data:`ARGS`.

Signals: the supervisor spawns its workers with SIGINT blocked (the signal mask is inherited), so
a Ctrl+C in the terminal, which reaches every process of the group, stops the supervisor alone;
it then stops each worker with SIGTERM, which uvicorn answers with a graceful shutdown. (A worker
interrupted while importing would print a KeyboardInterrupt traceback.)
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ARGS", "app", "worker_config"]

ARGS = "PREFCHAT_WORKER_ARGS"
"""The environment variable (inherited by spawned workers) holding ``serve``'s arguments as JSON."""


def worker_config(workers: int, grace: int, **arguments: Any) -> uvicorn.Config:
    """The configuration of ``workers`` processes serving :func:`app` with ``arguments`` (pack, db, api,
    question_size), each stopping within ``grace`` seconds of SIGTERM."""
    os.environ[ARGS] = json.dumps(arguments)
    return uvicorn.Config(f"{__name__}:app", factory=True, workers=workers, log_level="warning",
                          timeout_graceful_shutdown=grace)


def app() -> FastAPI:
    """The app of this worker: :func:`~prefchat.ui.app.create_app` on the pack and database ``serve`` named."""
    from ..assistant.api import Assistant
    from ..assistant.settings import Settings
    from ..assistant.turns import SessionOptions
    from .app import create_app

    arguments = json.loads(os.environ[ARGS])
    settings = Settings.from_env()
    conversation = Assistant.open(pack=arguments["pack"], db=arguments["db"], settings=settings,
                                  options=SessionOptions(question_size=arguments["question_size"]))
    conversation.showcase_prompts()  # loaded before serving, not by a request holding a session's lock
    return create_app(conversation, settings.api_tokens, settings.cors_origins, api=arguments["api"])
