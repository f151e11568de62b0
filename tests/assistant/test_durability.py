"""Kill the process mid-onboarding; a restart resumes the session with the same posterior.

The child runs a session on the tiny pack (saved to disk) with a SQLite file, answering as a
planted user; after the 6th answer is committed it prints the session id, the posterior mean
(as JSON, exact float round trip), the 7th question it was shown, and "answered 6". The parent
SIGKILLs it there, reopens the database and resumes.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np

from prefchat.assistant.api import Assistant
from prefchat.assistant.turns import QuestionTurn
from prefchat.reward.pack import load_pack
from prefchat.storage import open_store

CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from prefchat.assistant.api import Assistant
    from prefchat.reward.pack import load_pack
    from prefchat.storage import open_store

    pack = load_pack(sys.argv[1])
    conversation = Assistant(pack, open_store(sys.argv[2]))
    coef = np.zeros(pack.n_bases)
    coef[:2] = [3.0, -3.0]
    turn = conversation.start("durable")
    for k in range(1, 7):
        a, b = (pack.features[pack.index_of(card.item_id)] for card in (turn.item_a, turn.item_b))
        turn = conversation.answer(turn.session_id, "a" if coef @ (a - b) > 0 else "b")
        if k == 6:
            mean = conversation.state(turn.session_id).posterior.mean
            print(json.dumps({"session": turn.session_id, "mean": mean.tolist(),
                              "next": [turn.item_a.item_id, turn.item_b.item_id]}), flush=True)
        print(f"answered {k}", flush=True)
    sys.stdin.read()  # wait to be killed
    """
)


def killed_after_six_answers(child_source: str, pack_dir, db_url: str, tmp_path) -> dict:
    """Run ``child_source`` on the pack and database, SIGKILL it once it says "answered 6"; what it printed."""
    script = tmp_path / "child.py"
    script.write_text(child_source)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, str(script), str(pack_dir), db_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        printed: dict | None = None
        for line in child.stdout:
            if line.startswith("{"):
                printed = json.loads(line)
            if line.strip() == "answered 6":
                break
        else:
            raise AssertionError(f"the child ended early with status {child.wait()}")
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        child.kill()
        child.stdout.close()
        child.stdin.close()
    assert printed is not None, "the child printed no JSON line"
    return printed


def test_sigkill_after_six_answers_resumes_at_question_seven_with_the_same_posterior(pack_dir, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'durable.sqlite'}"
    printed = killed_after_six_answers(CHILD, pack_dir, db_url, tmp_path)

    with open_store(db_url) as store:
        conversation = Assistant(load_pack(pack_dir), store)
        turn = conversation.resume(printed["session"])
        assert isinstance(turn, QuestionTurn) and turn.position == 7
        assert [turn.item_a.item_id, turn.item_b.item_id] == printed["next"]
        state = conversation.state(printed["session"])
        assert len(state.kinds) == 6
        np.testing.assert_allclose(state.posterior.mean, printed["mean"], rtol=0, atol=1e-9)
        assert store.get_session(printed["session"]).state == "active"


KWAY_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from prefchat.assistant.api import Assistant
    from prefchat.assistant.turns import SessionOptions
    from prefchat.reward.pack import load_pack
    from prefchat.storage import open_store

    pack = load_pack(sys.argv[1])
    conversation = Assistant(pack, open_store(sys.argv[2]), options=SessionOptions(question_size=4))
    coef = np.zeros(pack.n_bases)
    coef[:2] = [3.0, -3.0]
    turn = conversation.start("durable-kway")
    for k in range(1, 7):
        utilities = [pack.features[pack.index_of(card.item_id)] @ coef for card in turn.items]
        turn = conversation.answer(turn.session_id, str(int(np.argmax(utilities)) + 1))
        if k == 6:
            state = conversation.state(turn.session_id)
            print(json.dumps({"session": turn.session_id, "mean": state.posterior.mean.tolist(),
                              "next": [card.item_id for card in turn.items]}), flush=True)
        print(f"answered {k}", flush=True)
    sys.stdin.read()  # wait to be killed
    """
)


def test_sigkill_mid_kway_onboarding_resumes_the_same_kway_question(pack_dir, tmp_path):
    """A session of 4-option questions resumes like a session of pairs: same question, same posterior."""
    db_url = f"sqlite:///{tmp_path / 'durable.sqlite'}"
    printed = killed_after_six_answers(KWAY_CHILD, pack_dir, db_url, tmp_path)

    with open_store(db_url) as store:
        conversation = Assistant(load_pack(pack_dir), store)
        turn = conversation.resume(printed["session"])
        assert isinstance(turn, QuestionTurn) and turn.position == 7
        assert [card.item_id for card in turn.items] == printed["next"] and len(turn.items) == 4
        state = conversation.state(printed["session"])
        assert state.kinds == ("pick",) * 6
        np.testing.assert_array_equal(state.posterior.mean, printed["mean"])
