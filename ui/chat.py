"""The chat onboarding app: about ten "which do you prefer?" questions, then a chat about the results.

Top to bottom: a progress line, the transcript (``gr.Chatbot``, messages format), the open
question as two cards side by side (stacked on narrow screens) with the buttons A / B /
Both fine / Don't know either, undo and finish, and a text box for typed answers and, once
onboarding is over, for chat (a correction in the pack's own words, "why <title>?", "recommend").

Callbacks only translate widgets to :class:`~prefchat.assistant.api.Assistant` calls
and turns back to widgets. What one browser tab (or one gradio_client connection) sees is a
:class:`ChatState` in ``gr.State``, so two visitors never share anything but the database; the
session's resume token (:mod:`prefchat.ui.ownership`) is also kept in the browser's localStorage
(``gr.BrowserState``), so that reloading the page resumes the session. That token is all the browser keeps: Gradio's run history (every
call's inputs and outputs, in localStorage) is off (:func:`mount_chat`), and once the user is
forgotten the id is removed from localStorage too (:data:`FORGET_IN_BROWSER`).

Named endpoints, for gradio_client:

``/start``      a new onboarding session (for the same user when there was one)
``/resume``     resume token -> that session where it stands (a new one for any other value)
``/answer``     "a", "b", "both", "skip" or free text, and the question id shown -> the next question, or the results
``/undo``       take back the last answer
``/finish``     end onboarding now
``/say``        free text (and the question id shown): answers while onboarding, chat afterwards
``/checkin``    True takes the check-in offered on opening (its first question), False declines it (the picks so far;
                offered again one check-in timescale later)

Each returns the resume token (the session id, a dot and the chat's signature of it:
:mod:`prefchat.ui.ownership`; a session id alone resumes nothing), the transcript, the progress line, the prompt, the two cards and
the text box, and last the id of the question shown (0 once onboarding is over). ``/answer``
and ``/say`` take that id after the text: an answer naming the question it answers is taken once
however often it is sent (:meth:`~prefchat.assistant.session.Conversation.answer`); without it
(0, the default), the tab's open question is named.

A returning user whose check-in is due (:meth:`~prefchat.assistant.api.Assistant.checkin_offer`, by
the assistant's clock) and who opens the chat on their finished session is offered it first
(:func:`offer_checkin`), with a button to take it and one to decline; the offer is only ever for the
user of the session the browser's resume token names, and ``/checkin`` acts only on an offer shown.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from html import escape
from typing import Any

import gradio as gr
from fastapi import FastAPI

from ..assistant import wording
from ..assistant.api import Assistant
from ..assistant.cards import card_preview, card_view, readable_title, repeats_title
from ..assistant.errors import AssistantError
from ..assistant.recommender import Ranked
from ..assistant.turns import AnyTurn, ItemCard, QuestionTurn, ReaskTurn, ReplyTurn, ResultTurn
from ..elicitation import ConvergenceError
from ..reward.featurize import EmbeddingError
from ..reward.manifest import MAX_QUESTION_SIZE
from ..storage import StorageError
from .ownership import KEY_BYTES, owned_session, resume_token
from .schemas import MAX_TEXT

__all__ = [
    "CSS",
    "FORGET_IN_BROWSER",
    "ChatState",
    "advance",
    "build_chat",
    "card_markdown",
    "friendly",
    "markdown_safe",
    "markdown_text",
    "mount_chat",
    "offer_checkin",
    "progress_html",
    "result_message",
    "too_long",
]

logger = logging.getLogger(__name__)

PICKS_SHOWN = 5
EXCERPT_WORDS = 40
"""Most words of a pick's text shown under it."""
CONCURRENCY = 4
"""Calls of one endpoint served at once: each call of the assistant is its own short transactions."""
QUEUE_SIZE = 256
"""Calls waiting in the chat's queue at most, from all tabs together; beyond, Gradio answers that the queue is full."""
QUEUE_POLL = 0.01
"""Seconds Gradio's queue sleeps between looks while no call is waiting, and a waiting call's longest
wait for the next look. Gradio's own 0.001 (on Linux; 0.05 on Windows) wakes every server process a
thousand times a second, REST-only workers too: idle, a tenth to a quarter of a core."""
PROGRESS_POLL = 0.1
"""Seconds between Gradio's looks for progress to report (its own: 0.01 on Linux, 0.1 on Windows)."""
STORAGE_KEY = "prefchat-session"
"""The browser's localStorage key of the session id."""
FORGET_IN_BROWSER = f"(saved) => {{ if (!saved) {{ window.localStorage.removeItem({json.dumps(STORAGE_KEY)}); }} }}"
"""Runs in the browser whenever the saved session id changes: an emptied one (the user was
forgotten) is removed from localStorage, where Gradio's BrowserState would leave the last id it
wrote (it writes no empty value)."""

