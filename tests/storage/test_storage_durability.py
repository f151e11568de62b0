"""Answers survive SIGKILL: every acknowledged answer is committed to the SQLite file."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from prefchat.storage import open_store

WRITER = Path(__file__).with_name("session_writer.py")


def run_until(url: str, n_answers: int) -> list[str]:
    """Run the session writer, SIGKILL it right after it prints ``answered n_answers``,
    and return the lines it printed."""
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), url, str(n_answers)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdin is not None
    watchdog = threading.Timer(60, writer.kill)  # never hang the suite
    watchdog.start()
    lines: list[str] = []
    try:
        while not lines or lines[-1] != f"answered {n_answers}":
            line = writer.stdout.readline()
            assert line, f"the writer exited early, after printing {lines}"
            lines.append(line.strip())
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=10) == -signal.SIGKILL
    finally:
        watchdog.cancel()
        writer.kill()
        writer.stdout.close()
        writer.stdin.close()
    return lines


def test_six_answers_survive_sigkill_and_the_session_resumes_at_question_seven(tmp_path):
    url = f"sqlite:///{tmp_path / 'prefchat.sqlite'}"
    session_line, *answered_lines = run_until(url, 6)
    assert answered_lines == [f"answered {k}" for k in range(1, 7)]

    with open_store(url) as store:
        history = store.session_history(session_line.removeprefix("session "))
    answered = [turn for turn in history if turn.answer is not None]
    assert [(t.question.position, t.question.item_ids, t.answer.choice, t.answer.latency_ms) for t in answered] == [
        (1, ("item0", "item1"), "a", 1001),
        (2, ("item2", "item3"), "b", 1002),
        (3, ("item4", "item5"), "tie", 1003),
        (4, ("item6", "item7"), "skip", 1004),
        (5, ("item8", "item9"), "a", 1005),
        (6, ("item10", "item11"), "b", 1006),
    ]
    # The writer may or may not have shown question 7 before the kill: either way we resume there.
    resume_at = next((turn.question.position for turn in history if turn.answer is None), len(history) + 1)
    assert resume_at == 7
