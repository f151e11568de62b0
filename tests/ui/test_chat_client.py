"""The chat app end to end through gradio_client: its named endpoints on the running server."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from prefchat.assistant.corrections import example_correction
from prefchat.storage import open_store


def question_number(screen) -> int:
    found = re.search(r"Question (\d+) of about 10", screen.progress)
    assert found is not None, screen.progress
    return int(found.group(1))


@pytest.fixture
def visitor(visit, server_url):
    return visit(server_url)


def test_full_onboarding_stores_the_profile_and_a_correction_reranks(visitor, server_db_url, tiny_pack):
    result, questions = visitor.onboard(["A", "b", "Both fine", "b", "Don't know either"])

    assert [question_number(q) for q in questions] == list(range(1, 11))
    assert {q.session_id for q in questions} == {result.session_id}
    first = questions[0]
    # The estimate counts reading what the cards show first (issue "Questions that fit the domain"): the
    # prompt and two openings of at most 12 words take about 3 minutes for 10 questions, not the "about a
    # minute" of clicks alone.
    assert "about 10 questions, about 3 minutes: pick the one you prefer" in first.messages[0]
    assert first.prompt.strip("*") in tiny_pack.manifest["group_names"]
    assert first.card_a.startswith("### A") and first.card_b.startswith("### B")
    assert result.last.startswith("**Here is what I learned about you.** Enjoys:")
    assert len(re.findall(r"^\d\. \*\*", result.last, flags=re.MULTILINE)) == 5
    assert f"e.g. *{example_correction(tiny_pack)}*" in result.last  # the pack's own words
    assert (result.prompt, result.card_a, result.card_b) == ("", "", "")

    with open_store(server_db_url) as store:
        user_id = store.get_session(result.session_id).user_id
        profile = store.get_profile(user_id, tiny_pack.name, tiny_pack.version)
        assert profile is not None and profile.mean.shape == (tiny_pack.n_bases,)
        assert profile.counts == {"a": 2, "b": 4, "tie": 2, "skip": 2}
        assert store.get_session(result.session_id).state == "finished"

    reply = visitor("say", "actually I prefer short answers")
    assert reply.last.startswith("Thanks, noted.") and "Stated by you: enjoys short answers" in reply.last
    assert len(re.findall(r"^\d\. \*\*", reply.last, flags=re.MULTILINE)) == 5
    with open_store(server_db_url) as store:
        assert store.current_summary(user_id, tiny_pack.name).source == "edited"

    after = visitor("say", "recommend")
    assert after.last.startswith("Here is what I would pick for you.") and not after.asking


def test_typed_answers_undo_and_finish_early(visitor):
    first = visitor("start")
    second = visitor("say", "the first one")
    assert question_number(second) == 2 and second.messages[-2] == "the first one"
    third = visitor("answer", "b")
    back = visitor("undo")
    assert question_number(back) == 2
    assert (back.card_a, back.card_b) == (second.card_a, second.card_b) != (third.card_a, third.card_b)
    confused = visitor("say", "what is the weather like")
    assert confused.last.startswith("Sorry, I didn't catch that.") and question_number(confused) == 2
    done = visitor("finish")
    assert not done.asking and "(1 answer)" in done.last
    assert "confident" not in done.last  # one answer never reads "high" (issue 21)
    assert done.session_id == first.session_id


def test_engine_refusals_are_friendly_messages(visitor):
    visitor("start")
    visitor("finish")
    refused = visitor("answer", "a")  # an answer to a finished onboarding (an undo would open it again)
    assert refused.last == "This onboarding is already over. Say 'start over' to answer the questions again."
    assert not any("Traceback" in message for message in refused.messages)
    again = visitor("say", "start over")
    assert question_number(again) == 1 and again.messages[-2].startswith("Hi! I'll ask")


def test_resume_continues_a_session_in_another_tab(visit, server_url, visitor):
    visitor("start")
    for choice in ("a", "b"):
        now = visitor("answer", choice)
    reloaded = visit(server_url)("resume", now.token)
    assert reloaded.session_id == now.session_id and question_number(reloaded) == 3
    # The transcript is back: each question asked, and the answer given, then the welcome.
    assert reloaded.messages[0].startswith("**Question 1 of about 10.**") and reloaded.messages[1] == "A"
    assert reloaded.messages[2].startswith("**Question 2 of about 10.**") and reloaded.messages[3] == "B"
    assert reloaded.messages[4] == "Welcome back! Let's carry on where we left off, at question 3."
    assert (reloaded.card_a, reloaded.card_b) == (now.card_a, now.card_b)

    stranger = visit(server_url)("resume", "no-such-session")
    assert stranger.session_id not in (None, now.session_id) and question_number(stranger) == 1


def test_two_concurrent_visitors_never_see_each_other(visit, server_url, server_db_url):
    visitors = [visit(server_url), visit(server_url)]
    with ThreadPoolExecutor(2) as pool:
        (result_a, questions_a), (result_b, questions_b) = pool.map(
            lambda pair: pair[0].onboard([pair[1]]), zip(visitors, ["a", "b"])
        )

    assert result_a.session_id != result_b.session_id
    assert {q.session_id for q in questions_a} == {result_a.session_id}
    assert {q.session_id for q in questions_b} == {result_b.session_id}
    assert not any(message in ("b", "B") for message in result_a.messages)
    assert not any(message in ("a", "A") for message in result_b.messages)
    with open_store(server_db_url) as store:
        for result, choice in ((result_a, "a"), (result_b, "b")):
            answers = [turn.answer.choice for turn in store.session_history(result.session_id)]
            assert answers == [choice] * 10


@pytest.mark.parametrize("endpoint", ["say", "answer"])
def test_a_message_over_the_limit_is_refused_on_the_server(visitor, endpoint):
    first = visitor("start")
    refused = visitor(endpoint, "a" + " " * 45_000 + "x")
    assert refused.last.startswith("That message is 45,002 characters long, more than I read (2,000).")
    assert question_number(refused) == question_number(first) == 1  # nothing was stored
    assert len(refused.messages[-2]) < 100  # the transcript does not carry the whole message


def test_a_session_id_alone_resumes_nothing(visit, server_url, server_db_url):
    """Issue 24, finding 3: a REST session's id (or a chat session's, without its token) on /resume
    started nothing of that session: no transcript, no "forget me" of its user."""
    started = httpx.post(f"{server_url}/api/v1/sessions", json={"user_id": "rest-user"}, timeout=30).json()
    visitor = visit(server_url)
    for foreign in (started["session_id"], started["session_id"] + ".0123", f"{started['session_id']}.{'0' * 64}"):
        stranger = visitor("resume", foreign)
        assert stranger.session_id != started["session_id"] and question_number(stranger) == 1
        assert not any("Welcome back" in message for message in stranger.messages)
    visitor("say", "forget me")
    visitor("say", "yes")
    with open_store(server_db_url) as store:
        assert store.get_user("rest-user").id == "rest-user"
        assert len(store.session_history(started["session_id"])) == 1