CSS = """
.prefchat-progress { display: flex; align-items: center; gap: 12px; font-weight: 600; }
.prefchat-progress progress { flex: 1; height: 8px; accent-color: var(--color-accent); }
.prefchat-prompt { font-size: var(--text-lg); }
.prefchat-cards { gap: 12px; align-items: stretch; flex-wrap: wrap !important; }
/* Two cards side by side; four in a 2 x 2 grid; an odd last one takes the row. */
/* A card shows the opening of its text and grows when "Read all" opens the rest; tapping it picks it. */
.block.prefchat-card {
    flex: 1 1 calc(50% - 12px); min-width: calc(50% - 12px); padding: 12px 16px !important; cursor: pointer;
    border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
    background: var(--background-fill-secondary); overflow-wrap: anywhere;
}
.block.prefchat-card:hover { border-color: var(--color-accent); }
.prefchat-more summary { cursor: pointer; color: var(--body-text-color-subdued); }
.prefchat-chip {
    display: inline-block; margin: 0 4px 4px 0; padding: 0 10px; border-radius: 999px; font-size: 0.85em;
    background: var(--background-fill-primary); border: 1px solid var(--border-color-primary);
}
.prefchat-card code { font-size: 0.85em; }
.prefchat-card :is(h1, h2, h3, h4) { font-size: 1.05em; margin: 0.6em 0 0.3em; }
.prefchat-chat button[aria-label="Clear"] { display: none; }
/* Once no question is open (its panel leaves the page), the transcript takes the room. */
.gradio-container:not(:has(.prefchat-question)) .block.prefchat-chat { height: 72vh !important; }
/* A phone (390 x 844): the question, its cards and its buttons fit on the screen without scrolling. */
@media (max-width: 640px) {
    :has(> .prefchat-question) > .block.prefchat-chat { height: 18vh !important; min-height: 0 !important; }
    .prefchat-cards { flex-direction: column !important; gap: 4px; }
    .block.prefchat-card { flex: none; min-width: 0; padding: 4px 12px !important; }
    /* Five or six cards: two by two, each with its first two chips, so that the whole question still fits the screen. */
    .prefchat-cards:has(> .prefchat-card:nth-child(5)) { flex-direction: row !important; }
    .prefchat-cards:has(> .prefchat-card:nth-child(5)) > .block.prefchat-card { flex: 1 1 calc(50% - 4px); min-width: calc(50% - 4px); }
    .prefchat-cards:has(> .prefchat-card:nth-child(5)) .prefchat-chip:nth-of-type(n+3) { display: none; }
    .prefchat-card :is(h1, h2, h3, h4) { margin: 0 0 0.2em; line-height: 1.25; }
    .prefchat-card p { margin: 0.2em 0; }
    .prefchat-chip { font-size: 0.8em; margin-bottom: 2px; }
    .prefchat-choices { flex-flow: row wrap !important; gap: 8px; }
    .prefchat-choices > button { flex: 1 1 40% !important; min-width: 0 !important; padding: 6px !important; }
}
"""

PAGE_SCRIPT = """() => {
    document.addEventListener("click", (event) => {
        const card = event.target.closest("[id^='prefchat-card-']");
        if (!card || event.target.closest("details, a, button") || String(window.getSelection())) return;
        document.getElementById(card.id.replace("card", "pick"))?.click();
    });
    let rows = 0;
    new MutationObserver(() => {
        const wrap = document.querySelector(".prefchat-chat .bubble-wrap");
        const shown = wrap ? wrap.querySelectorAll(".message-row") : [];
        if (shown.length === rows) return;
        rows = shown.length;
        const last = shown[shown.length - 1];
        if (!last || !last.classList.contains("bot-row")) return;
        requestAnimationFrame(() => { wrap.scrollTop += last.getBoundingClientRect().top - wrap.getBoundingClientRect().top; });
    }).observe(document.body, {childList: true, subtree: true});
}"""
"""Runs once in the browser. Tapping a card (outside its "Read all") presses the button that picks it.
A new reply opens at its start, not its end: the results at "what I learned", not at the showcase
below it (the transcript's own scrolling to the bottom is off)."""

