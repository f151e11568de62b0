"""The REST API: every route, bad input answered with a 4xx and a message, concurrent sessions."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefchat.assistant.api import Assistant
from prefchat.reward.data import visible_id
from prefchat.reward.pack import PackError
from prefchat.storage import USER_ID_PATTERN, open_store
from prefchat.ui.rest import API_PREFIX, MAX_BODY, ApiError, _header_user, api_router
from prefchat.ui.schemas import MAX_CANDIDATES, MAX_K, axis_names

API = API_PREFIX


def client_for(conversation: Assistant) -> TestClient:
    app = FastAPI()
    app.include_router(api_router(conversation))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'rest.sqlite'}") as store:
        yield store


@pytest.fixture
def conversation(tiny_pack, store, embed) -> Assistant:
    return Assistant(tiny_pack, store, embed)


@pytest.fixture
def client(conversation) -> Iterator[TestClient]:
    with client_for(conversation) as client:
        yield client


def planted_choice(pack, coef, question) -> str:
    """The answer of a user with coefficients ``coef`` to a question as the API shows it."""
    a, b = (pack.features[pack.index_of(question[side]["item_id"])] for side in ("item_a", "item_b"))
    return "a" if coef @ (a - b) > 0 else "b"


def onboard(client, user_id: str, answer) -> tuple[dict, list[dict]]:
    """Start a session for ``user_id`` and answer with ``answer(question)`` until the result."""
    turn = client.post(f"{API}/sessions", json={"user_id": user_id}).json()
    questions = []
    while turn["type"] == "question":
        questions.append(turn)
        turn = client.post(f"{API}/sessions/{turn['session_id']}/answers",
                           json={"choice": answer(turn), "question_id": turn["question_id"]}).json()
    return turn, questions


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and (code is None or error["code"] == code), error
    return error


# --------------------------------------------------------------------------- every route


def test_onboarding_end_to_end(client, tiny_pack):
    coef = np.zeros(tiny_pack.n_bases)
    coef[:2] = [3.0, -3.0]
    result, questions = onboard(client, "alice", lambda q: planted_choice(tiny_pack, coef, q))

    assert [q["position"] for q in questions] == list(range(1, len(questions) + 1))
    assert 5 <= len(questions) <= 10 == questions[0]["expected_total"]
    assert {q["session_id"] for q in questions} == {result["session_id"]} and result["user_id"] == "alice"
    assert questions[0]["prompt"] and questions[0]["item_a"]["item_id"] != questions[0]["item_b"]["item_id"]
    assert result["type"] == "result" and result["summary"] and result["recommendations"]
    assert sum(result["counts"].values()) == len(questions)

    profile = client.get(f"{API}/users/alice/profile").json()
    assert profile["n_answers"] == len(questions) and profile["version"] == 1
    assert [axis["name"] for axis in profile["axes"]] == axis_names(tiny_pack)
    assert all(axis["sd"] > 0 for axis in profile["axes"])
    assert profile["axes"][0]["mean"] > profile["axes"][1]["mean"]  # the planted user loves base 0, not base 1
    np.testing.assert_allclose(np.sqrt(np.diag(profile["cov"])), [axis["sd"] for axis in profile["axes"]])

    summary = client.get(f"{API}/users/alice/summary").json()
    assert summary["text"] == result["summary"] and summary["n_answers"] == len(questions)

    picks = client.get(f"{API}/users/alice/recommendations", params={"k": 3}).json()["items"]
    assert len(picks) == 3 and all(pick["item_id"] and pick["why"] for pick in picks)
    assert [p["score"] for p in picks] == sorted((p["score"] for p in picks), reverse=True)


def test_text_answers_reask_and_undo(client):
    first = client.post(f"{API}/sessions", json={"user_id": "bea"}).json()
    answers = f"{API}/sessions/{first['session_id']}/answers"

    asked = first["question_id"]
    reask = client.post(answers, json={"text": "banana bread", "question_id": asked}).json()
    assert reask["type"] == "reask" and reask["message"] and reask["question"] == first

    second = client.post(answers, json={"text": "The first one!", "question_id": asked}).json()
    assert second["type"] == "question" and second["position"] == 2

    again = client.post(f"{API}/sessions/{first['session_id']}/undo").json()
    assert again == first
    assert client.get(f"{API}/sessions/{first['session_id']}/question").json() == first


def test_finish_early_then_the_session_is_closed(client):
    first = client.post(f"{API}/sessions", json={"user_id": "cy"}).json()
    session = f"{API}/sessions/{first['session_id']}"
    second = client.post(f"{session}/answers", json={"choice": "tie", "question_id": first["question_id"]}).json()
    client.post(f"{session}/answers", json={"choice": "skip", "question_id": second["question_id"]})

    result = client.post(f"{session}/finish").json()
    assert result["type"] == "result" and result["counts"] == {"tie": 1, "skip": 1}
    assert client.post(f"{session}/finish").json() == result  # finishing again gives the result again
    assert client.get(f"{session}/question").json()["type"] == "result"
    assert_error(client.post(f"{session}/answers", json={"choice": "a", "question_id": 10**6}), 409)
    again = client.post(f"{session}/undo").json()  # after the last answer too: the session opens again
    assert again["type"] == "question" and again["position"] == 2


def test_anonymous_and_header_users(client):
    anonymous = client.post(f"{API}/sessions")
    assert anonymous.status_code == 201 and len(anonymous.json()["user_id"]) == 32

    by_header = client.post(f"{API}/sessions", headers={"X-Prefchat-User": "host-42"}).json()
    assert by_header["user_id"] == "host-42"
    same = client.post(f"{API}/sessions", json={"user_id": "host-42"}, headers={"X-Prefchat-User": "host-42"})
    assert same.status_code == 201

    assert_error(client.post(f"{API}/sessions", json={"user_id": "x"}, headers={"X-Prefchat-User": "y"}), 422)


def test_the_header_keeps_users_out_of_other_sessions(client):
    first = client.post(f"{API}/sessions", json={"user_id": "dan"}).json()
    session, body = first["session_id"], {"choice": "a", "question_id": first["question_id"]}
    intruder = {"X-Prefchat-User": "eve"}
    assert_error(client.get(f"{API}/sessions/{session}/question", headers=intruder), 404, "not_found")
    assert_error(client.post(f"{API}/sessions/{session}/answers", json=body, headers=intruder), 404)
    owner = client.post(f"{API}/sessions/{session}/answers", json=body, headers={"X-Prefchat-User": "dan"})
    assert owner.json()["position"] == 2


def test_rank_and_correct(client):
    onboard(client, "fay", lambda q: "a")
    candidates = ["In short: it takes a minute.", "1. Get ready.\n2. Do it.", "Fun fact: nobody knows."]
    ranked = client.post(f"{API}/users/fay/rank", json={"candidates": candidates, "k": 2}).json()["items"]
    assert len(ranked) == 2 and {r["index"] for r in ranked} <= {0, 1, 2}
    assert all(r["item_id"] is None for r in ranked) and ranked[0]["score"] >= ranked[1]["score"]
    assert len(client.post(f"{API}/users/fay/rank", json={"candidates": candidates}).json()["items"]) == 3

    corrected = client.post(f"{API}/users/fay/summary/corrections", json={"text": "actually I love jokes"}).json()
    stated = {d["descriptor"]: d for d in corrected["descriptors"]}["jokes"]
    assert stated["weight"] > 0 and stated["confidence"] == "stated by user"
    assert client.get(f"{API}/users/fay/summary").json() == corrected
    assert_error(
        client.post(f"{API}/users/fay/summary/corrections", json={"text": "the weather is nice"}),
        422, "correction_not_understood",
    )


def test_delete_user(client):
    onboard(client, "gus", lambda q: "b")
    response = client.delete(f"{API}/users/gus")
    assert response.status_code == 204 and response.content == b""
    assert_error(client.get(f"{API}/users/gus/profile"), 404, "not_found")
    assert_error(client.delete(f"{API}/users/gus"), 404, "not_found")


def test_without_an_embedder_ranking_is_not_configured(tiny_pack, store):
    with client_for(Assistant(tiny_pack, store)) as client:
        onboard(client, "hal", lambda q: "a")
        assert_error(client.post(f"{API}/users/hal/rank", json={"candidates": ["x"]}), 501, "not_configured")
        assert_error(client.post(f"{API}/users/hal/summary/corrections", json={"text": "I love jokes"}), 501)


def test_a_factory_is_called_per_request(conversation):
    calls = []
    app = FastAPI()
    app.include_router(api_router(lambda: calls.append(1) or conversation))
    with TestClient(app) as client:
        client.post(f"{API}/sessions")
        client.get(f"{API}/users/nobody/profile")
    assert len(calls) == 2


def test_every_response_says_how_long_the_server_took(client):
    for response in (client.post(f"{API}/sessions"), client.get(f"{API}/users/nobody/profile")):
        name, duration = response.headers["Server-Timing"].split(";dur=")
        assert name == "app" and float(duration) >= 0


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def session_id(client) -> str:
    return client.post(f"{API}/sessions", json={"user_id": "ivy"}).json()["session_id"]


JSON = {"content-type": "application/json"}
BAD_REQUESTS = {
    "unknown session": ("get", "/sessions/0123abcd/question", {}, 404, "not_found"),
    "unknown session answered": ("post", "/sessions/0123abcd/answers", {"json": {"choice": "a", "question_id": 1}}, 404, "not_found"),
    "unknown session undone": ("post", "/sessions/0123abcd/undo", {}, 404, "not_found"),
    "unknown session finished": ("post", "/sessions/0123abcd/finish", {}, 404, "not_found"),
    "malformed choice": ("post", "/sessions/{sid}/answers", {"json": {"choice": "c"}}, 422, "invalid_request"),
    "no answer": ("post", "/sessions/{sid}/answers", {"json": {}}, 422, "invalid_request"),
    "no question id": ("post", "/sessions/{sid}/answers", {"json": {"choice": "a"}}, 422, "invalid_request"),
    "no body": ("post", "/sessions/{sid}/answers", {}, 422, "invalid_request"),
    "choice and text": ("post", "/sessions/{sid}/answers", {"json": {"choice": "a", "text": "a"}}, 422, None),
    "empty text": ("post", "/sessions/{sid}/answers", {"json": {"text": ""}}, 422, "invalid_request"),
    "text too long": ("post", "/sessions/{sid}/answers", {"json": {"text": "a" * 2001}}, 422, "invalid_request"),
    "unknown field": ("post", "/sessions/{sid}/answers", {"json": {"choice": "a", "x": 1}}, 422, "invalid_request"),
    "answer not an object": ("post", "/sessions/{sid}/answers", {"json": ["a"]}, 422, "invalid_request"),
    "broken json": ("post", "/sessions", {"content": b'{"user_id": ', "headers": JSON}, 422, "invalid_request"),
    "non-utf-8 body": ("post", "/sessions", {"content": b'{"user_id": "\xff\xfe"}', "headers": JSON}, 400,
                       "invalid_encoding"),
    "body over 1 MB": ("post", "/sessions/{sid}/answers", {"content": b" " * (MAX_BODY + 1), "headers": JSON}, 413,
                       "body_too_large"),
    "streamed body over 1 MB": ("post", "/sessions/{sid}/answers",
                                {"content": (b" " * 65536 for _ in range(17)), "headers": JSON}, 413, "body_too_large"),
    "control character in user id": ("post", "/sessions", {"json": {"user_id": "a\nb"}}, 422, "invalid_request"),
    "user id too long": ("post", "/sessions", {"json": {"user_id": "u" * 129}}, 422, "invalid_request"),
    "user id not a string": ("post", "/sessions", {"json": {"user_id": 7}}, 422, "invalid_request"),
    "control character in path": ("get", "/users/a%0Ab/profile", {}, 422, "invalid"),
    "user id in path too long": ("get", "/users/" + "u" * 129 + "/summary", {}, 422, "invalid"),
    "control character in header": ("post", "/sessions", {"headers": {"X-Prefchat-User": "a\tb"}}, 422, "invalid"),
    "unknown user profile": ("get", "/users/nobody/profile", {}, 404, "not_found"),
    "unknown user summary": ("get", "/users/nobody/summary", {}, 404, "not_found"),
    "unknown user recommendations": ("get", "/users/nobody/recommendations", {}, 404, "not_found"),
    "unknown user ranking": ("post", "/users/nobody/rank", {"json": {"candidates": ["x"]}}, 404, "not_found"),
    "unknown user correction": ("post", "/users/nobody/summary/corrections", {"json": {"text": "I love jokes"}},
                                404, "not_found"),
    "unknown user deleted": ("delete", "/users/nobody", {}, 404, "not_found"),
    "user without a profile": ("get", "/users/ivy/profile", {}, 404, "no_profile"),
    "k of zero": ("get", "/users/ivy/recommendations?k=0", {}, 422, "invalid_request"),
    "k too large": ("get", f"/users/ivy/recommendations?k={MAX_K + 1}", {}, 422, "invalid_request"),
    "k not a number": ("get", "/users/ivy/recommendations?k=ten", {}, 422, "invalid_request"),
    "no candidates": ("post", "/users/ivy/rank", {"json": {"candidates": []}}, 422, "invalid_request"),
    "too many candidates": ("post", "/users/ivy/rank", {"json": {"candidates": ["x"] * (MAX_CANDIDATES + 1)}}, 422,
                            "invalid_request"),
    "empty candidate": ("post", "/users/ivy/rank", {"json": {"candidates": [""]}}, 422, "invalid_request"),
    "unknown route": ("get", "/sessions", {}, 405, "method_not_allowed"),
    "unknown path": ("get", "/nowhere", {}, 404, "not_found"),
}


@pytest.mark.parametrize("method, path, kwargs, status, code", BAD_REQUESTS.values(), ids=BAD_REQUESTS)
def test_bad_input_gets_a_4xx_with_a_message(client, session_id, method, path, kwargs, status, code):
    response = client.request(method.upper(), API + path.format(sid=session_id), **kwargs)
    assert_error(response, status, code)
    assert "Server-Timing" in response.headers


def test_a_405_says_what_is_allowed(client):
    assert client.delete(f"{API}/sessions").headers["Allow"] == "POST"


def test_a_declared_body_over_the_limit_is_refused_unread(client, session_id):
    """Content-Length alone decides: the body is not read (here it is not even sent in full)."""
    response = client.post(f"{API}/sessions/{session_id}/answers", content=b"{}",
                           headers={**JSON, "Content-Length": str(MAX_BODY + 1)})
    assert_error(response, 413, "body_too_large")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values)
def test_no_json_body_makes_a_5xx(client, session_id, body):
    response = client.post(f"{API}/sessions/{session_id}/answers", content=json.dumps(body), headers=JSON)
    assert response.status_code in (200, 409, 422), response.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user_id=st.text(max_size=140))
def test_no_user_id_makes_a_5xx(client, user_id):
    response = client.post(f"{API}/sessions", json={"user_id": user_id})
    valid = re.fullmatch(USER_ID_PATTERN, user_id) is not None and not any(0xD800 <= ord(c) <= 0xDFFF for c in user_id)
    assert valid or not visible_id(user_id) or not 1 <= len(user_id) <= 128, "every visible id is valid"
    assert response.status_code == (201 if valid else 422), response.text


# --------------------------------------------------------------------------- the OpenAPI document


def test_openapi_lists_every_route_and_its_errors(client, conversation):
    document = client.get(f"{API}/openapi.json").json()
    routes = [r for r in api_router(conversation).routes if isinstance(r, APIRoute) and r.include_in_schema]
    assert len(routes) == 15  # with the check-in: GET, POST and DELETE /checkin, GET /profile/history
    for route in routes:
        for method in route.methods:
            operation = document["paths"][route.path][method.lower()]
            assert operation["summary"] and operation["description"]
            assert operation["responses"]["404"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"
            }
    assert set(document["paths"]) == {route.path for route in routes}
    assert document["info"]["version"] == "v1"
    assert "summary" in document["components"]["schemas"]["ResultOut"]["properties"]  # the name sent, not read
    answer = document["components"]["schemas"]["AnswerIn"]["properties"]["choice"]
    assert {"a", "b", "tie", "skip"} <= set(json.dumps(answer).replace('"', " ").split())


# --------------------------------------------------------------------------- concurrency


def test_concurrent_users_never_see_each_others_sessions(client, tiny_pack, store):
    """Eight users onboard at once through the thread pool; each gets only its own session's
    questions, and each stored profile holds exactly that user's answers."""
    rng = np.random.default_rng(0)
    planted = {f"user-{n}": rng.normal(size=tiny_pack.n_bases) * 3 for n in range(8)}

    def run(user_id):
        chosen = []

        def answer(question):
            assert question["user_id"] == user_id
            chosen.append(planted_choice(tiny_pack, planted[user_id], question))
            return chosen[-1]

        result, questions = onboard(client, user_id, answer)
        return user_id, result, questions, chosen

    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(run, planted))
    assert len({result["session_id"] for _, result, _, _ in runs}) == 8
    for user_id, result, questions, chosen in runs:
        assert result["user_id"] == user_id and {q["session_id"] for q in questions} == {result["session_id"]}
        profile = store.get_profile(user_id)
        assert profile.n_answers == len(chosen) and profile.counts == {c: chosen.count(c) for c in set(chosen)}
        asked = [t.question.item_ids for t in store.session_history(result["session_id"])]
        assert asked == [(q["item_a"]["item_id"], q["item_b"]["item_id"]) for q in questions]


