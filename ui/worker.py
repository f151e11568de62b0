"""One worker process of ``prefchat serve --workers N`` (:mod:`prefchat.ui.commands`).

uvicorn's supervisor spawns each worker (``spawn``: a new interpreter, never a fork) and calls
:func:`app` in it, which opens the pack and the database from the arguments ``serve`` left in the
environment variable :data:`ARGS`. A worker serves the REST API and the health routes, not the
chat: Gradio keeps each browser tab's state and event stream in the process that served the tab,
and the workers share one port, so a tab's next request may reach another worker.

Signals: a Ctrl+C in the terminal reaches every process of the group. The :class:`Supervisor`
spawns its workers with SIGINT ignored (an ignored signal stays ignored across ``exec``), so that
a worker still starting its interpreter does not die of it with a KeyboardInterrupt traceback;
once a worker serves, uvicorn handles SIGINT and SIGTERM itself, with a graceful shutdown, and
the supervisor stops every worker with SIGTERM. (A worker started again after one died is
spawned by uvicorn's own loop, without that: a Ctrl+C in its first second may print a traceback.)
"""

from __future__ import annotations

import json
import os
import signal
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from ..assistant.settings import Settings
from .server import server_config

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ARGS", "Supervisor", "app", "worker_config"]

ARGS = "PREFCHAT_WORKER_ARGS"
"""The environment variable (inherited by spawned workers) holding ``serve``'s arguments as JSON."""


class Supervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, which spawns the first workers with SIGINT ignored."""

    def init_processes(self) -> None:
        # Known gap: a Ctrl+C in the moment the workers are spawned is ignored here too (press it again).
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            super().init_processes()
        finally:
            signal.signal(signal.SIGINT, handler)


def worker_config(workers: int, grace: int, settings: Settings, **arguments: Any) -> uvicorn.Config:
    """The configuration of ``workers`` processes serving :func:`app` with ``arguments`` (pack, db,
    question_size), each stopping within ``grace`` seconds of SIGTERM, with the read timeouts of ``settings``."""
    os.environ[ARGS] = json.dumps(arguments)
    return server_config(f"{__name__}:app", settings, factory=True, workers=workers, timeout_graceful_shutdown=grace)


def app() -> FastAPI:
    """The app of this worker: :func:`~prefchat.ui.app.create_app` on the pack and database ``serve`` named."""
    from ..assistant.api import Assistant
    from ..assistant.turns import SessionOptions
    from .app import create_app

    arguments = json.loads(os.environ[ARGS])
    settings = Settings.from_env()
    assistant = Assistant.open(pack=arguments["pack"], db=arguments["db"], settings=settings,
                                  options=SessionOptions(question_size=arguments["question_size"]))
    assistant.showcase.prompts()  # loaded before serving, not by a request holding a session's lock
    return create_app(assistant, settings.api_tokens, settings.cors_origins, chat=False)