CONFIRM_LABELS = {
    "start_over": (wording.START_OVER_YES, wording.START_OVER_NO),
    "checkin": (wording.CHECKIN_YES, wording.CHECKIN_NO),
}
"""The yes and no buttons under each question the chat asks besides "forget me" (:data:`~prefchat.assistant.wording.FORGET_YES`)."""

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="slate")

Message = dict[str, str]

_EXPECTED = (AssistantError, StorageError, ConvergenceError, EmbeddingError, ValueError)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$&@!])")
# What Markdown reads as links without brackets: "https://", "www." (GFM autolinks).
_AUTOLINK = re.compile(r"(?<=[A-Za-z])(:)(?=//)|(?<=www)(\.)", re.IGNORECASE)
# Of a pack's own texts, only what could reach out or run: HTML and entities, links and images,
# autolinks and e-mail addresses, LaTeX. Emphasis, lists and code stay Markdown.
_MARKDOWN_ACTIVE = re.compile(r"([\\<&\[\]$@])")


# --------------------------------------------------------------------------- what a tab sees


@dataclass(frozen=True)
class ChatState:
    """What one browser tab (or one gradio_client connection) sees.

    Attributes
    ----------
    session_id, user_id : str or None
        The onboarding session shown, and its user (kept so that "start over" keeps the user).
    messages : tuple of ``{"role", "content"}`` dicts, the transcript
    question : QuestionTurn or None, the open question (None once onboarding is over)
    asking : "forget", "start_over" or "checkin" while the chat waits for a yes or no to that, else None
    """

    session_id: str | None = None
    user_id: str | None = None
    messages: tuple[Message, ...] = ()
    question: QuestionTurn | None = None
    asking: str | None = None

    def said(self, role: str, text: str) -> ChatState:
        return replace(self, messages=(*self.messages, {"role": role, "content": text}))


def advance(state: ChatState, turn: AnyTurn, greet: bool = True) -> ChatState:
    """The state after the assistant answered with ``turn`` (the user's words already appended).

    A question of a session other than the one shown is greeted: a new session from the start,
    a resumed one with a welcome back; unless ``greet`` is False (a check-in, which its offer announced).
    """
    state = replace(state, asking=None)
    if isinstance(turn, ReaskTurn):
        return replace(state.said("assistant", turn.text), question=turn.question)
    if isinstance(turn, QuestionTurn):
        if greet and turn.session_id != state.session_id:
            hello = wording.greeting(turn.expected_total, turn.objective, turn.words) if turn.position == 1 else \
                wording.welcome_back(turn.position)
            state = state.said("assistant", hello)
        return replace(
            state.said("assistant", question_message(turn)),
            session_id=turn.session_id,
            user_id=turn.user_id,
            question=turn,
        )
    if isinstance(turn, ResultTurn):
        state = state.said("assistant", result_message(turn))
        return replace(state, session_id=turn.session_id, user_id=turn.user_id, question=None)
    state = state.said("assistant", reply_message(turn))
    if turn.intent == "confirm_forget":  # the user and all their sessions are gone
        return ChatState(messages=state.messages)
    if turn.intent in ("forget", "keep"):  # the question, if one is open, stays open
        return replace(state, asking="forget" if turn.intent == "forget" else None)
    return replace(state, question=None)


def offer_checkin(state: ChatState, result: ResultTurn, offer: str) -> ChatState:
    """The opening of a returning user whose check-in is due: ``offer`` (what
    :meth:`~prefchat.assistant.api.Assistant.checkin_offer` greets them with) as the first message, on the
    finished session of ``result``, waiting for a yes (the check-in) or a no (that session's picks)."""
    return replace(state.said("assistant", markdown_text(offer)), session_id=result.session_id, user_id=result.user_id,
                   question=None, asking="checkin")


def too_long(text: str) -> str | None:
    """What the user is told when ``text`` is over :data:`~prefchat.ui.schemas.MAX_TEXT` characters, else None.

    The text box stops typing at that length in the browser; this checks it on the server,
    where any client (gradio_client, a script) may send more.
    """
    return wording.TOO_LONG.format(n=len(text), limit=MAX_TEXT) if len(text) > MAX_TEXT else None


