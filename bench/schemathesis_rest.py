"""Schemathesis against the REST API of ``prefchat serve``: every check, every phase, on loopback.

The server is :func:`prefchat.ui.app.create_app` (chat and REST API) in a subprocess on a free
loopback port, on a fresh SQLite file and the embedded default pack (or ``--pack``) with its
real embedder, with a bearer token (``--token``, the default) or without. Against it runs
``schemathesis run --checks all`` (coverage, fuzzing and stateful phases; positive and
negative data; ``--max-examples`` cases per operation and phase) with the settings in
bench/schemathesis.toml, which name the API's two deliberate refusals of schema-valid requests.

The server warms up before the run (one throwaway session started, finished and forgotten),
so that the first call needing the embedding model does not pay its loading: that cold call
took 15 to 43 s here under a load average of 5 to 18, the next ones 0.08 s, and schemathesis's
response time check (10 s) counts it. ``--cold`` leaves the warm-up out.

Counted as failures: any 5xx; a status, content type, header or body the OpenAPI document does
not describe; a schema-valid request refused or an invalid one accepted; a route that answers
without its token. Printed: schemathesis's summary, then one line of figures (operations
tested, cases generated, failures, seconds). Exit status: schemathesis's (0 when nothing failed).
The short run of the test suite is tests/ui/test_schemathesis_rest.py.

Run::

    python bench/schemathesis_rest.py                       # default pack, 100 cases, with a token
    python bench/schemathesis_rest.py --max-examples 300 --seed 7 --no-token --pack PATH
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = Path(__file__).with_name("schemathesis.toml")
TOKEN = "bench-schemathesis-token-0123456789"


def serve(pack: str, db: str, token: bool, warm: bool) -> None:
    """The server process: the app on a free loopback port, announced on stdout."""
    import uvicorn

    from prefchat.api import Assistant
    from prefchat.settings import Settings
    from prefchat.ui.app import create_app
    from prefchat.ui.commands import listen

    assistant = Assistant.open(pack=pack, db=db, settings=Settings.from_env())
    if warm:
        turn = assistant.start(None)
        assistant.finish(turn.session_id)
        assistant.forget(turn.user_id)
    sock = listen("127.0.0.1", 0)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]} pack {assistant.pack.name}", flush=True)
    app = create_app(assistant, api_tokens=[TOKEN] if token else None)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="default", help="a pack directory or name (default: the embedded default pack)")
    parser.add_argument("--max-examples", type=int, default=100, help="cases per operation and phase (default 100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-token", dest="token", action="store_false", help="serve the REST API without a bearer token")
    parser.add_argument("--cold", dest="warm", action="store_false", help="no warm-up: the first embedding call loads the model")
    parser.add_argument("--serve", metavar="DB", help=argparse.SUPPRESS)  # internal: run the server process
    args = parser.parse_args()
    if args.serve:
        serve(args.pack, args.serve, args.token, args.warm)
        return 0
    schemathesis = Path(sys.executable).with_name("schemathesis")
    with tempfile.TemporaryDirectory(prefix="prefchat-schemathesis-") as work:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
        command = [sys.executable, __file__, "--pack", args.pack, "--serve", f"sqlite:///{work}/bench.sqlite"]
        command += ([] if args.token else ["--no-token"]) + ([] if args.warm else ["--cold"])
        server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        try:
            line = server.stdout.readline()
            while line and not line.startswith("listening on "):  # e.g. "building the default pack ..."
                print(line.strip(), flush=True)
                line = server.stdout.readline()
            if not line.startswith("listening on "):
                print(f"the server did not start: {line!r}", file=sys.stderr)
                return 2
            url = line.split()[2]
            print(line.strip(), f"(bearer token: {'yes' if args.token else 'no'})", flush=True)
            run = [str(schemathesis), "--config-file", str(CONFIG), "run", f"{url}/api/v1/openapi.json", "--checks", "all",
                   "--max-examples", str(args.max_examples), "--seed", str(args.seed), "--generation-database", "none",
                   "--no-color", "--workers", "1", "--request-timeout", "60"]
            if args.token:
                run += ["--header", f"Authorization: Bearer {TOKEN}"]
            started = time.perf_counter()
            result = subprocess.run(run, capture_output=True, text=True, cwd=work, env={**env, "NO_COLOR": "1"})
            seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    output = result.stdout
    print(output[output.find("=== FAILURES"):] if "=== FAILURES" in output else output[output.find("=== SUMMARY"):])
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated", output)
    failures = re.search(r"found (\d+) unique failures?", output)
    print(f"schemathesis {args.max_examples} cases/operation, seed {args.seed}: operations tested "
          f"{tested.group(1) if tested else '?'}, cases {cases.group(1) if cases else '?'}, "
          f"unique failures {failures.group(1) if failures else 0}, {seconds:.0f} s, exit {result.returncode}")
    if result.stderr.strip():
        print(result.stderr[-2000:], file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
