"""Screenshots of every screen of the chat, taken from the real app in headless chromium.

    .venv/bin/python scripts/screenshots.py [--pack default] [--films PACK] [--out docs/screenshots]

Serves the app (:func:`prefchat.ui.app.create_app`) on the pack ``--pack`` and a fresh SQLite
file on a free loopback port, and walks through what a newcomer sees, at desktop size
(1280 x 800) and phone size (390 x 844): the first question, a card read in full, the results,
"forget me" and its confirmation. Then a few more users onboard through the Python API on the
same database, and the analyst review (:func:`prefchat.ui.analyst.analyst_app`, behind its
login) shows, at desktop size, the profiles table and one profile's page: its signed axes and
the card chosen at each answer. With ``--films`` (a MovieLens pack), the same first question
of films, 4 cards a question, and the results of a user who picked the first card of each. The
files are named by screen, e.g. ``question-phone.png``; the README shows some of them. What the
users of the results screens answered, and their picks with reasons, is printed, to read the
screenshots against. Needs Debian's chromium and the test extras (playwright).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prefchat import Assistant
from prefchat.assistant import wording
from prefchat.assistant.cards import card_name
from prefchat.assistant.turns import QuestionTurn
from prefchat.settings import Settings
from prefchat.ui.analyst import analyst_app
from prefchat.ui.app import create_app
from prefchat.ui.commands import serve_in_thread

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
TIMEOUT_MS = 30_000
ANALYST, PASSWORD = "analyst", "screenshots only"
SHOWN_USER = "ada"
"""The user whose profile page the analyst screenshot opens (an onboarding of :func:`onboard_more`)."""
LIKES = {"ada": "longer", "grace": "shorter", "alan": "longer", "edsger": "shorter", "barbara": "first"}
"""The users :func:`onboard_more` onboards, and which card each picks."""


@contextlib.contextmanager
def serving(pack: str, db: Path) -> Iterator[tuple[Assistant, str]]:
    """The app on ``pack`` and the database ``db``, served on a free loopback port; the assistant and its URL."""
    with Assistant.open(pack=pack, db=db) as assistant:
        assistant.showcase.prompts()
        with serve_in_thread(create_app(assistant)) as url:
            yield assistant, url


@contextlib.contextmanager
def analyst_serving(assistant: Assistant, db: Path) -> Iterator[str]:
    """The analyst review of ``assistant``'s store and pack (the database ``db``), behind its login; its URL."""
    settings = Settings(home=db.parent, db_url=f"sqlite:///{db}", embedding_model=Settings.from_env().embedding_model,
                        analyst_user=ANALYST, analyst_password=PASSWORD)
    with serve_in_thread(analyst_app(assistant.store, assistant.pack, settings)) as url:
        yield url


def pick(turn: QuestionTurn, likes: str) -> str:
    """The answer of a user who likes the ``"longer"`` card, the ``"shorter"`` one, or the ``"first"``."""
    a, b = (len(card.text) for card in (turn.item_a, turn.item_b))
    if likes == "first":
        return "a"
    return "a" if (a > b) == (likes == "longer") else "b"


def onboard_more(assistant: Assistant) -> None:
    """Onboards the users of :data:`LIKES` through the Python API, so the analyst has a table to show."""
    for user_id, likes in LIKES.items():
        turn = assistant.start(user_id)
        while isinstance(turn, QuestionTurn):
            turn = assistant.answer(turn.session_id, pick(turn, likes))


def transcripts(assistant: Assistant, users: list[str]) -> None:
    """Print what each of ``users`` answered (the cards by the names reasons give them, the one
    picked) and their summary and first picks with reasons: the results screenshots, read against them."""
    for user_id in users:
        session = assistant.latest_session(user_id)
        if session is None:
            continue
        print(f"user {user_id}: {assistant.summary(user_id).text}")
        for question, choice in assistant.answered(session.id):
            grouped = question.prompt is not None
            cards = [f"{label} {card_name(card, grouped)}" for label, card in zip(wording.OPTION_LABELS, question.items)]
            picked = next((label for label, card in zip(wording.OPTION_LABELS, question.items) if card.item_id == choice),
                          choice.upper())
            print(f"  {question.position}. {question.prompt or ''} {' | '.join(cards)} -> {picked}")
        for n, pick in enumerate(assistant.recommend(user_id, k=5), 1):
            print(f"  pick {n}: {pick.title}: {pick.why}")


