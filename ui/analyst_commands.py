"""``prefchat analyst``: the analyst review on a port of its own, behind a login.

::

    PREFCHAT_ANALYST_USER=ana PREFCHAT_ANALYST_PASSWORD=... \\
        prefchat analyst [--db URL] [--pack PACK] [--host 127.0.0.1] [--port 7861]

Without both variables it refuses to start (there is no default password). ``--pack`` names the
axes and items of that pack's profiles; profiles of other packs show numbered bases and item
ids. It prints the URL once the port is bound (``--port 0`` picks a free one) and serves until
interrupted. The login travels in clear over plain HTTP: keep the default loopback host, or put
the port behind a TLS proxy. The view (Gradio), the store (SQLAlchemy) and uvicorn are imported
when the command runs, so that ``prefchat analyst --help`` stays light.
"""

from __future__ import annotations

import argparse
import sys

from ..assistant.packs import resolve_pack
from ..assistant.settings import Settings
from .commands import ServeRefused, listen, loopback, run_until_interrupted
from .credentials import AnalystNotConfigured, require_credentials

__all__ = ["add_arguments", "run"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7861


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``prefchat analyst`` to its parser."""
    parser.add_argument("--db", help="SQLAlchemy URL or SQLite file (default: $PREFCHAT_DB, else prefchat.sqlite in $PREFCHAT_HOME)")
    parser.add_argument("--pack", help="a pack directory, a pack name under $PREFCHAT_HOME/packs, or 'default'")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the analyst review until interrupted; 2 without credentials or with a bad pack."""
    try:
        user, _ = require_credentials(settings)  # before Gradio loads: a refusal is said at once
    except AnalystNotConfigured as error:
        print(f"prefchat analyst: {error}", file=sys.stderr)
        return 2
    import uvicorn

    from ..reward.pack import load_pack
    from ..storage import DatabaseUnavailable, open_store
    from .analyst import analyst_app
    from .server import server_config

    try:
        pack = None if args.pack is None else load_pack(resolve_pack(args.pack, settings))
    except ValueError as error:  # PackError is a ValueError
        print(f"prefchat analyst: {error}", file=sys.stderr)
        return 2
    try:
        sock = listen(args.host, args.port)
    except ServeRefused as error:
        print(f"prefchat analyst: {error}", file=sys.stderr)
        return 2
    try:
        store = open_store(args.db or settings.db_url)
    except DatabaseUnavailable as error:
        sock.close()
        print(f"prefchat analyst: {error}", file=sys.stderr)
        return 2
    with store:
        app = analyst_app(store, pack, settings)
        server = uvicorn.Server(server_config(app, settings))  # before the URL: see commands._serve
        shown = f"[{args.host}]" if ":" in args.host else args.host
        print(f"prefchat analyst review on http://{shown}:{sock.getsockname()[1]}/ (sign in as {user!r})", flush=True)
        if not loopback(args.host):
            print("prefchat analyst: warning: the login travels in clear over plain HTTP; use a TLS proxy", file=sys.stderr)
        run_until_interrupted(server, sock)
    return 0