def test_racing_requests_of_one_session_record_its_next_question_once(client, store):
    """An answer and reads of the current question at once: the next question is recorded once."""
    session_id = client.post(f"{API}/sessions", json={"user_id": "race"}).json()["session_id"]
    session = f"{API}/sessions/{session_id}"
    for _ in range(4):
        asked = client.get(f"{session}/question").json()["question_id"]
        with ThreadPoolExecutor(4) as pool:
            pool.submit(client.post, f"{session}/answers", json={"choice": "a", "question_id": asked})
            reads = [pool.submit(client.get, f"{session}/question") for _ in range(3)]
        assert all(read.result().status_code == 200 for read in reads)
        assert sum(turn.answer is None for turn in store.session_history(session_id)) == 1


# --------------------------------------------------------------------------- issue 14, low items


def finish_as(client, user_id: str) -> None:
    turn = client.post(f"{API}/sessions", json={"user_id": user_id}).json()
    client.post(f"{API}/sessions/{turn['session_id']}/finish")


@pytest.mark.parametrize("user_id, path", [("a/b", "a/b"), ("a/b", "a%2Fb"), ("/", "%2F"), (".", "%2E"), ("..", "%2E%2E"),
                                           ("x/../y", "x%2F%2E%2E%2Fy")])
def test_user_ids_with_slashes_and_dots_are_readable_and_deletable(client, store, user_id, path):
    finish_as(client, user_id)
    summary = client.get(f"{API}/users/{path}/summary")
    assert summary.status_code == 200 and summary.json()["user_id"] == user_id
    assert client.get(f"{API}/users/{path}/recommendations?k=2").status_code == 200
    assert client.delete(f"{API}/users/{path}").status_code == 204
    with pytest.raises(LookupError):
        store.get_user(user_id)


