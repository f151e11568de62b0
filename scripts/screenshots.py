"""Screenshots of every screen of the chat, taken from the real app in headless chromium.

    .venv/bin/python scripts/screenshots.py [--pack default] [--films PACK] [--out docs/screenshots]

Serves the app (:func:`prefchat.ui.app.create_app`) on the pack ``--pack`` and a fresh SQLite
file on a free loopback port, and walks through what a newcomer sees, at desktop size
(1280 x 800) and phone size (390 x 844): the first question, a card read in full, the results,
"forget me" and its confirmation. With ``--films`` (a MovieLens pack), the same first question
of films, 4 cards a question. The files are named by screen, e.g. ``question-phone.png``; the
README shows some of them. Needs Debian's chromium and the test extras (playwright).
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
from prefchat.ui.app import create_app
from prefchat.ui.commands import serve_in_thread

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
TIMEOUT_MS = 30_000


@contextlib.contextmanager
def serving(pack: str, db: Path) -> Iterator[str]:
    """The app on ``pack`` and the database ``db``, served on a free loopback port; its URL."""
    with Assistant.open(pack=pack, db=db) as assistant:
        assistant.showcase_prompts()
        with serve_in_thread(create_app(assistant)) as url:
            yield url


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


def film_screens(browser, url: str, out: Path) -> None:
    """A films pack's first question (4 cards), desktop and phone."""
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = first_question(browser, url, viewport)
        page.screenshot(path=out / f"films-question-{size}.png")
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
        with serving(args.pack, Path(work) / "chat.sqlite") as url:
            chat_screens(browser, url, args.out)
        if args.films:
            with serving(args.films, Path(work) / "films.sqlite") as url:
                film_screens(browser, url, args.out)
        browser.close()
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