def friendly(error: BaseException) -> str:
    """What the user is told when the assistant refuses: no traceback, a way forward."""
    for kind, text in wording.FRIENDLY:
        if isinstance(error, kind):
            return text
    if isinstance(error, ValueError):
        return wording.REFUSED.format(error=error)
    return wording.FAULT


# --------------------------------------------------------------------------- words and markup


def markdown_text(text: str) -> str:
    """``text`` shown literally in Markdown: no emphasis, HTML, links (bracketed or bare), images
    or ``$...$`` LaTeX, only backslashes added. For everything a user or a pack supplies: ids,
    titles, summaries, the user's own words."""
    return _AUTOLINK.sub(r"\\\g<0>", _MARKDOWN_SPECIAL.sub(r"\\\1", text))


def markdown_safe(text: str) -> str:
    """A pack's item text as Markdown that can neither reach out nor run: its emphasis, lists and
    code render, but HTML, entities, links, images, autolinks and LaTeX show as written."""
    return _AUTOLINK.sub(r"\\\g<0>", _MARKDOWN_ACTIVE.sub(r"\\\1", text))


def question_message(turn: QuestionTurn) -> str:
    progress = f"**{wording.progress(turn.position, turn.expected_total)}.**"
    prompt = f" *{markdown_text(turn.prompt)}*" if turn.prompt else ""
    if len(turn.items) > 2:
        return f"{progress}{prompt} {wording.ask_of(len(turn.items), bool(turn.prompt))}"
    if turn.prompt:
        return f"{progress}{prompt} {wording.ASK_GROUPED[turn.objective]}"
    a, b = (markdown_text(card.title) for card in (turn.item_a, turn.item_b))
    return f"{progress} {wording.ASK[turn.objective]}: **A** {a}, or **B** {b}?"


def ask_line(question: QuestionTurn) -> str:
    """What a question without a shared prompt asks, shown above its cards: "Which of these 4 would you pick?"."""
    n = len(question.items)
    return wording.ask_of(n, grouped=False) if n > 2 else f"{wording.ASK[question.objective]}?"


def answer_label(question: QuestionTurn, choice: str) -> str:
    """What the transcript shows the user said for a stored ``choice``: the label of the button pressed."""
    labels = {"a": "A", "b": "B", "tie": wording.BOTH_BUTTON,
              "skip": wording.NEITHER_BUTTON if len(question.items) == 2 else wording.NONE_BUTTON}
    picked = [n for n, card in enumerate(question.items) if card.item_id == choice]
    return wording.OPTION_LABELS[picked[0]] if picked else labels.get(choice, markdown_text(choice))


def picks_markdown(picks: Sequence[Ranked]) -> str:
    """A numbered list: each pick's title, the one-line reason for it, and its text when the text is
    what the user reads (a response rather than a film's description)."""
    return "\n".join(f"{n}. **{markdown_text(spoken_title(pick.title))}**: {markdown_text(pick.why)}{excerpt(pick)}"
                     for n, pick in enumerate(picks, 1))


def spoken_title(title: str) -> str:
    """A title as people say it, its year kept: "Godfather, The (1972)" -> "The Godfather (1972)"."""
    name, year = readable_title(title)
    return name if year is None else f"{name} ({year})"


def excerpt(pick: Ranked) -> str:
    """The opening of a pick's text (:func:`~prefchat.assistant.cards.card_preview`, at most
    :data:`EXCERPT_WORDS` words), quoted under it as Markdown, unless the text only repeats the title."""
    if not pick.text.strip() or repeats_title(pick.text, pick.title):
        return ""
    return "\n" + blockquote(card_preview(pick.text, EXCERPT_WORDS).head, indent="   ")


def blockquote(text: str, indent: str = "") -> str:
    """A pack's ``text`` as a Markdown block quote (its lists, code and emphasis render, see
    :func:`markdown_safe`), each line after ``indent`` (inside a list item: its indentation)."""
    return "\n".join(f"{indent}> {markdown_safe(line)}".rstrip() for line in text.strip().splitlines())