def test_the_user_header_is_read_as_utf8(client, store):
    turn = client.post(f"{API}/sessions", headers={"X-Prefchat-User": "José".encode()})
    assert turn.status_code == 201 and turn.json()["user_id"] == "José"
    assert store.get_user("José").id == "José"
    sid = turn.json()["session_id"]
    assert client.get(f"{API}/sessions/{sid}/question", headers={"X-Prefchat-User": "José".encode()}).status_code == 200
    # Latin-1 bytes, not UTF-8 (the test client re-encodes headers as UTF-8, so call the reader directly)
    with pytest.raises(ApiError) as bad:
        _header_user(b"Jos\xe9".decode("latin-1"))
    assert (bad.value.status_code, bad.value.code) == (400, "invalid_encoding")


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "QUERY"])
def test_other_methods_on_api_paths_are_405(client, conversation, method):
    """Also in the whole app, where the chat mounted at "/" answered QUERY with its own 404 (found by schemathesis)."""
    from prefchat.ui.app import create_app

    with TestClient(create_app(conversation), raise_server_exceptions=False) as whole:
        for served in (client, whole):
            response = served.request(method, f"{API}/sessions")
            assert response.status_code == 405 and response.headers["Allow"] == "POST", response.text
            assert served.request(method, f"{API}/users/alice/profile").status_code == 405
            if method != "HEAD":
                assert response.json()["error"]["code"] == "method_not_allowed"
                assert served.request(method, f"{API}/nowhere").json()["error"]["code"] == "not_found"