def first_question(browser, url: str, viewport: dict):
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.locator(".prefchat-progress", has_text=wording.progress(1, 10)).wait_for()
    return page


def chat_screens(browser, url: str, out: Path) -> None:
    """The default pack's screens, desktop and phone."""
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = first_question(browser, url, viewport)
        page.screenshot(path=out / f"question-{size}.png")
        if size == "phone":
            page.locator(".prefchat-more summary").first.click()
            page.screenshot(path=out / "question-read-all-phone.png")
        for number in range(1, 11):
            page.locator(".prefchat-progress", has_text=wording.progress(number, 10)).wait_for()
            page.get_by_role("button", name="AB"[number % 2], exact=True).click()
        page.get_by_text(wording.LEARNED).wait_for()
        page.screenshot(path=out / f"results-{size}.png")
        if size == "desktop":
            box = page.get_by_placeholder("Tell me more", exact=False)
            box.fill("forget me")
            box.press("Enter")
            page.get_by_text(wording.FORGET_ASK).wait_for()
            page.screenshot(path=out / "forget-me-desktop.png")
        page.context.close()


def analyst_screens(browser, url: str, out: Path) -> None:
    """The analyst review at desktop size: the profiles table, then :data:`SHOWN_USER`'s page in full
    (its coefficients on the signed axes, and the card chosen at each answer)."""
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.get_by_label("username").fill(ANALYST)
    page.get_by_label("password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    row = page.get_by_role("gridcell", name=SHOWN_USER, exact=True).first
    row.wait_for()
    page.screenshot(path=out / "analyst-profiles.png")
    row.click()  # opens the profile
    page.get_by_role("heading", name=SHOWN_USER).wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    # The answers table is wider than the page: scrolled across to the card each answer chose.
    page.get_by_role("columnheader", name="chosen").evaluate("cell => cell.scrollIntoView({inline: 'center'})")
    page.screenshot(path=out / "analyst.png", full_page=True)
    page.context.close()


def film_screens(browser, url: str, out: Path) -> None:
    """A films pack's first question (4 cards), desktop and phone; then, at desktop size, the results
    of a user who picked the first card (A) of every question."""
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = first_question(browser, url, viewport)
        page.screenshot(path=out / f"films-question-{size}.png")
        if size == "desktop":
            for number in range(1, 11):
                page.locator(".prefchat-progress", has_text=wording.progress(number, 10)).wait_for()
                page.get_by_role("button", name="A", exact=True).click()
            page.get_by_text(wording.LEARNED).wait_for()
            page.screenshot(path=out / "films-results-desktop.png")
        page.context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="default", help="the pack of the chat's screens (default: the default pack)")
    parser.add_argument("--films", help="a MovieLens pack, for the films screens")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("screenshots: chromium is not on PATH (apt-get install -y chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        db = Path(work) / "chat.sqlite"
        with serving(args.pack, db) as (assistant, url):
            chat_screens(browser, url, args.out)
            browser_users = [p.user_id for p in assistant.store.list_profiles(assistant.pack.name)]
            onboard_more(assistant)
            with analyst_serving(assistant, db) as analyst_url:
                analyst_screens(browser, analyst_url, args.out)
            transcripts(assistant, browser_users)
        if args.films:
            with serving(args.films, Path(work) / "films.sqlite") as (films, url):
                film_screens(browser, url, args.out)
                transcripts(films, [p.user_id for p in films.store.list_profiles(films.pack.name)])
        browser.close()
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
