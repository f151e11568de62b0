"""Schemathesis against the REST API: every check, every phase, bounded and offline (issue 14's acceptance).

The schemathesis command line runs against ``prefchat serve``'s app (chat and REST API,
:func:`prefchat.ui.app.create_app`) on a free loopback port, with and without a bearer token, with the settings in bench/schemathesis.toml (which the longer run of
bench/schemathesis_rest.py shares). Any 5xx, any response that breaks the OpenAPI document
(status, content type, headers, body schema), any schema-valid request refused or invalid one
accepted, and any route that answers without its token fails the test with schemathesis's report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prefchat.assistant.api import Assistant
from prefchat.storage import open_store
from prefchat.ui.app import create_app
from prefchat.ui.rest import API_PREFIX

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "bench" / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
TOKEN = "schemathesis-test-token-0123456789"
MAX_EXAMPLES = 10
"""Cases per operation and phase (under a minute a run on this 2-core machine); bench/schemathesis_rest.py runs more."""


def schemathesis_run(url: str, *arguments: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``schemathesis run`` of the API at ``url`` with every check and bench/schemathesis.toml."""
    command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{url}{API_PREFIX}/openapi.json",
               "--checks", "all", "--generation-database", "none", "--no-color", "--workers", "1", *arguments]
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


@pytest.mark.parametrize("tokens", [None, (TOKEN,)], ids=["no token", "bearer token"])
def test_schemathesis_finds_no_5xx_and_no_conformance_failure(serve_app, tiny_pack, embed, tmp_path, tokens):
    assert SCHEMATHESIS.is_file(), "schemathesis is a test requirement (pyproject.toml [test], requirements.lock)"
    with open_store(f"sqlite:///{tmp_path / 'schemathesis.sqlite'}") as store:
        with serve_app(create_app(Assistant(tiny_pack, store, embed), api_tokens=tokens)) as url:
            auth = ["--header", f"Authorization: Bearer {TOKEN}"] if tokens else []
            result = schemathesis_run(url, "--max-examples", str(MAX_EXAMPLES), "--seed", "14", *auth, cwd=tmp_path)
    report = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "Tested: 15" in result.stdout and " passed" in result.stdout, report
    assert "failed" not in result.stdout.split("SUMMARY", 1)[-1], report
