"""Fixtures of the web tests: a tiny grouped pack and the composed app running.

The pack is shaped like the default "assistant styles" pack: twelve prompts (the groups, named in
``manifest["group_names"]``), five answers to each, every answer tagged with two of six styles
("short answers", "numbered steps", ...), which are also the descriptors. One answer per
prompt is long, so that its card opens with its first sentence and "Read all".

``returning_pack`` is the same pack greeting a returning user with a check-in after
:data:`CHECKIN_TIMESCALE` (:func:`with_checkin`).

``server_url`` is :func:`prefchat.ui.app.create_app` served by uvicorn in a thread on a free
loopback port, for the whole test session, on a fresh SQLite file (``server_db_url``);
``visit(url)`` is a :class:`Visitor` of it: a gradio_client connection of its own, as a browser tab.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from gradio_client import Client

from prefchat.assistant.api import Assistant
from prefchat.reward.naming import name_axes, tag_matrix
from prefchat.reward.pack import Item, Pack, load_pack, save_pack
from prefchat.storage import open_store
from prefchat.ui.app import create_app
from prefchat.ui.commands import serve_in_thread

MAX_TURNS = 15
N_LEARNED = 3
PROMPTS = (
    "How do I boil an egg?",
    "How do I fix a flat bicycle tyre?",
    "How often should I water a cactus?",
    "How do I start keeping a journal?",
    "How do I fold a shirt neatly?",
    "How do I back up my phone's photos?",
    "How do I make a cup of tea?",
    "How do I clean a cast-iron pan?",
    "How do I learn to juggle?",
    "How do I pick a ripe avocado?",
    "How do I tie a bow tie?",
    "How do I remember people's names?",
)
STYLES = {
    "short answers": "In short: it takes a minute.",
    "numbered steps": "1. Get ready.\n2. Do the main step.\n3. Check the result.",
    "friendly tone": "You've totally got this, and it's fun once you try it!",
    "formal tone": "It is advisable to proceed methodically and to verify each stage.",
    "jokes": "Fun fact: even the experts got it wrong the first time, and the second.",
    "long detailed answers": " ".join(["Here is the thorough version, with the background and the reasons behind every step."] * 40),
}


def grouped_pack(small_pack) -> Pack:
    """Twelve prompts, five answers each, by tests/conftest.py's :func:`small_pack`; axes named by the styles."""
    styles = list(STYLES)
    items, groups = [], []
    for g, prompt in enumerate(PROMPTS):
        for j in range(5):
            tags = (styles[j], styles[(j + g % 5 + 1) % len(styles)])
            text = " ".join(STYLES[tag] for tag in tags)
            items.append(Item(f"p{g}-a{j}", f"{prompt} (answer {j + 1})", text, tags))
            groups.append(g)
    pack = small_pack(items, n_learned=N_LEARNED, seed=5, manifest={
        "name": "tiny-styles", "groups": groups, "group_names": list(PROMPTS)})
    assert pack.descriptors == styles
    return replace(pack, axes=name_axes(pack.features[:, :N_LEARNED], tag_matrix(items, styles), styles))


CHECKIN_TIMESCALE = 30 * 86400.0
"""Seconds after a profile was last checked that :func:`with_checkin`'s pack offers a check-in: a month."""


def with_checkin(pack: Pack, timescale: float | None = CHECKIN_TIMESCALE, retention: float = 0.5) -> Pack:
    """``pack`` with the check-in settings a build chooses (:attr:`~prefchat.reward.pack.Pack.checkin_timescale`
    and ``checkin_retention``) set to ``timescale`` and ``retention``."""
    hyper = {**pack.manifest["hyperparameters"], "checkin_timescale": timescale, "checkin_retention": retention}
    return replace(pack, manifest={**pack.manifest, "hyperparameters": hyper})


serving = serve_in_thread
"""Serve an app with uvicorn in a thread on a free loopback port; yields its base URL."""


@dataclass(frozen=True)
class Screen:
    """What an endpoint returns: the outputs of :func:`prefchat.ui.chat.build_chat`, by name."""

    token: str | None
    messages: list[str]
    progress: str
    prompt: str
    card_a: str
    card_b: str

    @property
    def session_id(self) -> str | None:
        """The session the resume token names (:mod:`prefchat.ui.ownership`)."""
        return None if self.token is None else self.token.rpartition(".")[0]

    @property
    def last(self) -> str:
        return self.messages[-1]

    @property
    def asking(self) -> bool:
        return bool(self.progress)


class Visitor:
    """One gradio_client connection: a browser tab of its own."""

    def __init__(self, url: str):
        self.client = Client(f"{url}/", verbose=False)

    def __call__(self, endpoint: str, *args: str | bool) -> Screen:
        outputs = self.client.predict(*args, api_name=f"/{endpoint}")
        token, chat, progress, prompt, card_a, card_b, _text = outputs[:7]  # then the cards of k-way questions
        messages = [part["text"] for message in chat for part in message["content"] if part["type"] == "text"]
        return Screen(token, messages, progress, prompt, card_a, card_b)

    def onboard(self, choices: list[str]) -> tuple[Screen, list[Screen]]:
        """Start, then answer with ``choices`` in turn (cycled) until the results; the result and the questions."""
        screen, questions = self("start"), list[Screen]()
        while screen.asking:
            assert len(questions) < MAX_TURNS, "onboarding never ended"
            questions.append(screen)
            screen = self("answer", choices[(len(questions) - 1) % len(choices)])
        return screen, questions


@pytest.fixture(scope="session")
def tiny_pack_dir(tmp_path_factory, small_pack) -> Path:
    return save_pack(grouped_pack(small_pack), tmp_path_factory.mktemp("ui-packs") / "tiny-styles")


@pytest.fixture(scope="session")
def tiny_pack(tiny_pack_dir) -> Pack:
    return load_pack(tiny_pack_dir)


@pytest.fixture(scope="session")
def returning_pack(tiny_pack) -> Pack:
    """:func:`tiny_pack` offering a returning user a check-in a month after their profile was last checked."""
    return with_checkin(tiny_pack)


@pytest.fixture(scope="session")
def server_db_url(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('ui-db') / 'prefchat.sqlite'}"


@pytest.fixture(scope="session")
def serve_app():
    """``with serve_app(app) as url``: any ASGI app served on a free loopback port (see :func:`serving`)."""
    return serving


@pytest.fixture(scope="session")
def visit():
    """``visit(url)``: a :class:`Visitor`, a gradio_client connection of its own (a browser tab)."""
    return Visitor


@pytest.fixture(scope="session")
def server_url(tiny_pack, server_db_url, embed) -> Iterator[str]:
    """Base URL (no trailing slash) of the whole app: chat at /, REST at /api/v1."""
    with open_store(server_db_url) as store:
        app = create_app(Assistant(tiny_pack, store, embed))
        with serving(app) as url:
            yield url
