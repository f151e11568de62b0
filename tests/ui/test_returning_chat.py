"""A returning user in the chat (issue 25), through its endpoints on a running server (gradio_client):
opened on their finished session when a check-in is due, the chat offers it first; taken, three
questions and a new list; declined, the picks as the chat showed them before. Everyone else opens the
chat exactly as before, and the check-in is only ever for the user of the tab's own session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from prefchat.assistant import wording
from prefchat.assistant.api import Assistant
from prefchat.assistant.session import utc_now
from prefchat.storage import open_store
from prefchat.ui.app import create_app

KEY = bytes(range(32))
"""The resume key of both chats below: a token one issued resumes on the other."""
AWAY = timedelta(days=243)
OFFER = "It's been 8 months: three quick questions to check your picks still fit?"
"""What a user whose profile was saved :data:`AWAY` ago is greeted with."""


@dataclass(frozen=True)
class Served:
    returning: Assistant
    """The assistant on the pack that offers check-ins (a month after a profile was last checked)."""
    url: str
    """Its chat."""
    today_url: str
    """The chat on the same store with the same key, on the pack without check-ins: the chat as it was."""


@pytest.fixture(scope="module")
def served(returning_pack, tiny_pack, embed, serve_app, tmp_path_factory) -> Iterator[Served]:
    assert returning_pack.checkin_timescale is not None and tiny_pack.checkin_timescale is None
    with open_store(f"sqlite:///{tmp_path_factory.mktemp('returning') / 'chat.sqlite'}") as store:
        returning = Assistant(returning_pack, store, embed)
        with serve_app(create_app(returning, api=False, resume_key=KEY)) as url, \
                serve_app(create_app(Assistant(tiny_pack, store, embed), api=False, resume_key=KEY)) as today_url:
            yield Served(returning, url, today_url)


@pytest.fixture
def away(served, monkeypatch):
    """``away(delta)``: the returning assistant's clock ``delta`` after now, for this test."""
    return lambda delta: monkeypatch.setattr(served.returning, "clock", lambda: utc_now() + delta)


def onboarded(visit, served, choices=("A", "b")):
    """A user onboarded in a tab of their own: the result screen, and their user id."""
    result, _ = visit(served.url).onboard(list(choices))
    return result, served.returning.store.get_session(result.session_id).user_id


def picks(message: str) -> list[str]:
    return re.findall(r"^\d\. \*\*(.+?)\*\*", message, flags=re.MULTILINE)


def test_a_user_due_a_check_in_is_offered_it_first_takes_it_and_gets_a_new_list(visit, served, away):
    result, user_id = onboarded(visit, served)
    away(AWAY)
    tab = visit(served.url)
    opened = tab("resume", result.token)
    assert opened.messages == [OFFER], "the offer is the first message, before any old transcript"
    assert opened.session_id == result.session_id and not opened.asking

    taken = tab("checkin", True)
    assert taken.messages[:2] == [OFFER, wording.CHECKIN_YES]
    assert len(taken.messages) == 3 and taken.last.startswith("**Question 1 of about 3.**"), "no second greeting"
    screen, asked = taken, 0
    while screen.asking:
        asked += 1
        assert f"Question {asked} of about 3" in screen.progress
        screen = tab("answer", "A")
    assert asked == 3 and len(picks(screen.last)) == 5
    said, learned = screen.last.split("\n\n")[:2]  # whether the answers fit what was known, then the results
    assert said in (wording.CHECKIN_KEPT, wording.CHECKIN_MOVED) and learned.startswith(f"**{wording.LEARNED}**")

    store = served.returning.store
    checkin = store.get_session(screen.session_id)
    assert checkin.user_id == user_id and checkin.state == "finished" and checkin.settings["checkin"]
    history = store.profile_history(user_id)
    assert [p.version for p in history] == [1, 2] and history[1].n_answers == history[0].n_answers + 3
    assert served.returning.checkin_offer(user_id) is None
    again = visit(served.url)("resume", screen.token)  # just checked: the chat opens on the check-in's results
    assert OFFER not in again.messages and again.last == screen.last


def test_declining_shows_the_picks_starts_nothing_and_is_remembered(visit, served, away):
    result, user_id = onboarded(visit, served, ("b", "Both fine"))
    away(AWAY)
    tab = visit(served.url)
    assert tab("resume", result.token).messages == [OFFER]
    declined = tab("checkin", False)
    today = visit(served.today_url)("resume", result.token)
    assert declined.messages == [OFFER, wording.CHECKIN_NO, today.last]
    assert declined.last.startswith(f"**{wording.LEARNED}**") and picks(declined.last) == picks(result.last)
    assert (declined.token, declined.asking) == (result.token, False)
    assert served.returning.latest_session(user_id).id == result.session_id
    assert len(served.returning.store.profile_history(user_id)) == 1
    assert tab("checkin", True).messages == declined.messages, "the offer is answered once"
    # "Not now" is remembered: the next visit opens on the picks, and the offer comes back a timescale on.
    assert OFFER not in visit(served.url)("resume", result.token).messages
    away(AWAY + timedelta(days=40))
    assert visit(served.url)("resume", result.token).messages == ["It's been 9 months: three quick questions to "
                                                                  "check your picks still fit?"]


@pytest.mark.parametrize("days", [0, 10], ids=["just-onboarded", "ten-days-on"])
def test_a_user_not_due_opens_the_chat_exactly_as_before(visit, served, away, days):
    result, _ = onboarded(visit, served)
    away(timedelta(days=days))
    opened, today = visit(served.url)("resume", result.token), visit(served.today_url)("resume", result.token)
    assert opened == today
    assert opened.messages[-1].startswith(f"**{wording.LEARNED}**") and opened.messages[1] in ("A", "B")


def test_a_new_visitor_opens_the_chat_exactly_as_before(visit, served, away):
    away(AWAY)
    opened, today = visit(served.url)("resume", ""), visit(served.today_url)("resume", "")
    assert opened.messages[0] == today.messages[0] and opened.messages[0].startswith("Hi! I'll ask about 10")
    assert [len(opened.messages), len(today.messages)] == [2, 2] and opened.progress.count("Question 1 of about 10")
    assert not any(OFFER in message for message in opened.messages)


def test_the_check_in_is_only_ever_for_the_user_of_the_tabs_own_session(visit, served, away):
    """No offer on the page, no check-in: a stranger's tab, a tab opened with another user's session id
    (unsigned), and a tab opened by another due user (whose check-in is theirs) start none of the user's."""
    alice, alice_id = onboarded(visit, served)
    bob, bob_id = onboarded(visit, served, ("b",))
    away(AWAY)

    stranger = visit(served.url)
    assert stranger("checkin", True).messages == [] and stranger("checkin", True).session_id is None
    forged = visit(served.url)
    opened = forged("resume", alice.session_id)  # a session id alone resumes nothing
    assert opened.session_id != alice.session_id and OFFER not in opened.messages
    assert forged("checkin", True).messages == opened.messages
    bobs = visit(served.url)
    assert bobs("resume", bob.token).messages == [OFFER]
    checked = bobs("checkin", True)
    assert served.returning.store.get_session(checked.session_id).user_id == bob_id

    assert served.returning.latest_session(alice_id).id == alice.session_id
    assert served.returning.checkin_offer(alice_id) == OFFER
    assert len(served.returning.store.profile_history(alice_id)) == 1
