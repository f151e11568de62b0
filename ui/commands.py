"""``prefchat serve`` and ``prefchat demo``: argparse glue around :func:`prefchat.ui.app.create_app`.

::

    prefchat serve --pack PACK [--db URL] [--host 127.0.0.1] [--port 7860]
    prefchat demo [--host 127.0.0.1] [--port 7860]      # the embedded default pack

Both print the URLs once the port listens (``--port 0`` picks a free one) and serve until
interrupted. The app (Gradio, the engine, uvicorn) is imported when a command runs, so that
``prefchat serve --help`` stays light.
"""

from __future__ import annotations

import argparse
import socket
from typing import TYPE_CHECKING

from ..assistant.packs import DEFAULT
from ..assistant.settings import Settings

if TYPE_CHECKING:
    from ..assistant.session import Conversation

__all__ = ["add_demo_arguments", "add_serve_arguments", "demo", "listen", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pack", required=True, help="a pack directory, a pack name under $PREFCHAT_HOME/packs, or 'default'")
    parser.add_argument("--db", help="SQLAlchemy URL or SQLite file (default: $PREFCHAT_DB, else prefchat.sqlite in $PREFCHAT_HOME)")
    _add_address_arguments(parser)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    _add_address_arguments(parser)


def _add_address_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the chat and REST API of pack ``args.pack``."""
    from ..assistant.api import Assistant

    return _serve(Assistant.open(pack=args.pack, db=args.db, settings=settings), args.host, args.port)


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the embedded default pack (built on first use, well under a minute)."""
    from ..assistant.api import Assistant

    return _serve(Assistant.open(pack=DEFAULT, settings=settings), args.host, args.port)


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (``port`` 0: a free one), for ``uvicorn.Server.run(sockets=...)``.

    It listens before the server starts, so its URL can be shown at once: connections made
    meanwhile wait in the backlog.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, got {port!r}")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen()
    return sock


def _serve(conversation: Conversation, host: str, port: int) -> int:
    import uvicorn

    from .app import create_app

    app = create_app(conversation)
    sock = listen(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}"
    print(
        f"prefchat: pack {conversation.pack.name!r} {conversation.pack.version}\n"
        f"  chat      {url}/\n"
        f"  REST API  {url}/api/v1/openapi.json\n"
        f"  embed     <gradio-app src=\"{url}/\"> with {url}/prefchat-static/gradio.js (docs/embedding.md)\n"
        "Press Ctrl+C to stop.",
        flush=True,
    )
    uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)).run(sockets=[sock])
    return 0
