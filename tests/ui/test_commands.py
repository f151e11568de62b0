"""``serve`` and ``demo`` as commands: a subprocess that prints its URLs and serves them."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from prefchat.ui.commands import listen

# The command line as users run it (the default pack is built by it, before the server starts).
SCRIPT = """
import sys
from prefchat.cli import main
sys.exit(main(sys.argv[1:]))
"""

@contextlib.contextmanager
def command(*argv: str, timeout: float) -> Iterator[dict[str, str]]:
    """Run ``prefchat *argv`` until it prints its URLs; yields them by name ("chat", "REST API")."""
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy()
    )
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    printed: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while not printed or not printed[-1].startswith("Press Ctrl+C"):
            try:
                printed.append(lines.get(timeout=max(0.0, deadline - time.monotonic())).rstrip())
            except queue.Empty:
                pytest.fail(f"no URL within {timeout} s; printed:\n" + "\n".join(printed))
        yield {m[1]: m[2] for m in re.finditer(r"^  (chat|REST API)\s+(\S+)$", "\n".join(printed), re.MULTILINE)}
    finally:
        process.terminate()
        process.wait(timeout=20)


def get(url: str, **headers: str):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return response.status, response.headers, response.read().decode()


def test_serve_prints_the_urls_it_serves(tiny_pack_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'served.sqlite'}"
    with command("serve", "--pack", str(tiny_pack_dir), "--db", db, "--port", "0", timeout=60) as urls:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", urls["chat"]) and urls["chat"] != "http://127.0.0.1:0/"
        status, _, page = get(urls["chat"])
        assert status == 200 and "window.gradio_config" in page and "Both fine" in page
        status, _, schema = get(urls["REST API"])
        assert status == 200 and '"openapi"' in schema
        status, headers, script = get(f"{urls['chat']}prefchat-static/gradio.js", Origin="https://host.example")
        assert status == 200 and "import(" in script and headers["Access-Control-Allow-Origin"] == "*"


def test_listen_takes_a_free_port_or_refuses_a_bad_one():
    with listen("127.0.0.1", 0) as sock:
        assert sock.getsockname()[1] > 0
    with pytest.raises(ValueError, match="70000"):
        listen("127.0.0.1", 70000)


@pytest.mark.slow
def test_demo_onboards_on_the_default_pack_with_the_real_model(visit):
    """Builds the default pack in a fresh PREFCHAT_HOME (about a minute), then a full onboarding."""
    with command("demo", "--port", "0", timeout=300) as urls:
        visitor = visit(urls["chat"].rstrip("/"))
        result, questions = visitor.onboard(["a", "b", "a", "both"])
        assert len(questions) >= 5 and all(q.prompt and q.card_a.startswith("### A") for q in questions)
        assert result.last.startswith("**Here is what I learned about you.**") and "answers (" in result.last
        reply = visitor("say", "actually I prefer short answers")
        assert "Stated by you: enjoys short and concise" in reply.last