def test_a_documented_path_asked_with_another_method_is_405_not_a_user_id_with_a_slash(client):
    """DELETE /users/x/profile is the profile route's 405, not the deletion of a user "x/profile" (found by
    schemathesis: a long x made it a 422 on the user id); a user id with "/" still reaches its own routes."""
    for path in ("/users/alice/profile", "/users/alice/profile/history", "/users/" + "0" * 127 + "/profile"):
        response = client.delete(f"{API}{path}")
        assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed", response.text
        assert response.headers["Allow"] == "GET"
    unknown = client.delete(f"{API}/users/a%2Fb")  # reaches the delete route: the user is unknown, not the route
    assert unknown.status_code == 404 and "a/b" in unknown.json()["error"]["message"], unknown.text


def test_another_users_check_in_is_not_found(client):
    """As another user's session is: the X-Prefchat-User header names who asks."""
    assert_error(client.post(f"{API}/users/bob/checkin", headers={"X-Prefchat-User": "alice"}), 404, "not_found")
    assert_error(client.delete(f"{API}/users/bob/checkin", headers={"X-Prefchat-User": "alice"}), 404, "not_found")


def test_a_fault_of_the_server_is_a_500_not_the_clients_422(tiny_pack, store, embed, monkeypatch):
    conversation = Assistant(tiny_pack, store, embed)

    def tampered(*args, **kwargs):
        raise PackError("arrays.safetensors: checksum mismatch")

    monkeypatch.setattr(conversation, "recommend", tampered)
    app = FastAPI()
    app.include_router(api_router(conversation))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"{API}/users/alice/recommendations")
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal"
    assert "checksum" not in response.text  # the details go to the server's log


