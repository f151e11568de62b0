"""The chat in a real headless chromium: clicking through onboarding, phone layout, resume, embedding.

Screenshots go to test-artifacts/ui/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text

from prefchat.assistant.api import Assistant
from prefchat.storage import open_store
from prefchat.ui.app import create_app
from prefchat.ui.embed import iframe_snippet, web_component_snippet

pytestmark = pytest.mark.browser

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_at(browser):
    """``page_at(width, height)``: a page in a fresh context (its own localStorage)."""
    contexts = []

    def open_page(width: int = 1100, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def wait_for_question(page, number: int, total: int = 10) -> None:
    page.locator(".prefchat-progress", has_text=f"Question {number} of about {total}").wait_for()


def click(page, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()


def boxes(page) -> list[dict]:
    return [card.bounding_box() for card in page.locator(".block.prefchat-card").all()]


def test_click_through_onboarding_to_the_results_and_a_correction(page_at, server_url):
    page = page_at()
    page.goto(f"{server_url}/")
    wait_for_question(page, 1)
    # The estimate counts reading what the cards show first (one of this pack's answers is 600 words long).
    page.get_by_text(re.compile(r"about 10 (quick )?questions, about (a minute|[23] minutes)")).wait_for()
    a, b = boxes(page)
    assert abs(a["y"] - b["y"]) < 2 and a["x"] + a["width"] <= b["x"], "cards side by side on a wide screen"
    page.screenshot(path=ARTIFACTS / "question-desktop.png")

    for number, label in enumerate(["A", "B", "Both fine", "Don't know either", "A", "B", "A", "B", "A", "B"], 1):
        wait_for_question(page, number)
        click(page, label)
    page.get_by_text("Here is what I learned about you.").wait_for()
    # The results open at what I learned: its line near the top of the transcript's visible part
    # (not scrolled past it to the end of the message).
    page.wait_for_function("""() => {
        const wrap = document.querySelector(".prefchat-chat .bubble-wrap");
        const learned = [...wrap.querySelectorAll("strong")].find(e => e.textContent.startsWith("Here is what I learned"));
        const top = learned.getBoundingClientRect().top - wrap.getBoundingClientRect().top;
        return top >= 0 && top <= 80 && wrap.scrollHeight > wrap.clientHeight;
    }""")
    assert page.locator(".prefchat-question").is_hidden()
    assert page.locator(".prefchat-chat li:not(blockquote li)").count() == 5  # the picks, not the lists they quote
    page.screenshot(path=ARTIFACTS / "results-desktop.png")

    box = page.get_by_placeholder("Tell me more", exact=False)
    box.fill("actually I prefer short answers")
    box.press("Enter")
    page.get_by_text("Stated by you: enjoys short answers").wait_for()
    assert box.input_value() == ""
    page.screenshot(path=ARTIFACTS / "correction-desktop.png")


def test_every_clicked_and_typed_answer_sends_the_id_of_the_question_shown(page_at, server_url, server_db_url):
    """Issue 24, finding 5: the page holds the id of the question it shows and sends it with each answer."""
    import json

    page = page_at()
    sent: list[list] = []
    page.on("request", lambda request: "/queue/join" in request.url and sent.append(
        json.loads(request.post_data or "{}").get("data", [])))
    page.goto(f"{server_url}/")
    wait_for_question(page, 1)
    click(page, "A")
    wait_for_question(page, 2)
    box = page.get_by_placeholder("Or type your answer", exact=False)
    box.fill("b")
    box.press("Enter")
    wait_for_question(page, 3)
    answers = [data for data in sent if data and data[0] in ("A", "b")]
    assert [data[0] for data in answers] == ["A", "b"], sent
    clicked, typed = (data[1] for data in answers)
    with open_store(server_db_url) as store:
        with store.engine.connect() as connection:
            session_id = connection.execute(text("SELECT session_id FROM questions WHERE id = :id"), {"id": clicked}).scalar_one()
        history = store.session_history(session_id)
    assert [turn.question.id for turn in history[:2]] == [clicked, typed]
    assert [turn.answer.choice for turn in history[:2]] == ["a", "b"]


PHONE = {"width": 390, "height": 844}


def answer_labels(n_cards: int) -> list[str]:
    """The buttons that answer a question of ``n_cards`` cards."""
    return [*"ABCDEF"[:n_cards], *(["Both fine", "Don't know either"] if n_cards == 2 else ["None of these"])]


def shows_the_whole_question_unscrolled(page, n_cards: int) -> None:
    """The question's cards, one under another (two by two from five cards on), and every button that
    answers it are on the screen without scrolling."""
    assert page.evaluate("() => window.scrollY") == 0
    cards = boxes(page)[:n_cards]
    assert len(cards) == n_cards and cards[0]["y"] >= 0
    per_row = 2 if n_cards > 4 else 1
    for upper, lower in zip(cards, cards[per_row:]):
        assert lower["y"] >= upper["y"] + upper["height"] - 2, "cards one under another on a phone"
    for left, right in zip(cards[::per_row], cards[1::per_row]) if per_row == 2 else ():
        assert abs(left["y"] - right["y"]) < 2 and right["x"] >= left["x"] + left["width"] - 2, "two by two"
    assert all(card["x"] + card["width"] <= PHONE["width"] for card in cards)
    shown = [*cards, *(page.get_by_role("button", name=label, exact=True).bounding_box() for label in answer_labels(n_cards))]
    assert max(box["y"] + box["height"] for box in shown) <= PHONE["height"], "part of the question is below the fold"


def first_question_on_a_phone(page, url: str, n_cards: int | None, screenshot: str) -> None:
    """The first question at ``url`` is on the screen whole (:func:`shows_the_whole_question_unscrolled`),
    and tapping its last card (not on its "Read all") answers with that card's label; ``n_cards`` None:
    as many as the pack's question shows."""
    page.goto(f"{url}/")
    wait_for_question(page, 1)
    if n_cards is None:
        n_cards = page.locator(".block.prefchat-card").count()  # hidden ones leave the page
    shows_the_whole_question_unscrolled(page, n_cards)
    page.screenshot(path=ARTIFACTS / f"{screenshot}.png")
    page.locator(f"#prefchat-card-{n_cards - 1}").click(position={"x": 24, "y": 12})
    wait_for_question(page, 2)
    said = page.locator(".prefchat-chat .message-row.user-row").last.inner_text()
    assert said.strip() == "ABCDEF"[n_cards - 1]