def showcase_markdown(turn: ResultTurn) -> str:
    """The held-out prompts: the response picked for this user, and the crowd's when it differs."""
    lines = [f"**{wording.SHOWCASE}**"]
    for shown in turn.showcase:
        lines.append(f"*{markdown_text(shown.prompt)}*\n\n{blockquote(shown.picked)}\n\n"
                     f"{wording.showcase_why(shown.why)}")
        if shown.crowd is not None:
            lines.append(f"{wording.CROWD_PICK}\n\n{blockquote(shown.crowd)}")
    return "\n\n".join(lines)


def result_message(turn: ResultTurn) -> str:
    parts = [f"**{wording.LEARNED}** {markdown_text(turn.summary_text)}"]
    if turn.moved is not None:  # after a check-in, first whether the answers fit what was known
        parts.insert(0, wording.CHECKIN_MOVED if turn.moved else wording.CHECKIN_KEPT)
    if turn.recommendations:
        parts.append(f"**{wording.TOP_PICKS}**\n\n" + picks_markdown(turn.recommendations[:PICKS_SHOWN]))
    if turn.showcase:
        parts.append(showcase_markdown(turn))
    parts.append(wording.invitation(turn.example))
    return "\n\n".join(parts)


def reply_message(turn: ReplyTurn) -> str:
    if not turn.recommendations or turn.intent == "why":  # a why names its item and reason: a list would say both again
        return markdown_text(turn.text)
    return f"{markdown_text(turn.text)}\n\n{picks_markdown(turn.recommendations[:PICKS_SHOWN])}"


def card_markdown(label: str, card: ItemCard, grouped: bool) -> str:
    """One option of a question (:func:`~prefchat.assistant.cards.card_view`): its label, title
    (unless the prompt above says it), chips, and the opening of its text with the rest behind
    "Read all"."""
    view = card_view(card, grouped)
    heading = f"### {label}" if view.title is None else f"### {label} · {markdown_text(view.title)}"
    chips = " ".join(f'<span class="prefchat-chip">{markdown_text(chip)}</span>' for chip in view.chips)
    parts = [heading, chips]
    if view.preview is not None:
        parts.append(markdown_safe(view.preview.head))
        if view.preview.rest:
            parts.append(f'<details class="prefchat-more"><summary>{escape(wording.read_all(view.preview.n_words))}</summary>'
                         f"\n\n{markdown_safe(view.preview.rest)}\n\n</details>")
    return "\n\n".join(part for part in parts if part)


def progress_html(question: QuestionTurn | None) -> str:
    """"Question 4 of about 10" with a bar, or nothing when no question is open."""
    if question is None:
        return ""
    done, total = question.position - 1, max(question.expected_total, question.position)
    label = wording.progress(question.position, question.expected_total)
    return (
        f'<div class="prefchat-progress"><span>{escape(label)}</span>'
        f'<progress value="{done}" max="{total}" aria-label="{escape(label)}"></progress></div>'
    )


# --------------------------------------------------------------------------- the Blocks