@pytest.mark.parametrize("session_id", ["s" * 65, "s" * 33, "0123abcd.", "caf\u00e9"])
def test_a_malformed_session_id_is_still_the_clients_422(client, session_id):
    """Storage keeps session ids of up to 32 characters: a longer one was a 500 (found by schemathesis)."""
    response = client.get(f"{API}/sessions/{session_id}/question")
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid", response.text


@functools.cache
def documented_user_id():
    """A validator of the user id path parameter as the OpenAPI document states it."""
    import jsonschema_rs

    app = FastAPI()
    app.include_router(api_router(lambda: None))
    with TestClient(app) as client:
        document = client.get(f"{API}/openapi.json").json()
    (parameter,) = document["paths"][f"{API}/users/{{user_id}}/profile"]["get"]["parameters"]
    assert parameter["schema"]["pattern"] == USER_ID_PATTERN
    return jsonschema_rs.validator_for({key: parameter["schema"][key] for key in ("type", "minLength", "maxLength", "pattern")})


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=140, alphabet=st.characters(exclude_categories=["Cs"])))
def test_the_openapi_pattern_of_user_ids_accepts_exactly_what_the_server_accepts(text):
    """The pattern an OpenAPI client validates with (an ECMAScript-style regex, here Rust's, as
    schemathesis checks it) and the server's check agree on every id, so that a request the
    document allows is never refused and one it forbids is never taken."""
    from prefchat.storage import check_user_id

    validator = documented_user_id()
    try:
        check_user_id(text)
        accepted = True
    except ValueError:
        accepted = False
    assert validator.is_valid(text) == accepted, repr(text)