@pytest.mark.parametrize("n_cards", [2, 4, 6], ids=["answers-in-pairs", "films-4-way", "films-6-way"])
def test_a_phone_shows_the_whole_first_question_and_a_tap_on_a_card_picks_it(page_at, serve_app, tiny_pack, tmp_path, embed,
                                                                              small_pack, n_cards):
    """At 390 x 844 the whole first question fits on the screen with the way to answer it: a pair of
    answers to a prompt (as the default pack asks; one of the pack's answers is 600 words long, and
    opens with its first sentence), and 4 or 6 films (as MovieLens asks: title and chips). Tapping a card picks it."""
    from prefchat.assistant.turns import SessionOptions

    pack = tiny_pack if n_cards == 2 else small_pack()
    with open_store(f"sqlite:///{tmp_path / 'phone.sqlite'}") as store, \
            serve_app(create_app(Assistant(pack, store, embed, SessionOptions(question_size=n_cards)))) as url:
        first_question_on_a_phone(page_at(**PHONE), url, n_cards, f"question-phone-{n_cards}")


def test_reload_resumes_the_session(page_at, server_url):
    page = page_at()
    page.goto(f"{server_url}/")
    for number, label in enumerate(["A", "B"], 1):
        wait_for_question(page, number)
        click(page, label)
    wait_for_question(page, 3)
    cards = page.locator(".block.prefchat-card").all_inner_texts()
    page.reload()
    page.get_by_text("Welcome back! Let's carry on where we left off, at question 3.").wait_for()
    wait_for_question(page, 3)
    said = page.locator(".prefchat-chat .message-row.user-row").all_inner_texts()
    assert [text.strip() for text in said] == ["A", "B"], "the transcript is back after a reload"
    assert page.locator(".prefchat-chat").get_by_text("Question 2 of about 10.").count() == 1
    assert page.locator(".block.prefchat-card").all_inner_texts() == cards
    click(page, "Undo last answer")
    wait_for_question(page, 2)