def build_chat(assistant: Assistant, title: str = "prefchat", resume_key: bytes | None = None) -> gr.Blocks:
    """The onboarding chat for ``assistant`` (its pack and store) as ``gr.Blocks``.

    ``resume_key`` signs the resume tokens kept in browsers (:mod:`prefchat.ui.ownership`;
    default: a key of this chat's own, so tokens do not outlive the process).

    Mount it with :func:`mount_chat` (which adds the theme and :data:`CSS`), or launch it with
    ``build_chat(c).launch(css=CSS, theme=THEME)``.
    """
    grouped = assistant.pack.groups is not None
    key = secrets.token_bytes(KEY_BYTES) if resume_key is None else resume_key

    def run(state: ChatState, said: str | None, call: Callable[[], AnyTurn], greet: bool = True) -> ChatState:
        if said is not None:
            state = state.said("user", markdown_text(said))
        try:
            return advance(state, call(), greet)
        except _EXPECTED as error:
            return state.said("assistant", markdown_text(friendly(error)))
        except Exception as error:  # the UI's edge: log it, show no traceback
            logger.exception("chat callback failed")
            return state.said("assistant", markdown_text(friendly(error)))

    def start(state: ChatState) -> ChatState:
        return run(state, None, lambda: assistant.start(state.user_id))

    def resume(saved: str | None, state: ChatState) -> ChatState:
        """The session of the browser's resume token where it stands, after its transcript so far; a new
        one if there is none to resume. A finished session whose user is due a check-in opens with its offer."""
        session_id, offer = owned_session(key, saved), None
        try:
            turn = assistant.resume(session_id) if session_id else None
            offer = assistant.checkin_offer(turn.user_id) if isinstance(turn, ResultTurn) else None
            answered = assistant.answered(session_id) if session_id and offer is None else ()
        except (LookupError, AssistantError):  # forgotten, abandoned, or of another pack
            turn = None
        if turn is None:
            return start(state)
        if offer is not None:
            assert isinstance(turn, ResultTurn), "only a finished session is offered a check-in"
            return offer_checkin(state, turn, offer)
        for question, choice in answered:
            state = state.said("assistant", question_message(question)).said("user", answer_label(question, choice))
        return run(state, None, lambda: turn)

    def refused(text: str, state: ChatState) -> ChatState | None:
        """The state with a refusal when ``text`` is too long (neither it nor an answer is stored)."""
        message = too_long(text)
        return None if message is None else state.said("user", markdown_text(text[:80]) + "…").said("assistant", message)

    def asked(shown: object, state: ChatState) -> int | None:
        """The question the page showed when the user answered (the hidden ``shown``, sent with the answer), else
        the tab's open question: a copy of the answer (a retry, a double click, a resent message) is then taken once."""
        if isinstance(shown, int | float) and not isinstance(shown, bool) and 1 <= shown < 2**63:
            return int(shown)
        return None if state.question is None else state.question.question_id

    def answer(choice: str, shown: object, state: ChatState) -> ChatState:
        choice = choice if isinstance(choice, str) else ""
        if (refusal := refused(choice, state)) is not None:
            return refusal
        if (session_id := state.session_id) is None:
            return start(state)
        question_id = asked(shown, state)
        return run(state, choice, lambda: assistant.answer(session_id, choice, question_id))

    def ask_start_over(state: ChatState) -> ChatState:
        """The "Start over" button: asks once (a new visitor just starts)."""
        if state.session_id is None:
            return start(state)
        return replace(state.said("assistant", markdown_text(wording.START_OVER_ASK)), asking="start_over")

    def check_in(take: bool, state: ChatState) -> ChatState:
        """The returning user's yes or no to the check-in offered (:func:`offer_checkin`): its first question
        (not greeted again: the offer said what comes), or the picks of the session shown, as without the
        offer. Only an offer on the page is answered, and only for the user it was made to."""
        user_id, session_id = state.user_id, state.session_id
        if state.asking != "checkin" or user_id is None or session_id is None:
            return state
        said = state.said("user", wording.CHECKIN_YES if take else wording.CHECKIN_NO)
        if take:
            return run(said, None, lambda: assistant.check_in(user_id), greet=False)

        def declined() -> AnyTurn:
            assistant.decline_checkin(user_id)  # remembered: offered again a timescale on, not at every visit
            return assistant.resume(session_id)

        return run(said, None, declined)

    def confirm(yes: bool, state: ChatState) -> ChatState:
        """The yes or no buttons under a question the chat asked ("forget me", "start over", a check-in)."""
        if state.asking == "checkin":
            return check_in(yes, state)
        if state.asking == "start_over":
            said = state.said("user", wording.START_OVER_YES if yes else wording.START_OVER_NO)
            return start(said) if yes else replace(said.said("assistant", wording.START_OVER_KEPT), asking=None)
        return say("yes" if yes else "no", None, state, said_as=wording.FORGET_YES if yes else wording.FORGET_NO)

    def undo(state: ChatState) -> ChatState:
        if (session_id := state.session_id) is None:
            return start(state)
        return run(state, wording.UNDO_SAID, lambda: assistant.undo(session_id))

    def finish(state: ChatState) -> ChatState:
        if (session_id := state.session_id) is None:
            return start(state)
        return run(state, wording.FINISH_BUTTON, lambda: assistant.finish(session_id))

    def say(text: str, shown: object, state: ChatState, said_as: str | None = None) -> ChatState:
        text = text.strip() if isinstance(text, str) else ""
        if (refusal := refused(text, state)) is not None:
            return refusal
        if not text:
            return state
        if (session_id := state.session_id) is None:
            return start(state.said("user", markdown_text(text)))
        question_id = asked(shown, state)
        return run(state, said_as or text, lambda: assistant.say(session_id, text, question_id))

    with gr.Blocks(title=title, analytics_enabled=False) as blocks:
        # Gradio sends a BrowserState's "secret" to the page with the config, so it protects
        # nothing; a fixed one lets a browser's session survive a server restart.
        saved = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=STORAGE_KEY)
        state = gr.State(ChatState())
        progress = gr.HTML(elem_classes="prefchat-progress-box")
        chatbot = gr.Chatbot(
            label=title, show_label=False, elem_classes="prefchat-chat", height="36vh", min_height=240, buttons=["copy_all"],
            latex_delimiters=[], sanitize_html=True, autoscroll=False,
        )
        with gr.Column(visible=False, elem_classes="prefchat-question") as panel:
            prompt = gr.Markdown(elem_classes="prefchat-prompt", latex_delimiters=[])
            # As many cards and pick buttons as a question can have; show() shows those of the question asked.
            with gr.Row(equal_height=True, elem_classes="prefchat-cards"):
                cards = [gr.Markdown(elem_classes="prefchat-card", elem_id=f"prefchat-card-{n}", latex_delimiters=[], visible=n < 2)
                         for n in range(MAX_QUESTION_SIZE)]
            with gr.Row(elem_classes="prefchat-choices"):
                picks = [gr.Button(label, variant="primary", visible=n < 2, elem_id=f"prefchat-pick-{n}")
                         for n, label in enumerate(wording.OPTION_LABELS)]
                both, neither = gr.Button(wording.BOTH_BUTTON), gr.Button(wording.NEITHER_BUTTON)
                none = gr.Button(wording.NONE_BUTTON, visible=False)
            buttons = [*picks, both, neither, none]
        with gr.Row(visible=False, elem_classes="prefchat-confirm") as confirm_row:
            yes_button = gr.Button(wording.FORGET_YES, variant="stop")
            no_button = gr.Button(wording.FORGET_NO)
        with gr.Row():
            undo_button = gr.Button(wording.UNDO_BUTTON, size="sm", visible=False)
            finish_button = gr.Button(wording.FINISH_BUTTON, size="sm", visible=False)
        with gr.Row():
            text = gr.Textbox(
                show_label=False, placeholder=wording.ONBOARDING_HINT, scale=5, max_lines=4, max_length=MAX_TEXT,
                submit_btn=wording.SEND_BUTTON
            )
        restart = gr.Button(wording.START_OVER_BUTTON, size="sm", variant="stop")
        # The id of the question on the page: the browser sends it back with every answer, clicked or typed.
        shown_question = gr.Number(0, visible=False, precision=0, label="question id")  # 0: none given
        take_checkin = gr.Checkbox(False, visible=False, label="take the check-in")  # /checkin's yes or no

        def show(state: ChatState, clear_text: bool = False) -> tuple:
            question = state.question
            shown = () if question is None else question.items
            texts = [card_markdown(wording.OPTION_LABELS[n], card, grouped) for n, card in enumerate(shown)]
            texts += [""] * (MAX_QUESTION_SIZE - len(texts))
            # Cards A and B are always there (their values are what API callers read); the others come and go.
            more_cards = [gr.Markdown(texts[n], visible=n < len(shown)) for n in range(2, MAX_QUESTION_SIZE)]
            pair = len(shown) <= 2
            button_updates = [
                *(gr.Button(visible=n < max(2, len(shown))) for n in range(MAX_QUESTION_SIZE)),
                gr.Button(visible=pair), gr.Button(visible=pair), gr.Button(visible=not pair),
            ]
            hint = wording.chat_hint(assistant.example) if question is None else wording.ONBOARDING_HINT
            yes, no = CONFIRM_LABELS.get(state.asking or "", (wording.FORGET_YES, wording.FORGET_NO))
            return (
                state,
                None if state.session_id is None else resume_token(key, state.session_id),
                list(state.messages),
                progress_html(question),
                "" if question is None else f"**{markdown_text(question.prompt or ask_line(question))}**",
                *texts[:2],
                gr.Column(visible=question is not None),
                gr.Textbox(value="", placeholder=hint) if clear_text else gr.Textbox(placeholder=hint),
                *more_cards,
                *button_updates,
                0 if question is None else question.question_id,
                gr.Row(visible=state.asking is not None),
                gr.Button(yes, variant="primary" if state.asking == "checkin" else "stop"),
                gr.Button(no),
                # undo, also once the results are in (not under a check-in's offer, which shows no answer)
                gr.Button(visible=state.session_id is not None and state.asking != "checkin"),
                gr.Button(visible=question is not None),
            )

        # The first outputs are what gradio_client callers read (cards A and B among them); the
        # further cards and the buttons' visibility follow.
        outputs = [state, saved, chatbot, progress, prompt, cards[0], cards[1], panel, text, *cards[2:], *buttons,
                   shown_question, confirm_row, yes_button, no_button, undo_button, finish_button]
        listen: dict[str, Any] = {"outputs": outputs, "show_progress": "minimal"}
        private = {**listen, "api_visibility": "private"}

        blocks.load(lambda saved, s: show(resume(saved, s)), [saved, state], api_name="resume", **listen)
        # /start starts at once, for API callers (through a button never shown); the one shown asks first.
        gr.Button(visible=False).click(lambda s: show(start(s)), [state], api_name="start", **listen)
        restart.click(lambda s: show(ask_start_over(s)), [state], **private)
        yes_button.click(lambda s: show(confirm(True, s)), [state], **private)
        no_button.click(lambda s: show(confirm(False, s)), [state], **private)
        # One endpoint for every answer button: each sends its own label in place of the typed text.
        labels = [*wording.OPTION_LABELS, wording.BOTH_BUTTON, wording.NEITHER_BUTTON, wording.NONE_BUTTON]
        for n, (button, label) in enumerate(zip(buttons, labels, strict=True)):
            named = {**listen, "api_name": "answer"} if n == 0 else private
            js = f"(choice, shown, state) => [{json.dumps(label)}, shown, state]"
            button.click(lambda choice, question_id, s: show(answer(choice, question_id, s)), [text, shown_question, state],
                         js=js, **named)
        undo_button.click(lambda s: show(undo(s)), [state], api_name="undo", **listen)
        finish_button.click(lambda s: show(finish(s)), [state], api_name="finish", **listen)
        # /checkin answers the offer for API callers (through a button never shown); the page has its yes and no buttons.
        gr.Button(visible=False).click(lambda take, s: show(check_in(take is True, s)), [take_checkin, state],
                                       api_name="checkin", **listen)
        text.submit(lambda t, question_id, s: show(say(t, question_id, s), clear_text=True), [text, shown_question, state],
                    api_name="say", **listen)
        saved.change(None, saved, None, js=FORGET_IN_BROWSER, queue=False)
    return blocks


