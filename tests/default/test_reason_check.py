"""Every reason true on the default pack: scripted users with fixed tastes (bench/reason_check.py)."""

import dataclasses
import tempfile
from pathlib import Path

import pytest

from prefchat import Assistant
from prefchat.assistant import wording
from prefchat.elicitation.posterior import Comparison, KWayChoice


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("reason_check")


def test_scripted_users_reasons_are_true_and_cite_their_answers(default_pack_dir, bench):
    """8 scripted users (always the longer answer, never the shorter, ...), their top 20 before and
    after a statement: no reason is false, at least 90% cite their answers or statements."""
    report = bench.run(str(default_pack_dir), n_users=8)
    assert report["users"] == 8 and report["reasons"] == 8 * 2 * bench.TOP
    assert report["contradicted"] == 0, report["false"]
    assert report["personal_share"] >= 0.9, report["personal_share"]
    assert all(row["n_answers"] == bench.ANSWERS for row in report["rows"])


@pytest.mark.slow
def test_every_scripted_user_of_the_default_pack(default_pack_dir, bench):
    """Two scripted users per descriptor of the pack (54): issue 21's acceptance, with the MovieLens
    half in tests/assistant/test_reason_check_movielens.py."""
    report = bench.run(str(default_pack_dir))
    assert report["users"] >= 50 and report["contradicted"] == 0, report["false"]
    assert report["personal_share"] >= 0.9, report["personal_share"]
    assert not report["misread_statements"]


def test_a_false_reason_fails_the_check(default_pack_dir, bench):
    """The check is no rubber stamp: a reason citing an answer the user never gave, saying they enjoy
    what they always passed over, or whose words say more than its parts, is reported."""
    options = bench.SessionOptions(min_questions=bench.ANSWERS, max_questions=bench.ANSWERS, n_recommendations=bench.TOP)
    with tempfile.TemporaryDirectory() as work, Assistant.open(pack=str(default_pack_dir), db=Path(work) / "false.sqlite",
                                                             options=options) as assistant:
        script = bench.Script("uses emoji", chase=False)
        session, _ = bench.onboard(assistant, script, "never-emoji", seed=0)
        taste, picks = bench.taste_of(assistant, "never-emoji", session), assistant.recommend("never-emoji", k=5)
        decided = bench.given(assistant, session)
        assert not list(bench.check(assistant, picks, script, decided, taste))
        pick = picks[0]
        answer = pick.reason.answers[0]
        assert isinstance(answer, Comparison | KWayChoice)
        reversed_answer = (Comparison(answer.item_a, answer.item_b, "b" if answer.choice == "a" else "a")
                           if isinstance(answer, Comparison) else answer)
        emoji = assistant.pack.serving.descriptors.columns["uses emoji"]
        carrier = next(p for p in assistant.recommend("never-emoji", k=assistant.pack.n_items)
                       if assistant.pack.serving.descriptors.carried[p.index, emoji])
        false = [dataclasses.replace(pick, why=pick.why + "; popular too"),
                 dataclasses.replace(carrier, reason=dataclasses.replace(carrier.reason, answers=(), enjoys=("uses emoji",)),
                                     why=f"because you enjoy {wording.spoken('uses emoji')}")]
        if isinstance(answer, Comparison):
            false.append(dataclasses.replace(pick, reason=dataclasses.replace(pick.reason, answers=(reversed_answer,))))
        problems = list(bench.check(assistant, false, script, decided, taste))
        assert {rank for rank, _ in problems} == set(range(len(false))), problems