@pytest.fixture
def returning_page(page_at, serve_app, returning_pack, embed, tmp_path, monkeypatch):
    """``(page, store)``: a user onboarded in a fresh page of the chat on ``returning_pack``, then, the assistant's
    clock 8 months on, the page opened again: it shows the check-in's offer alone, with its two buttons."""
    from datetime import timedelta

    from prefchat.assistant import wording
    from prefchat.assistant.session import utc_now

    with open_store(f"sqlite:///{tmp_path / 'returning.sqlite'}") as store:
        assistant = Assistant(returning_pack, store, embed)
        with serve_app(create_app(assistant)) as url:
            page = page_at()
            page.goto(f"{url}/")
            for number in range(1, 11):
                wait_for_question(page, number)
                click(page, "AB"[number % 2])
            page.get_by_text(wording.LEARNED).wait_for()
            monkeypatch.setattr(assistant, "clock", lambda: utc_now() + timedelta(days=243))
            page.reload()
            chat = page.locator(".prefchat-chat")
            chat.get_by_text("It's been 8 months: three quick questions to check your picks still fit?").wait_for()
            assert chat.locator(".message-row").count() == 1, "the offer is the first message, before any old transcript"
            for label in (wording.CHECKIN_YES, wording.CHECKIN_NO):
                assert page.get_by_role("button", name=label, exact=True).is_visible()
            assert page.locator(".prefchat-question").is_hidden()
            assert page.get_by_role("button", name=wording.UNDO_BUTTON, exact=True).is_hidden()
            page.screenshot(path=ARTIFACTS / "checkin-offer.png")
            yield page, store


def test_a_returning_user_takes_the_check_in_answers_three_questions_and_gets_a_list(returning_page):
    from prefchat.assistant import wording

    page, store = returning_page
    page.set_viewport_size(PHONE)
    page.screenshot(path=ARTIFACTS / "checkin-offer-phone.png")
    buttons = [page.get_by_role("button", name=label, exact=True).bounding_box() for label in (wording.CHECKIN_YES, wording.CHECKIN_NO)]
    assert max(box["y"] + box["height"] for box in buttons) <= PHONE["height"], "the offer's buttons are below the fold on a phone"
    click(page, wording.CHECKIN_YES)
    for number, label in enumerate(["A", "B", "Both fine"], 1):
        wait_for_question(page, number, total=3)
        click(page, label)
    page.get_by_text(wording.LEARNED).wait_for()
    chat = page.locator(".prefchat-chat")
    assert chat.get_by_text("Hi! I'll ask", exact=False).count() == 0, "the offer said what comes: no second greeting"
    assert sum(chat.get_by_text(said).count() for said in (wording.CHECKIN_KEPT, wording.CHECKIN_MOVED)) == 1
    said = [text.strip() for text in chat.locator(".message-row.user-row").all_inner_texts()]
    assert said == [wording.CHECKIN_YES, "A", "B", wording.BOTH_BUTTON]
    assert chat.locator("li:not(blockquote li)").count() == 5
    assert page.get_by_role("button", name=wording.CHECKIN_YES, exact=True).is_hidden()
    (profile,) = store.list_profiles()
    assert [p.version for p in store.profile_history(profile.user_id)] == [1, 2]
    page.screenshot(path=ARTIFACTS / "checkin-results.png")


def test_a_returning_user_declines_the_check_in_and_sees_their_picks(returning_page):
    from prefchat.assistant import wording

    page, store = returning_page
    click(page, wording.CHECKIN_NO)
    page.get_by_text(wording.LEARNED).wait_for()
    chat = page.locator(".prefchat-chat")
    assert [text.strip() for text in chat.locator(".message-row.user-row").all_inner_texts()] == [wording.CHECKIN_NO]
    assert chat.locator("li:not(blockquote li)").count() == 5
    assert page.locator(".prefchat-question").is_hidden()
    assert page.get_by_role("button", name=wording.CHECKIN_NO, exact=True).is_hidden()
    (profile,) = store.list_profiles()
    assert len(store.profile_history(profile.user_id)) == 1, "declined: no check-in, the profile as it was"


