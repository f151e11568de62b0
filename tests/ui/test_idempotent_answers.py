"""Finding 7 at the edges: the REST answer and the chat's ``/answer`` name the question they answer.

Eight simultaneous copies of one answer store one answer and all get the same next turn, also
when they arrive at two server processes (two apps, each with an engine of its own, on one
SQLite file); a retry after the reply was lost records nothing.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prefchat.assistant.api import Assistant
from prefchat.storage import open_store
from prefchat.ui.app import create_app
from prefchat.ui.rest import API_PREFIX, api_router

API = API_PREFIX
COPIES = 8


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'shared.sqlite'}"


@pytest.fixture
def clients(tiny_pack, embed, db_url):
    """Two REST servers (an engine and a store each) on one database, as two processes are."""
    with open_store(db_url) as one, open_store(db_url) as two:
        apps = []
        for store in (one, two):
            app = FastAPI()
            app.include_router(api_router(Assistant(tiny_pack, store, embed)))
            apps.append(TestClient(app, raise_server_exceptions=False))
        with apps[0] as first, apps[1] as second:
            yield first, second, one


def post_at_once(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        client, url, body = call
        barrier.wait()
        return client.post(url, json=body)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_every_question_turn_carries_its_question_id(clients):
    first_client, _, store = clients
    turn = first_client.post(f"{API}/sessions", json={"user_id": "alice"}).json()
    (stored,) = store.session_history(turn["session_id"])
    assert turn["question_id"] == stored.question.id
    reask = first_client.post(f"{API}/sessions/{turn['session_id']}/answers",
                              json={"text": "hmm", "question_id": turn["question_id"]}).json()
    assert reask["question"]["question_id"] == stored.question.id
    schema = first_client.get(f"{API}/openapi.json").json()["components"]["schemas"]
    assert "question_id" in schema["QuestionOut"]["required"] and "question_id" in schema["AnswerIn"]["properties"]


def test_eight_copies_of_one_answer_store_one_and_get_the_same_next_turn(clients):
    one, two, store = clients
    first = one.post(f"{API}/sessions", json={"user_id": "alice"}).json()
    url = f"{API}/sessions/{first['session_id']}/answers"
    body = {"choice": "a", "question_id": first["question_id"]}
    responses = post_at_once([(client, url, body) for client in (one, two) * (COPIES // 2)])
    assert [r.status_code for r in responses] == [200] * COPIES, [r.text for r in responses]
    turns = [r.json() for r in responses]
    assert all(turn == turns[0] for turn in turns) and turns[0]["position"] == 2
    history = store.session_history(first["session_id"])
    assert [t.answer is not None for t in history] == [True, False]

    # A retry after a crash (the answer was committed, the reply never arrived) records nothing.
    retry = two.post(url, json=body)
    assert retry.status_code == 200 and retry.json() == turns[0]
    assert len(store.session_history(first["session_id"])) == 2


def test_an_answer_to_another_question_than_the_current_is_a_conflict(clients):
    one, _, _ = clients
    first = one.post(f"{API}/sessions", json={"user_id": "bea"}).json()
    url = f"{API}/sessions/{first['session_id']}/answers"
    one.post(url, json={"choice": "a", "question_id": first["question_id"]})
    changed = one.post(url, json={"choice": "b", "question_id": first["question_id"]})
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "conflict"
    unknown = one.post(url, json={"choice": "a", "question_id": first["question_id"] + 1000})
    assert unknown.status_code == 409
    assert one.post(url, json={"choice": "a", "question_id": 0}).status_code == 422


def test_the_chat_answer_endpoint_names_the_question_shown(tiny_pack, embed, db_url, serve_app, visit):
    """The chat passes the id of the question it shows, so a copy of a click is taken once."""
    with open_store(db_url) as store:
        conversation = Assistant(tiny_pack, store, embed)
        with serve_app(create_app(conversation)) as url:
            visitor = visit(url)
            first = visitor("start")
            asked = []
            original = conversation.answer

            def spy(session_id, text, question_id=None):
                asked.append(question_id)
                return original(session_id, text, question_id)

            conversation.answer = spy
            second = visitor("answer", "A")
            history = store.session_history(first.session_id)
            assert asked == [history[0].question.id], "the chat did not send the id of the question shown"
            assert second.asking and len(history) == 2


def test_rest_answers_without_a_question_id_are_refused_so_a_retry_stores_nothing(clients):
    """Issue 24, finding 5: eight copies of an answer without ``question_id`` were stored at positions 2 to 9."""
    one, two, store = clients
    first = one.post(f"{API}/sessions", json={"user_id": "cal"}).json()
    url = f"{API}/sessions/{first['session_id']}/answers"
    responses = post_at_once([(client, url, {"choice": "a"}) for client in (one, two) * (COPIES // 2)])
    assert {r.status_code for r in responses} == {422}
    assert all("question_id" in r.json()["error"]["message"] for r in responses)
    assert [t.answer for t in store.session_history(first["session_id"])] == [None]


@pytest.mark.parametrize("endpoint, said", [("say", "the second one"), ("say", "b"), ("answer", "B")])
def test_a_chat_answer_sent_twice_with_the_question_shown_is_taken_once(tiny_pack, embed, db_url, serve_app, visit,
                                                                        endpoint, said):
    """Issue 24, finding 5: a typed answer carried no question id, so a resent one was stored again."""
    with open_store(db_url) as store:
        with serve_app(create_app(Assistant(tiny_pack, store, embed))) as url:
            visitor = visit(url)
            first = visitor("start")
            (question,) = store.session_history(first.session_id)
            once = visitor(endpoint, said, question.question.id)
            twice = visitor(endpoint, said, question.question.id)
            history = store.session_history(first.session_id)
    assert [t.answer.choice if t.answer else None for t in history] == ["b", None]
    assert once.progress == twice.progress and "Question 2" in twice.progress
