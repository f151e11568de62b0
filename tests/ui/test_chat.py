"""The chat's pure parts: what each turn adds to the transcript, and the markup of cards and progress."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefchat.assistant.errors import NoProfile, SessionClosed
from prefchat.assistant.recommender import Ranked
from prefchat.assistant.turns import QuestionTurn, ReaskTurn, ReplyTurn, ResultTurn
from prefchat.assistant.wording import duration
from prefchat.reward.pack import Item
from prefchat.storage import NotFound
from prefchat.ui.chat import (
    PROGRESS_POLL,
    QUEUE_POLL,
    ChatState,
    advance,
    card_markdown,
    friendly,
    markdown_text,
    mount_chat,
    offer_checkin,
    poll_gently,
    progress_html,
    question_message,
    result_message,
)

A = Item("i1", "Heat *and* Dust", "A long **text**.", ("drama", "period"))
B = Item("i2", "Brief_Encounter", "Short.", ())


def question(position: int = 1, session_id: str = "s1", prompt: str | None = None) -> QuestionTurn:
    return QuestionTurn(session_id, "u1", position, 10, A, B, prompt)


def contents(state: ChatState) -> list[str]:
    return [message["content"] for message in state.messages]


@given(st.text())
def test_markdown_text_only_adds_backslashes(text):
    assert re.sub(r"\\(.)", r"\1", markdown_text(text), flags=re.DOTALL) == text


def test_markdown_text_escapes_emphasis_and_html():
    assert markdown_text("*a* _b_ <i>#") == r"\*a\* \_b\_ \<i\>\#"


@pytest.mark.parametrize(("n", "words"), [(1, "about a minute"), (10, "about a minute"), (15, "about 2 minutes")])
def test_duration(n, words):
    assert duration(n) == words


@pytest.mark.parametrize(("n", "words", "said"), [(10, 238, "about 11 minutes"), (10, 24, "about 2 minutes"), (5, 0, "about a minute")])
def test_duration_counts_the_reading(n, words, said):
    """Each question: 6 s to decide, plus its words at 238 a minute (two 117-word answers: a minute)."""
    assert duration(n, words) == said


def test_a_new_session_is_greeted_and_its_question_asked():
    state = advance(ChatState(), question())
    assert contents(state)[0].startswith("Hi! I'll ask about 10 quick questions, about a minute: pick the one you prefer.")
    assert contents(state)[1] == r"**Question 1 of about 10.** Which do you prefer: **A** Heat \*and\* Dust, or **B** Brief\_Encounter?"
    assert (state.session_id, state.user_id, state.question) == ("s1", "u1", question())


def test_the_next_question_of_the_same_session_is_asked_without_greeting():
    state = advance(advance(ChatState(), question()).said("user", "A"), question(2, prompt="Which film?"))
    assert contents(state)[2:] == ["A", "**Question 2 of about 10.** *Which film?* Which answer do you prefer, A or B?"]


def test_a_resumed_session_is_welcomed_back():
    state = advance(ChatState(session_id="other"), question(4))
    assert contents(state)[0] == "Welcome back! Let's carry on where we left off, at question 4."


def test_a_check_in_offer_opens_on_the_finished_session_and_its_first_question_is_not_greeted_again():
    result = ResultTurn("s1", "u1", "Enjoys: drama.", (), {"a": 10})
    offered = offer_checkin(ChatState(), result, "It's been 8 months: three quick questions to check your picks still fit?")
    assert contents(offered) == ["It's been 8 months: three quick questions to check your picks still fit?"]
    assert (offered.session_id, offered.user_id, offered.question, offered.asking) == ("s1", "u1", None, "checkin")
    checkin = QuestionTurn("s2", "u1", 1, 3, A, B)
    taken = advance(offered.said("user", "Sure, ask away"), checkin, greet=False)
    assert contents(taken)[2:] == [question_message(checkin)] and taken.asking is None and taken.session_id == "s2"
    assert contents(advance(offered, checkin))[1].startswith("Hi! I'll ask about 3"), "greeted unless told not to"


@pytest.mark.parametrize("payload", ["[click](https://evil.example)", "<img src=x>", "$x$", "*8* months"])
def test_a_check_in_offer_is_shown_as_written(payload):
    offered = offer_checkin(ChatState(), ResultTurn("s1", "u1", "", (), {}), f"It's been {payload}?")
    assert contents(offered) == [markdown_text(f"It's been {payload}?")]


def test_reask_keeps_the_question_open():
    state = advance(advance(ChatState(), question()), ReaskTurn("Sorry?", question()))
    assert contents(state)[-1] == "Sorry?" and state.question == question()


def test_result_closes_the_question_and_lists_five_picks():
    picks = tuple(Ranked(i, f"i{i}", f"Title {i}", 1.0 - i / 10, "drama side") for i in range(8))
    result = ResultTurn("s1", "u1", "Enjoys: drama. Confidence: medium (10 answers).", picks, {"a": 10})
    state = advance(advance(ChatState(), question()), result)
    assert state.question is None and state.session_id == "s1"
    assert contents(state)[-1] == result_message(result)
    assert result_message(result).startswith("**Here is what I learned about you.** Enjoys: drama.")
    assert re.findall(r"^(\d)\. \*\*Title \d\*\*: drama side$", result_message(result), re.MULTILINE) == list("12345")


@pytest.mark.parametrize(("moved", "said"), [(None, "**Here is what I learned"), (False, "Your answers fit what I knew"),
                                             (True, "Your answers suggest your taste has moved")])
def test_a_check_ins_result_first_says_whether_the_answers_fit_what_was_known(moved, said):
    message = result_message(ResultTurn("s1", "u1", "Enjoys: drama.", (), {"a": 3}, moved=moved))
    assert message.startswith(said) and message.count("**Here is what I learned about you.** Enjoys: drama.") == 1


def test_forgetting_keeps_the_transcript_and_drops_the_session():
    state = advance(advance(ChatState(), question()), ReplyTurn("Done: everything about you is deleted.", "confirm_forget"))
    assert state == ChatState(messages=state.messages) and contents(state)[-1].startswith("Done")


def test_cards_show_the_title_only_without_a_prompt_above():
    chips = '<span class="prefchat-chip">drama</span> <span class="prefchat-chip">period</span>'
    assert card_markdown("A", A, grouped=False) == f"### A · Heat \\*and\\* Dust\n\n{chips}\n\nA long **text**."
    assert card_markdown("B", B, grouped=True) == "### B\n\nShort."


def test_a_film_card_shows_its_title_once_as_people_say_it_with_year_and_genres_as_chips():
    film = Item("858", "Godfather, The (1972)", "Godfather, The (1972). Genres: Crime, Drama. Tags: mafia", ("Crime", "Drama", "mafia"))
    chips = " ".join(f'<span class="prefchat-chip">{chip}</span>' for chip in ("1972", "Crime", "Drama", "mafia"))
    assert card_markdown("A", film, grouped=False) == f"### A · The Godfather\n\n{chips}"


def test_a_long_card_shows_its_opening_and_the_rest_behind_read_all():
    text = "Short first sentence. " + "Then a much longer part follows with **bold** words. " * 10
    heading, opening, more = card_markdown("B", Item("r", "Prompt (answer 2)", text, ()), grouped=True).split("\n\n", 2)
    assert (heading, opening) == ("### B", "Short first sentence. Then a much longer part follows with **bold** words.")
    assert more.startswith('<details class="prefchat-more"><summary>Read all · 93 words</summary>\n\nThen a much longer part')
    assert more.endswith("\n\n</details>")


def test_progress_line():
    assert progress_html(None) == ""
    html = progress_html(question(4))
    assert "<span>Question 4 of about 10</span>" in html and 'value="3" max="10"' in html
    assert 'value="11" max="12"' in progress_html(question(12))


def test_friendly_messages_name_no_internals():
    assert friendly(SessionClosed("session 'x' is finished")).startswith("This onboarding is already over.")
    assert friendly(NoProfile("user 'u' has no profile")).startswith("We have not finished the questions yet")
    assert friendly(NotFound("no session 'x'")).startswith("I could not find your session")
    assert friendly(ValueError("text must be a string, got 3")) == "Sorry, I could not do that: text must be a string, got 3"
    assert "went wrong on my side" in friendly(KeyError("features"))


def test_questions_of_a_grouped_pack_carry_their_full_prompt(tiny_pack, embed):
    from prefchat.assistant.api import Assistant
    from prefchat.storage import open_store

    with open_store("sqlite://") as store:
        turn = Assistant(tiny_pack, store, embed).start("u1")
    groups, names = tiny_pack.manifest["groups"], tiny_pack.manifest["group_names"]
    assert turn.prompt == names[groups[tiny_pack.index_of(turn.item_a.item_id)]]
    assert not turn.prompt.endswith("…")


def test_the_mounted_chats_queue_looks_for_work_every_hundredth_of_a_second_not_every_millisecond(tiny_pack, embed):
    from fastapi import FastAPI
    from starlette.routing import Mount

    from prefchat.assistant.api import Assistant
    from prefchat.storage import open_store

    with open_store("sqlite://") as store:
        app = mount_chat(FastAPI(), Assistant(tiny_pack, store, embed), "/chat")
    (mounted,) = (route.app for route in app.routes if isinstance(route, Mount))
    queue = mounted.get_blocks()._queue
    assert (queue.sleep_when_free, queue.progress_update_sleep_when_free) == (QUEUE_POLL, PROGRESS_POLL) == (0.01, 0.1)


def test_a_gradio_whose_queue_no_longer_has_the_poll_settings_is_refused_by_name():
    class Renamed:
        _queue = type("Queue", (), {"sleep_when_free": 0.001})()

    with pytest.raises(RuntimeError, match="progress_update_sleep_when_free"):
        poll_gently(Renamed())


HOSTILE = ("[click](https://evil.example)", "<img src=http://127.0.0.1:9/x>", "bob<!-- hidden -->", "$x$",
           "https://evil.example", "www.evil.example", "a@evil.example", "&lt;b&gt;")


@pytest.mark.parametrize("payload", HOSTILE)
def test_a_card_shows_hostile_pack_text_tags_and_title_as_written(payload):
    from prefchat.ui.chat import markdown_text

    heading, tags, text = card_markdown("A", Item("i", payload, f"**kept** {payload}", (payload,)), grouped=False).split("\n\n")
    for shown in (heading, text, markdown_text(payload)):
        unescaped = re.sub(r"\\.", "", shown)  # what Markdown reads as syntax: the characters not escaped
        for active in ("](", "<", "$", "://", "www.", "@", "&"):
            assert active not in unescaped, (active, shown)
    assert text.startswith("**kept** "), "a pack's own emphasis still renders"
    assert tags == f'<span class="prefchat-chip">{markdown_text(payload)}</span>'


@pytest.mark.parametrize("payload", HOSTILE)
def test_results_and_replies_show_hostile_summaries_titles_and_reasons_as_written(payload):
    """Finding 4 in the chat: a summary, a pick's title, reason and text, and a reply are stored or
    pack text, so they reach the transcript with every link, tag, comment and LaTeX escaped."""
    from prefchat.ui.chat import reply_message

    picks = (Ranked(0, "i0", f"Title {payload}", 1.0, f"because {payload}", f"Text that quotes {payload} at length."),)
    shown = [result_message(ResultTurn("s1", "u1", f"Enjoys: {payload}.", picks, {"a": 10})),
             reply_message(ReplyTurn(f"Noted {payload}", "correct", picks))]
    for message in shown:
        unescaped = re.sub(r"\\.", "", message)
        for active in ("](", "<", "$", "://", "www.", "@", "&"):
            assert active not in unescaped, (active, message)


def test_a_kway_question_asks_which_of_the_k_to_pick():
    C = Item("i3", "Third", "Third text.", ())
    turn = QuestionTurn("s1", "u1", 1, 10, A, B, "How do I boil an egg?", 7, "prefer", (C, C))
    assert question_message(turn) == "**Question 1 of about 10.** *How do I boil an egg?* Which of these 4 answers would you pick?"
    ungrouped = QuestionTurn("s1", "u1", 1, 10, A, B, None, 7, "watch", (C,))
    assert question_message(ungrouped).endswith("Which of these 3 would you pick?")


def test_a_picks_text_renders_its_markdown_in_the_quote_and_a_films_restatement_is_left_out():
    from prefchat.ui.chat import picks_markdown

    answer = Ranked(0, "r1", "How do I cook rice? — Rinse, simmer, rest", 1.0, "because you enjoy short and concise",
                    "Steps:\n\n1. **Rinse** it.\n2. Simmer `15` min, see [here](https://evil.example).")
    shown = picks_markdown([answer])
    assert shown.splitlines()[1:] == ["   > Steps:", "   >", "   > 1. **Rinse** it.",
                                      "   > 2. Simmer `15` min, see \\[here\\](https\\://evil.example)."]
    film = Ranked(1, "858", "Godfather, The (1972)", 1.0, "because you picked Heat over Clueless",
                  "Godfather, The (1972). Genres: Crime, Drama.")
    assert picks_markdown([film]) == "1. **The Godfather (1972)**: because you picked Heat over Clueless"


def test_a_why_reply_names_its_item_and_reason_once():
    from prefchat.assistant import wording
    from prefchat.ui.chat import reply_message

    film = Ranked(1, "858", "Godfather, The (1972)", 1.0, "because you picked Heat over Clueless", "A family saga.")
    shown = reply_message(ReplyTurn(wording.reason(film.title, film.why), "why", (film,)))
    assert shown.count("Godfather") == 1 and shown.count("because you picked Heat over Clueless") == 1