@contextlib.contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """``directory`` served over HTTP on a free loopback port: another origin than the chat's."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(directory))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


def test_embed_snippets_render_the_chat_on_another_site(page_at, serve_app, tiny_pack, server_db_url, embed, tmp_path):
    """The host site's origin is on the server's CORS allow-list (``PREFCHAT_CORS_ORIGINS``), as
    docs/embedding.md asks of a host that embeds the web component: CORS is off by default."""
    host_page = "<!doctype html><html><body><h1>A host site</h1>\n{}\n</body></html>"
    with static_site(tmp_path) as site, open_store(server_db_url) as store, \
            serve_app(create_app(Assistant(tiny_pack, store, embed), cors_origins=(site,))) as server_url:
        (tmp_path / "component.html").write_text(host_page.format(web_component_snippet(server_url)))
        (tmp_path / "iframe.html").write_text(host_page.format(iframe_snippet(f"{server_url}/")))
        page = page_at()
        page.goto(f"{site}/component.html")
        page.locator("gradio-app").get_by_role("button", name="A", exact=True).wait_for()
        page.locator("gradio-app").get_by_role("button", name="B", exact=True).wait_for()
        page.locator("gradio-app .prefchat-progress", has_text="Question 1 of about 10").wait_for()
        page.screenshot(path=ARTIFACTS / "embedded-web-component.png")

        framed = page_at()
        framed.goto(f"{site}/iframe.html")
        framed.frame_locator("iframe").get_by_role("button", name="B", exact=True).wait_for()


def local_storage(page) -> dict[str, str]:
    """Everything the page's origin keeps in localStorage."""
    return page.evaluate("() => Object.fromEntries(Object.entries(window.localStorage))")


@pytest.mark.parametrize("where", ["chat", "web component"])
def test_forget_me_clears_what_the_browser_keeps(page_at, serve_app, tiny_pack, embed, tmp_path, where):
    """Finding 9: after "forget me" and its confirmation, a reload shows a new visitor's greeting, and
    localStorage (the chat's origin, or the host page's for the web component) holds nothing of the
    conversation: no run history of Gradio's, no saved session id."""
    from prefchat.assistant import wording
    from prefchat.assistant.intents import CONFIRM_FORGET
    from prefchat.ui.chat import STORAGE_KEY

    marker = "marzipan zeppelin"
    host_page = "<!doctype html><html><body><h1>A host site</h1>\n{}\n</body></html>"
    with static_site(tmp_path) as site, open_store(f"sqlite:///{tmp_path / 'forget.sqlite'}") as store, \
            serve_app(create_app(Assistant(tiny_pack, store, embed), cors_origins=(site,))) as server_url:
        (tmp_path / "component.html").write_text(host_page.format(web_component_snippet(server_url)))
        page = page_at()
        page.goto(f"{server_url}/" if where == "chat" else f"{site}/component.html")
        root = page.locator("gradio-app")
        progress = root.locator(".prefchat-progress")
        for number, label in enumerate(["A", "B"], 1):
            progress.filter(has_text=f"Question {number} of about 10").wait_for()
            root.get_by_role("button", name=label, exact=True).click()
        progress.filter(has_text="Question 3 of about 10").wait_for()
        box = root.locator("textarea").first
        chat = root.locator(".prefchat-chat")
        for typed, reply in ((marker, marker), ("forget me", wording.FORGET_ASK), (CONFIRM_FORGET, wording.FORGOTTEN)):
            box.fill(typed)
            box.press("Enter")
            chat.get_by_text(reply, exact=False).last.wait_for()
        page.wait_for_function(f"() => window.localStorage.getItem({STORAGE_KEY!r}) === null")
        assert local_storage(page) == {}, "the browser kept something after 'forget me'"

        page.reload()
        progress.filter(has_text="Question 1 of about 10").wait_for()
        root.get_by_text("about 10 questions", exact=False).first.wait_for()
        page.screenshot(path=ARTIFACTS / f"forgotten-{where.replace(' ', '-')}.png")
        shown = chat.inner_text()
        for trace in (marker, "forget me", wording.FORGOTTEN, "Welcome back"):
            assert trace not in shown, f"{trace!r} is on the page after 'forget me' and a reload"
        kept = local_storage(page)
        assert set(kept) <= {STORAGE_KEY}, f"localStorage holds {sorted(kept)}"  # the new visitor's session only
        assert not any(marker in value or "forget" in value for value in kept.values())


