"""``prefchat serve`` and ``prefchat demo``: argparse glue around :func:`prefchat.ui.app.create_app`.

::

    prefchat serve --pack PACK [--db URL] [--host 127.0.0.1] [--port 7860] [--workers N]
    prefchat demo [--host 127.0.0.1] [--port 7860]      # the embedded default pack

Both print the URLs once the port listens (``--port 0`` picks a free one) and serve until
interrupted. The app (Gradio, the assistant, uvicorn) is imported when a command runs, so that
``prefchat serve --help`` stays light.

With ``--workers N`` (N > 1) this process binds the port, resolves the pack and migrates the database once, then uvicorn's supervisor spawns N
worker processes (``spawn``, never ``fork``) that each load the pack and serve
:func:`prefchat.ui.worker.app` on the shared socket, and starts a new one when one dies. All state is in the
database, so any worker may take any REST request. The workers serve the REST API and the
health routes, not the chat (see :mod:`prefchat.ui.worker`): serve the chat with one process. SIGTERM or Ctrl+C: every worker stops taking new
connections, its ``/readyz`` answers 503, and the answers in flight finish (for up to
:data:`SHUTDOWN_GRACE` seconds).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import ipaddress
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..assistant.packs import DEFAULT
from ..assistant.settings import Settings

if TYPE_CHECKING:
    import uvicorn

    from ..assistant.api import Assistant

__all__ = [
    "ServeRefused", "add_demo_arguments", "add_serve_arguments", "check_exposure", "demo", "listen", "loopback",
    "run_until_interrupted", "serve", "serve_in_thread",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
SHUTDOWN_GRACE = 10
"""Seconds a stopping server waits for the requests in flight (uvicorn's ``timeout_graceful_shutdown``)."""
MAX_WORKERS = 64


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pack", required=True, help="a pack directory, a pack name under $PREFCHAT_HOME/packs, or 'default'")
    parser.add_argument("--db", help="SQLAlchemy URL or SQLite file (default: $PREFCHAT_DB, else prefchat.sqlite in $PREFCHAT_HOME)")
    parser.add_argument("--no-api", action="store_true", help="serve the chat without the REST API")
    parser.add_argument("--question-size", type=int, default=None,
                        help="cards a question shows: 2 for pairs, more for 'which of these k would you pick?' "
                             "(default: the size the pack's validation chose)")
    parser.add_argument("--workers", type=_workers, default=1,
                        help="server processes sharing the port (default 1); each loads the pack "
                             "(docs/deployment.md: memory per worker); any number can share one database")
    _add_address_arguments(parser)


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{value} workers: give 1 to {MAX_WORKERS}")
    return value


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    _add_address_arguments(parser)


def _add_address_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")


class ServeRefused(ValueError):
    """``serve`` would expose what it must not (the REST API beyond loopback without a token)."""


def loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, "localhost")."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def check_exposure(host: str, api: bool, settings: Settings) -> None:
    """:class:`ServeRefused` when the REST API would listen beyond loopback without ``PREFCHAT_API_TOKEN``."""
    if api and not settings.api_tokens and not loopback(host):
        raise ServeRefused(
            f"refusing to serve the REST API on {host} without a token: set PREFCHAT_API_TOKEN "
            "(docs/rest-api.md), or pass --no-api to serve the chat alone"
        )


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the chat and REST API of pack ``args.pack``."""
    from ..assistant.api import Assistant
    from ..assistant.turns import SessionOptions

    try:
        options = SessionOptions(question_size=getattr(args, "question_size", None))
    except ValueError as error:
        print(f"prefchat: error: --question-size: {error}", file=sys.stderr)
        return 2
    api = not getattr(args, "no_api", False)
    workers = getattr(args, "workers", 1)
    if workers > 1:
        return _run_workers(args, settings, api, workers)
    return _run(lambda: Assistant.open(pack=args.pack, db=args.db, settings=settings, options=options), args.host,
                args.port, settings, api)


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the embedded default pack (built by the command line before: :func:`prefchat.cli.ensure_default_pack`)."""
    from ..assistant.api import Assistant

    return _run(lambda: Assistant.open(pack=DEFAULT, settings=settings), args.host, args.port, settings, True)


