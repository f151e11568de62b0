"""Two engines on one database, as two server processes are: answers and starts that race.

Each engine is a :class:`Assistant` with a :class:`Store` (and a connection pool) of its own,
so the only thing they share is the database: an SQLite file, or a PostgreSQL schema. Threads
drive them at once, released together by a barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import numpy as np
import pytest

from prefchat.assistant.api import Assistant
from prefchat.assistant.turns import AnyTurn, QuestionTurn
from prefchat.storage import NotFound, open_store

COPIES = 8


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_url(request, tmp_path) -> str:
    """A new SQLite file, or a new PostgreSQL schema (``postgres_schema`` of tests/conftest.py)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return request.getfixturevalue("postgres_schema")()


@pytest.fixture
def engines(pack, embed, shared_url) -> Iterator[tuple[Assistant, Assistant]]:
    with open_store(shared_url) as one, open_store(shared_url) as two:
        yield Assistant(pack, one, embed), Assistant(pack, two, embed)


@pytest.fixture
def onboard(planted, choose) -> Callable[[Assistant, str], None]:
    """``onboard(engine, user)``: the user's whole onboarding through ``engine``."""
    def run(engine: Assistant, user: str) -> None:
        turn: AnyTurn = engine.start(user)
        while isinstance(turn, QuestionTurn):
            turn = engine.answer(turn.session_id, choose(planted, turn), turn.question_id)
    return run


def at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run ``calls`` in threads released together; their results (or the exceptions they raised)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except Exception as error:  # kept, so that the test names it
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_copies_of_one_answer_through_two_engines_store_one_answer(engines):
    one, two = engines
    first = one.start("alice")
    calls = [lambda e=e: e.answer(first.session_id, "a", first.question_id) for e in (one, two) * (COPIES // 2)]
    turns = at_once(calls)
    assert not [t for t in turns if isinstance(t, Exception)], turns
    assert all(isinstance(t, QuestionTurn) for t in turns)
    assert {t.question_id for t in turns} == {turns[0].question_id} and turns[0].position == 2
    history = one.store.session_history(first.session_id)
    assert [turn.answer is not None for turn in history] == [True, False], "one answer and one next question"
    # A retry long after (a client that lost the reply) still stores nothing and gets that turn.
    assert two.answer(first.session_id, "a", first.question_id) == turns[0]
    assert len(one.store.session_history(first.session_id)) == 2


def test_answers_without_a_question_id_through_two_engines_queue_up(engines):
    """Old clients: each copy answers the question current when its turn comes; never a fault."""
    one, two = engines
    first = one.start("alice")
    turns = at_once([lambda e=e: e.answer(first.session_id, "b") for e in (one, two) * (COPIES // 2)])
    assert not [t for t in turns if isinstance(t, Exception)], turns
    history = one.store.session_history(first.session_id)
    answered = [turn for turn in history if turn.answer is not None]
    assert len(answered) == COPIES and [t.question.position for t in answered] == list(range(1, COPIES + 1))
    assert sum(turn.answer is None for turn in history) <= 1


def test_concurrent_starts_for_one_new_user_meet_in_one_session(engines):
    one, two = engines
    turns = at_once([lambda e=e: e.start("newcomer") for e in (one, two) * (COPIES // 2)])
    assert not [t for t in turns if isinstance(t, Exception)], turns
    assert len({t.session_id for t in turns}) == 1, "concurrent starts gave sessions that abandon each other"
    session = one.store.get_session(turns[0].session_id)
    assert session.state == "active"
    assert {t.question_id for t in turns} == {turns[0].question_id}
    assert one.answer(session.id, "a", turns[0].question_id).position == 2


def test_a_start_after_an_answer_still_begins_a_new_session(engines):
    one, two = engines
    first = one.start("alice")
    one.answer(first.session_id, "a", first.question_id)
    again = two.start("alice")
    assert again.session_id != first.session_id and again.position == 1
    assert one.store.get_session(first.session_id).state == "abandoned"


def test_two_engines_take_turns_through_one_onboarding_and_forget_me(engines, pack, planted, choose):
    """One user's onboarding answered alternately by two engines (two processes behind a load balancer
    without sticky sessions): the same questions and posterior as one engine would give, and a
    "forget me" asked on one engine is confirmed on the other."""
    one, two = engines
    turn, n = one.start("alice", seed=7), 0
    while isinstance(turn, QuestionTurn):
        engine = (one, two)[n % 2]
        turn = engine.answer(turn.session_id, choose(planted, turn), turn.question_id)
        n += 1
    assert turn.session_id and one.profile("alice").n_answers == two.profile("alice").n_answers == n
    # Each engine's posterior is the one replayed from scratch from the stored answers.
    alone = Assistant(pack, two.store)
    for engine in (one, two):
        assert np.array_equal(engine.state(turn.session_id).posterior.mean, alone.state(turn.session_id).posterior.mean)
    assert one.say("alice", "forget me").intent == "forget"
    assert two.say("alice", "Yes, forget me").intent == "confirm_forget"
    with pytest.raises(NotFound):
        one.store.export_user("alice")


def test_a_forget_me_is_confirmed_once_and_not_after_another_message(engines, onboard):
    one, two = engines
    onboard(one, "bob")
    one.say("bob", "forget me")
    assert two.say("bob", "recommend").intent == "keep", "any other message deletes nothing, and says so"
    assert one.say("bob", "Yes, forget me").intent == "help", "the confirmation must follow the request at once"
    assert one.store.get_user("bob").id == "bob"


def test_an_expired_forget_me_is_not_confirmed(engines, onboard, monkeypatch):
    one, two = engines
    onboard(one, "carol")
    monkeypatch.setattr("prefchat.assistant.api.FORGET_CONFIRM", timedelta(seconds=-1))
    one.say("carol", "forget me")
    assert two.say("carol", "Yes, forget me").intent == "help"
    assert one.store.get_user("carol").id == "carol"


def test_a_held_posterior_is_not_served_after_another_engine_changed_the_session(engines, pack):
    """Engine one holds the posterior after its answer; engine two undoes it and answers otherwise:
    one's next turn uses the stored answers, not its stale posterior."""
    one, two = engines
    first = one.start("dave", seed=3)
    second = one.answer(first.session_id, "a", first.question_id)
    one.answer(second.session_id, "a", second.question_id)
    two.undo(first.session_id)
    two.answer(first.session_id, "b")
    held = one.state(first.session_id)
    fresh = Assistant(pack, two.store).state(first.session_id)
    assert [a.choice for a in held.answers] == ["a", "b"]
    assert np.array_equal(held.posterior.mean, fresh.posterior.mean)
    assert np.array_equal(held.posterior.cov, fresh.posterior.cov)