def test_a_whole_first_contact_onboards_undoes_the_last_answer_reloads_and_is_forgotten(page_at, serve_app, tiny_pack, embed, tmp_path):
    """Onboarding to the results, "Undo last answer" there (the last question again), a reload (the
    transcript is back), "forget me" and the "Yes, forget me" button: the user is gone from the
    database and from localStorage."""
    from prefchat.assistant import wording
    from prefchat.storage import NotFound
    from prefchat.ui.chat import STORAGE_KEY

    with open_store(f"sqlite:///{tmp_path / 'contact.sqlite'}") as store, \
            serve_app(create_app(Assistant(tiny_pack, store, embed))) as url:
        page = page_at(**PHONE)
        page.goto(f"{url}/")
        for number in range(1, 11):
            wait_for_question(page, number)
            click(page, "AB"[number % 2])
        page.get_by_text(wording.LEARNED).wait_for()
        (profile,) = store.list_profiles()
        user_id = profile.user_id
        click(page, wording.UNDO_BUTTON)
        wait_for_question(page, 10)
        click(page, "B")
        page.get_by_text(wording.LEARNED).nth(1).wait_for()  # the second result, from the new last answer
        assert store.get_profile(user_id).counts == {"a": 4, "b": 6}  # the last answer, A, became B

        page.reload()
        page.get_by_text(wording.LEARNED).wait_for()
        said = [text.strip() for text in page.locator(".prefchat-chat .message-row.user-row").all_inner_texts()]
        assert said[:10] == ["B", "A", "B", "A", "B", "A", "B", "A", "B", "B"], "the transcript is back after a reload"

        box = page.get_by_placeholder("Tell me more", exact=False)
        box.fill("forget me")
        box.press("Enter")
        page.get_by_text(wording.FORGET_ASK).wait_for()
        click(page, wording.FORGET_YES)
        page.get_by_text(wording.FORGOTTEN).wait_for()
        page.wait_for_function(f"() => window.localStorage.getItem({STORAGE_KEY!r}) === null")
        assert local_storage(page) == {}
        with pytest.raises(NotFound):
            store.export_user(user_id)
        page.screenshot(path=ARTIFACTS / "forgotten-phone.png")


PAYLOADS = (
    "[Session expired: click here](https://evil.example/login)",
    "<img src=http://127.0.0.1:9/beacon.png>",
    "bob<!-- hidden -->",
    "$x^2$ and $$y$$",
    "see https://evil.example/bare or www.evil.example",
)


def test_typed_payloads_show_as_literal_text(page_at, server_url):
    """Finding 4: the user's echoed words render as text: no link, image, comment or LaTeX."""
    page = page_at()
    page.goto(f"{server_url}/")
    wait_for_question(page, 1)
    box = page.locator("textarea").first
    chat = page.locator(".prefchat-chat")
    for payload in PAYLOADS:
        box.fill(payload)
        box.press("Enter")
        chat.get_by_text(payload, exact=False).last.wait_for()
    page.screenshot(path=ARTIFACTS / "escaped-payloads.png", full_page=True)
    text = chat.inner_text()
    for payload in PAYLOADS:
        assert payload in text, f"{payload!r} is not shown as written"
    assert chat.locator("a[href*='evil']").count() == 0
    assert chat.locator("img[src*='127.0.0.1:9']").count() == 0
    assert chat.locator(".katex, math").count() == 0


