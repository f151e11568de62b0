"""The summary's confidence on the default pack, through the REST API (issue 21).

A user who answers at random reads "low"; "Finish now" after 3 answers never reads "high"; one
who always chose the shorter answer reads "high"; the sentence shown is the level recorded, and
the pack records the thresholds it was read against.
"""

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prefchat.assistant import wording
from prefchat.assistant.api import Assistant
from prefchat.reward.naming import TEXT_MEASURES
from prefchat.ui.rest import API_PREFIX, api_router


@pytest.fixture(scope="module")
def client(default_pack_dir, tmp_path_factory):
    with Assistant.open(pack=str(default_pack_dir), db=tmp_path_factory.mktemp("rest") / "rest.sqlite") as assistant:
        app = FastAPI()
        app.include_router(api_router(assistant))
        with TestClient(app) as client:
            yield assistant.pack, client


def onboard(client, user: str, choose, stop_after: int | None = None) -> dict:
    """``user``'s onboarding over REST, finished after ``stop_after`` answers if given; their summary."""
    turn = client.post(f"{API_PREFIX}/sessions", json={"user_id": user}).json()
    answered = 0
    while turn["type"] == "question":
        if answered == stop_after:
            client.post(f"{API_PREFIX}/sessions/{turn['session_id']}/finish").raise_for_status()
            break
        turn = client.post(f"{API_PREFIX}/sessions/{turn['session_id']}/answers",
                           json={"choice": choose(turn), "question_id": turn["question_id"]}).json()
        answered += 1
    return client.get(f"{API_PREFIX}/users/{user}/summary").json()


def said(summary: dict) -> bool:
    """The summary's text ends with the sentence of the level it records."""
    n, skipped = summary["n_answers"], summary["n_skipped"]
    answers = f"{n} answer{'' if n == 1 else 's'}" + (f", {skipped} skipped" if skipped else "")
    return summary["text"].endswith(wording.CONFIDENCE[summary["confidence"]].format(answers=answers))


@pytest.mark.slow
def test_random_answerers_read_low_and_the_shorter_answer_reads_high(client):
    pack, client = client
    assert pack.confidence is not None and not any(np.isfinite(pack.confidence.high[:5]))
    # The thresholds let 5% of random answerers read "medium" or more and 1% "high" (elicitation/confidence.py
    # RANDOM_MEDIUM, RANDOM_HIGH): of 40, at most 6 and 2 (at those rates each is exceeded by chance under 1% of the time).
    levels = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        summary = onboard(client, f"random-{seed}", lambda turn, rng=rng: "a" if rng.random() < 0.5 else "b")
        assert summary["n_answers"] == 10 and said(summary), summary
        levels.append(summary["confidence"])
    assert levels.count("low") >= 34 and levels.count("high") <= 2, levels

    def shorter(turn):
        a, b = (TEXT_MEASURES["words"](turn[side]["text"]) for side in ("item_a", "item_b"))
        return "both" if a == b else "a" if a < b else "b"

    summary = onboard(client, "shorter", shorter)
    assert summary["confidence"] == "high" and said(summary), summary
    assert "short and concise" in summary["text"]
    early = onboard(client, "shorter-early", shorter, stop_after=3)
    assert early["n_answers"] == 3 and early["confidence"] != "high" and said(early), early