def test_a_kway_question_lists_its_items_and_takes_a_pick_by_item_id_or_text(tiny_pack, store, embed):
    from prefchat.assistant.turns import SessionOptions

    with client_for(Assistant(tiny_pack, store, embed, SessionOptions(question_size=4))) as client:
        turn = client.post(f"{API}/sessions", json={"user_id": "kim"}).json()
        assert turn["type"] == "question" and len(turn["items"]) == 4
        assert turn["items"][:2] == [turn["item_a"], turn["item_b"]]
        answers = f"{API}/sessions/{turn['session_id']}/answers"
        # "none of these" first: after a pick, the most informative next question of this small
        # pack's groups of five is a pair (no two options may have been asked together before)
        second = client.post(answers, json={"text": "none of these", "question_id": turn["question_id"]}).json()
        assert second["type"] == "question" and second["position"] == 2 and len(second["items"]) == 4
        picked = second["items"][2]["item_id"]
        third = client.post(answers, json={"item_id": picked, "question_id": second["question_id"]}).json()
        assert third["position"] == 3
        wrong = client.post(answers, json={"item_id": "not-shown", "question_id": third["question_id"]}).json()
        assert wrong["type"] == "reask" and "1 to 4" in wrong["message"]
        both = client.post(answers, json={"choice": "a", "item_id": picked, "question_id": third["question_id"]})
        assert both.status_code == 422 and "exactly one" in both.json()["error"]["message"]
    state = Assistant(tiny_pack, store, embed).state(turn["session_id"])
    assert state.kinds == ("skip", "pick") and state.answers[-1].chosen == tiny_pack.index_of(picked)  # a skip adds no answer