def test_a_four_way_question_shows_four_cards_in_a_grid_and_takes_a_pick(page_at, serve_app, tiny_pack, tmp_path, embed):
    """"Which of these 4 would you pick?": four cards, two by two on a wide screen, one under another
    on a phone; "None of these" stands in for a pair's buttons, and "C" picks the third card."""
    from prefchat.assistant.turns import SessionOptions

    with open_store(f"sqlite:///{tmp_path / 'kway.sqlite'}") as store, \
            serve_app(create_app(Assistant(tiny_pack, store, embed, SessionOptions(question_size=4)))) as url:
        page = page_at()
        page.goto(f"{url}/")
        wait_for_question(page, 1)
        cards = page.locator(".block.prefchat-card")
        cards.nth(3).wait_for()
        assert cards.count() == 4 and all(card.is_visible() for card in cards.all())  # hidden ones leave the page
        a, b, c, d = boxes(page)[:4]
        assert abs(a["y"] - b["y"]) < 2 and abs(c["y"] - d["y"]) < 2 and c["y"] > a["y"] + a["height"] - 2, "2 x 2"
        for label in ("A", "B", "C", "D", "None of these"):
            assert page.get_by_role("button", name=label, exact=True).is_visible()
        for label in ("Both fine", "Don't know either", "E"):
            assert page.get_by_role("button", name=label, exact=True).is_hidden()
        page.screenshot(path=ARTIFACTS / "question-4-way.png")
        click(page, "None of these")
        wait_for_question(page, 2)
        cards.nth(3).wait_for()  # after a pick the next question may be a pair; after "none of these", 4 again
        click(page, "C")
        wait_for_question(page, 3)
        page.set_viewport_size({"width": 390, "height": 844})
        a, b = boxes(page)[:2]
        assert b["y"] >= a["y"] + a["height"] - 2, "cards one under another on a phone"
        page.screenshot(path=ARTIFACTS / "question-4-way-phone.png")


@pytest.fixture(scope="module")
def default_url(serve_app, tmp_path_factory):
    """The whole app on the real default pack (built here, about 30 s) with its own embedder."""
    from prefchat.assistant.api import Assistant
    from prefchat.default.build import ensure_default_pack
    from prefchat.settings import Settings
    from prefchat.ui.app import create_app

    home = tmp_path_factory.mktemp("default-home")
    settings = Settings.from_env({"PREFCHAT_HOME": str(home)})
    pack = ensure_default_pack(settings.packs_dir / "default", settings.embedding_model, settings.cache_dir,
                               progress=False)
    assistant = Assistant.open(pack=pack, db=f"sqlite:///{home / 'prefchat.sqlite'}", settings=settings)
    with serve_app(create_app(assistant)) as url:
        yield url
    assistant.close()


@pytest.mark.slow
def test_the_default_packs_result_screen_shows_responses_not_only_prompt_titles(page_at, default_url):
    from prefchat.assistant import wording

    page = page_at()
    page.goto(f"{default_url}/")
    for number in range(1, 11):
        wait_for_question(page, number)
        click(page, "A")
    page.get_by_text(wording.LEARNED).wait_for()
    chat = page.locator(".prefchat-chat")
    page.get_by_text(wording.SHOWCASE).wait_for()
    page.screenshot(path=ARTIFACTS / "default-results-desktop.png", full_page=True)
    quotes = chat.locator("blockquote")
    assert quotes.count() >= 5 + 3, "each pick and each held-out prompt quotes a response"
    texts = [quotes.nth(n).inner_text() for n in range(quotes.count())]
    assert all(len(text) > 40 and "(answer" not in text for text in texts), texts
    assert chat.locator("li:not(blockquote li)").count() == 5


@pytest.fixture(scope="module")
def movielens_url(serve_app, movielens_pack, tmp_path_factory):
    """The whole app on a pack trained on the real MovieLens data (tests/conftest.py)."""
    from prefchat.assistant.api import Assistant

    home = tmp_path_factory.mktemp("movielens-home")
    assistant = Assistant.open(pack=movielens_pack, db=f"sqlite:///{home / 'prefchat.sqlite'}")
    with serve_app(create_app(assistant)) as url:
        yield url
    assistant.close()


@pytest.mark.slow
@pytest.mark.parametrize("served", ["default_url", "movielens_url"], ids=["default", "movielens"])
def test_on_the_real_packs_a_phone_shows_the_whole_first_question_and_a_tap_picks(page_at, request, served):
    """The default pack (pairs of answers to a prompt) and MovieLens (as many films a question as its
    build chose) at 390 x 844."""
    first_question_on_a_phone(page_at(**PHONE), request.getfixturevalue(served), None, f"question-phone-{served.removesuffix('_url')}")
