"""Schemathesis against the analyst app's HTTP routes: no request, signed in or not, makes a server error.

The analyst app (:func:`prefchat.ui.analyst.analyst_app`: Gradio's routes behind the login, and
the export route) publishes no OpenAPI document, so this script writes one from its routes
(FastAPI's ``get_openapi`` over the app's and the mounted Gradio app's routes), serves the app
with uvicorn on a free loopback port over a fresh SQLite file holding a few profiles, and runs
``schemathesis run --checks not_a_server_error`` (coverage, fuzzing and stateful phases) against
it twice: without a login, and signed in as the analyst (Gradio's session cookie, from ``POST
/login``). Routes that stream without end (server-sent events, Gradio's dev reload and
heartbeat) are left out: a fuzzer waits on them until its timeout. The per-address rate limit of
:mod:`prefchat.ui.guards` is lifted for the run, so that the fuzzer's cases reach every route's
handler instead of a 429.

Printed: schemathesis's summary of each run, then one line of figures per run (operations
tested, cases generated, failures). Exit status: 0 when neither run found a server error.

Run::

    python bench/schemathesis_analyst.py                    # 20 cases per operation and phase
    python bench/schemathesis_analyst.py --max-examples 50 --seed 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from fastapi.openapi.utils import get_openapi
from starlette.applications import Starlette
from starlette.routing import Mount

from prefchat.settings import Settings
from prefchat.storage import open_store
from prefchat.ui import guards
from prefchat.ui.analyst import analyst_app
from prefchat.ui.commands import listen

USER, PASSWORD = "ana", "schemathesis analyst password"
STREAMING = r"(queue/data|heartbeat|dev/reload|/stream/|call/.*/\{event_id\}|monitoring)"
"""Paths that stream without end, left out of the run."""


def document(app) -> dict:
    """An OpenAPI document of the analyst app's routes and of the Gradio app mounted in it."""
    routes = [route for route in app.routes if not isinstance(route, Mount)]
    for mount in (route for route in app.routes if isinstance(route, Mount)):
        if isinstance(mount.app, Starlette):  # Gradio's app, a FastAPI one
            routes += mount.app.routes
    return get_openapi(title="prefchat analyst", version="1", routes=routes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=20, help="cases per operation and phase (default 20)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    schemathesis = Path(sys.executable).with_name("schemathesis")
    failed = False
    guards.BURST, guards.RATE = 10**9, 1e9  # every case reaches its handler (see the module docstring)
    with tempfile.TemporaryDirectory(prefix="prefchat-schemathesis-analyst-") as work:
        settings = Settings(home=Path(work), db_url=f"sqlite:///{work}/a.sqlite", embedding_model="unused",
                            analyst_user=USER, analyst_password=PASSWORD)
        with open_store(settings.db_url) as store:
            for n in range(5):
                store.create_user(f"user-{n}")
                store.save_profile(f"user-{n}", "movies", "1", np.zeros(3) + n, np.eye(3), {"a": n + 1})
            app = analyst_app(store, None, settings)
            (Path(work) / "openapi.json").write_text(json.dumps(document(app)))
            sock = listen("127.0.0.1", 0)
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            login = httpx.post(f"{url}/login", data={"username": USER, "password": PASSWORD})
            cookie = "; ".join(f"{name}={value}" for name, value in login.cookies.items())
            for label, headers in (("not signed in", []), ("signed in", ["--header", f"Cookie: {cookie}"])):
                command = [str(schemathesis), "run", str(Path(work) / "openapi.json"), "--url", url,
                           "--checks", "not_a_server_error", "--max-examples", str(args.max_examples), "--seed",
                           str(args.seed), "--exclude-path-regex", STREAMING, "--generation-database", "none",
                           "--no-color", "--workers", "1", "--request-timeout", "20", *headers]
                result = subprocess.run(command, capture_output=True, text=True, cwd=work,
                                        env={**os.environ, "NO_COLOR": "1"})
                output = result.stdout
                print(output[output.find("=== SUMMARY"):] if "=== SUMMARY" in output else output[-3000:])
                tested, cases = re.search(r"Tested: (\d+)", output), re.search(r"(\d+) generated", output)
                failures = re.search(r"found (\d+) unique failures?", output)
                print(f"analyst, {label}: operations tested {tested.group(1) if tested else '?'}, cases "
                      f"{cases.group(1) if cases else '?'}, unique failures {failures.group(1) if failures else 0}, "
                      f"exit {result.returncode}", flush=True)
                failed |= result.returncode != 0
            server.should_exit = True
            thread.join(timeout=10)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