def test_a_pair_lists_its_two_items(client):
    turn = client.post(f"{API}/sessions", json={"user_id": "pat"}).json()
    assert turn["items"] == [turn["item_a"], turn["item_b"]]


def test_friends_are_stored_with_the_session_unknown_ones_counted_and_bad_ones_refused(client, conversation):
    client.post(f"{API}/sessions", json={"user_id": "known-friend"})
    response = client.post(f"{API}/sessions", json={"user_id": "me", "friends": ["known-friend", "stranger"]})
    assert response.status_code == 201 and response.headers["X-Prefchat-Friends-Unknown"] == "1"
    assert conversation.store.friends_of("me") == {"known-friend": 1.0}
    assert "X-Prefchat-Friends-Unknown" not in client.post(f"{API}/sessions", json={"user_id": "me"}).headers
    assert conversation.store.friends_of("me") == {"known-friend": 1.0}  # no friends given: the stored ones stay
    for friends in ([" padded"], ["a", "a"], ["x"] * 1001):
        refused = client.post(f"{API}/sessions", json={"user_id": "me", "friends": friends})
        assert refused.status_code == 422 and refused.json()["error"]["message"]


def test_a_returning_users_check_in_over_rest(returning_pack, store, embed):
    """Due after the pack's timescale (with its greeting), three questions on the session routes, and the old
    profile in the history; 404 no_profile before any onboarding; and behind the bearer token as every route."""
    from datetime import timedelta

    app = Assistant(returning_pack, store, embed)
    with client_for(app) as client:
        assert_error(client.post(f"{API}/users/nobody/checkin"), 404, "no_profile")
        assert_error(client.delete(f"{API}/users/nobody/checkin"), 404, "no_profile")
        onboarded, _ = onboard(client, "returner", lambda turn: "a")
        assert onboarded["moved"] is None  # an onboarding tests no old profile
        assert client.get(f"{API}/users/returner/checkin").json() == {"user_id": "returner", "due": False, "message": None}
        saved = app.profile("returner").updated_at
        app.clock = lambda: saved + timedelta(days=400)
        due = client.get(f"{API}/users/returner/checkin").json()
        assert due["due"] and due["message"].startswith("It's been 13 months: three quick questions")
        declined = client.delete(f"{API}/users/returner/checkin")  # "Not now": not asked again at the next visit
        assert declined.status_code == 204 and not declined.content
        assert client.get(f"{API}/users/returner/checkin").json()["due"] is False
        assert app.profile("returner").updated_at == saved and len(app.store.profile_history("returner")) == 1
        app.clock = lambda: saved + timedelta(days=800)  # a timescale after the "Not now": offered again
        due = client.get(f"{API}/users/returner/checkin").json()
        assert due["due"] and due["message"].startswith("It's been 2 years: three quick questions"), due
        turn = client.post(f"{API}/users/returner/checkin").json()
        asked = 0
        while turn["type"] == "question":
            asked += 1
            turn = client.post(f"{API}/sessions/{turn['session_id']}/answers",
                               json={"choice": "b", "question_id": turn["question_id"]}).json()
        assert asked == 3 and turn["type"] == "result" and isinstance(turn["moved"], bool)
        history = client.get(f"{API}/users/returner/profile/history").json()
        assert [p["version"] for p in history] == [1, 2] and history[1]["n_answers"] == history[0]["n_answers"] + 3
    guarded = FastAPI()
    guarded.include_router(api_router(app, tokens=["s3cret-token-of-enough-length"]))
    with TestClient(guarded, raise_server_exceptions=False) as client:
        assert_error(client.get(f"{API}/users/returner/checkin"), 401, "unauthorized")
        assert_error(client.post(f"{API}/users/returner/checkin"), 401, "unauthorized")
        assert_error(client.delete(f"{API}/users/returner/checkin"), 401, "unauthorized")
        assert_error(client.get(f"{API}/users/returner/profile/history"), 401, "unauthorized")