def poll_gently(blocks: gr.Blocks) -> gr.Blocks:
    """``blocks`` with its queue looking for work every :data:`QUEUE_POLL` seconds (and for progress
    every :data:`PROGRESS_POLL`) instead of Gradio's every millisecond.

    Gradio offers no setting for these; they are attributes of its queue, so a Gradio that renames
    them is refused here rather than silently polling at full rate again.
    """
    queue = blocks._queue
    for name in ("sleep_when_free", "progress_update_sleep_when_free"):
        if not isinstance(getattr(queue, name, None), float):
            raise RuntimeError(f"this Gradio's queue has no {name!r}: update prefchat.ui.chat.poll_gently")
    queue.sleep_when_free, queue.progress_update_sleep_when_free = QUEUE_POLL, PROGRESS_POLL
    return blocks


def mount_chat(app: FastAPI, assistant: Assistant, path: str = "/", resume_key: bytes | None = None,
               **kwargs) -> FastAPI:
    """Mount the chat of :func:`build_chat` on ``app`` at ``path``, with prefchat's theme and CSS
    (``resume_key``: see :func:`build_chat`).

    ``kwargs`` go to :func:`gradio.mount_gradio_app` (e.g. ``root_path`` behind a proxy).
    Mount at ``"/"`` last: it answers every path no earlier route took. Gradio's run history is
    always off: it would keep every answer, summary and recommendation in the visitor's
    localStorage, beyond the reach of "forget me" (and Gradio then deletes what it kept before).
    """
    blocks = poll_gently(build_chat(assistant, resume_key=resume_key).queue(default_concurrency_limit=CONCURRENCY,
                                                                                 max_size=QUEUE_SIZE))
    options = {"theme": THEME, "css": CSS, "js": PAGE_SCRIPT, "footer_links": ["api"], "show_error": False, **kwargs,
               "run_history": False}
    return gr.mount_gradio_app(app, blocks, path, **options)