def _run(open_assistant, host: str, port: int, settings: Settings, api: bool) -> int:
    """Check what would be exposed, open the assistant, serve; one line on stderr and 2 for what stops it."""
    from ..storage import DatabaseUnavailable

    try:
        check_exposure(host, api, settings)
        sock = listen(host, port)  # before the pack loads: a port in use is said at once
        try:
            assistant = open_assistant()
        except BaseException:
            sock.close()
            raise
        return _serve(assistant, sock, host, settings, api)
    except (ServeRefused, DatabaseUnavailable) as error:
        print(f"prefchat: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl+C while the pack loads or the server starts: no traceback
        return 130


def _run_workers(args: argparse.Namespace, settings: Settings, api: bool, workers: int) -> int:
    """``serve --workers N``: check, resolve the pack and migrate once here, then supervise N worker processes."""
    from uvicorn.config import STARTUP_FAILURE

    from ..assistant.packs import resolve_pack
    from ..storage import DatabaseUnavailable, in_memory, open_store
    from .worker import Supervisor, worker_config

    db = args.db or settings.db_url
    try:
        if not api:
            raise ServeRefused(f"--workers {workers} serves the REST API alone (the chat needs one process: "
                               "docs/deployment.md), and --no-api leaves nothing to serve")
        check_exposure(args.host, api, settings)
        if in_memory(db):
            raise ServeRefused(f"--workers {workers} needs one database for all processes, and {db!r} is in memory "
                               "(one per process): give an SQLite file or a PostgreSQL URL")
        pack = resolve_pack(args.pack, settings)
        open_store(db).close()  # migrated once, before the workers open it
        sock = listen(args.host, args.port)
    except (ServeRefused, DatabaseUnavailable) as error:
        print(f"prefchat: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    config = worker_config(workers, SHUTDOWN_GRACE, settings, pack=str(pack), db=str(db),
                           question_size=getattr(args, "question_size", None))
    supervisor = None
    try:
        supervisor = Supervisor(config, sockets=[sock])  # its signal handlers, before "Press Ctrl+C" is shown
        _announce(_url(args.host, sock), repr(pack.name), f"({workers} worker processes: the REST API alone)",
                  settings, api, chat=False)
        supervisor.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sock.close()
    if supervisor is not None and any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        print("prefchat: error: a worker process failed to start (its error is above)", file=sys.stderr)
        return 2
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (``port`` 0: a free one), for ``uvicorn.Server.run(sockets=...)``.

    It listens before the server starts, so its URL can be shown at once: connections made
    meanwhile wait in the backlog.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, got {port!r}")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ServeRefused(f"port {port} on {host} is already in use: stop what listens there, or pick another --port") from None
        raise ServeRefused(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen()
    return sock


def _serve(assistant: Assistant, sock: socket.socket, host: str, settings: Settings, api: bool) -> int:
    import uvicorn

    from .app import create_app
    from .ownership import load_key
    from .server import server_config

    app = create_app(assistant, settings.api_tokens, settings.cors_origins, api=api,
                     resume_key=load_key(settings.resume_key_file))
    # Configured before "Press Ctrl+C" is shown: a Ctrl+C then meets the running server, not
    # uvicorn setting up its logging (where it left a traceback).
    server = uvicorn.Server(server_config(app, settings, timeout_graceful_shutdown=SHUTDOWN_GRACE))
    _announce(_url(host, sock), repr(assistant.pack.name), assistant.pack.version, settings, api)
    # The showcase needs the embedding model (seconds to load): loaded beside the server, once its URL
    # is out; a result asked for in those first seconds waits for it.
    threading.Thread(target=assistant.showcase.prompts, name="prefchat-showcase", daemon=True).start()
    run_until_interrupted(server, sock)
    return 0


def _url(host: str, sock: socket.socket) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{sock.getsockname()[1]}"


def _announce(url: str, pack: str, detail: str, settings: Settings, api: bool, chat: bool = True) -> None:
    rest = (f"  REST API  {url}/api/v1/openapi.json" + (" (bearer token required)" if settings.api_tokens else "") + "\n") if api else ""
    chat_lines = (f"  chat      {url}/\n"
                  f"  embed     <gradio-app src=\"{url}/\"> with {url}/prefchat-static/gradio.js (docs/embedding.md)\n")
    print(
        f"prefchat: pack {pack} {detail}\n"
        f"{rest}"
        f"{chat_lines if chat else ''}"
        f"  health    {url}/healthz, {url}/readyz\n"
        "Press Ctrl+C to stop.",
        flush=True,
    )


def run_until_interrupted(server: uvicorn.Server, sock: socket.socket) -> None:
    """``server.run(sockets=[sock])``; Ctrl+C (uvicorn's shutdown, or a KeyboardInterrupt) ends it without a traceback."""
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        # The server has stopped: a Ctrl+C now (or one uvicorn re-raises late) would only
        # interrupt the interpreter's exit with a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sock.close()


@contextlib.contextmanager
def serve_in_thread(app, host: str = "127.0.0.1", started_within: float = 30.0) -> Iterator[str]:
    """``app`` served by uvicorn in a daemon thread on a free port of ``host``, for scripts and tests
    (``scripts/screenshots.py``); yields its base URL once it answers, and stops it on exit."""
    import uvicorn

    sock = listen(host, 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + started_within
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start within {started_within:g} s")
            time.sleep(0.05)
        yield _url(host, sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
