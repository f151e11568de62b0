"""How a question's card reads (:func:`card_view`): its title once, chips, and the opening of its text.

A newcomer reads every card of about ten questions, so a card shows the opening of its text,
at most :data:`PREVIEW_WORDS` words, and the rest only when asked ("Read all · 152 words"): the
opening of an answer shows its tone (warmth, formality, emoji, a list or prose), the word count
its length. A film's card shows its title as people say it ("Godfather, The (1972)" reads "The
Godfather"), its year and tags as chips, and no text when the text only restates them.
:attr:`~prefchat.assistant.turns.QuestionTurn.words`, behind the greeting's time estimate, counts
what a card shows first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..reward.data import opening
from ..reward.pack import Item
from . import wording
from .intents import strip_parenthetical

__all__ = ["NAME_WORDS", "PREVIEW_WORDS", "CardView", "Preview", "card_name", "card_preview", "card_view", "readable_title",
           "repeats_title"]

PREVIEW_WORDS = 12
"""Most words a card shows before "Read all"."""
NAME_WORDS = 6
"""Most words of an answer's opening that name its card in a reason (:func:`card_name`)."""

_WORD = re.compile(r"\S+")
_SENTENCE_END = (".", "!", "?", ":", ";")
_LIST_NUMBER = re.compile(r"\d+[.)]$")
_YEAR = re.compile(r"\s*\((?P<year>\d{4})\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.*?),\s*(?P<article>the|a|an)(?P<aside>\s*\([^()]*\))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Preview:
    """An item text split for a card: ``head`` shown first, ``rest`` on demand ("" when the head is all).

    When the cut falls inside a sentence, ``head`` ends with "…" and ``rest`` starts with it.
    ``n_words`` counts the whole text.
    """

    head: str
    rest: str
    n_words: int


def _balanced(markdown: str) -> bool:
    """Whether ``markdown`` closes every code fence, code span and bold run it opens."""
    fences = markdown.count("```")
    spans = markdown.replace("```", "").count("`")
    return fences % 2 == 0 and spans % 2 == 0 and markdown.count("**") % 2 == 0


def card_preview(text: str, limit: int = PREVIEW_WORDS) -> Preview:
    """``text`` split into a card's :class:`Preview`.

    The head is the longest run of whole sentences or lines of at most ``limit`` words, if it
    holds at least half of them; else the first ``limit`` words, cut inside a sentence. A cut
    never leaves a Markdown code fence, code span or bold run open: it moves back to a word where
    none is (and when there is none, the whole text is the head).
    """
    words = list(_WORD.finditer(text))
    if len(words) <= limit:
        return Preview(text, "", len(words))

    def ends_sentence(n: int) -> bool:  # after the n-th word (from 1), which is no list number ("1.")
        word = words[n - 1].group()
        return not _LIST_NUMBER.match(word) and (word.endswith(_SENTENCE_END) or "\n" in text[words[n - 1].end(): words[n].start()])

    whole = [n for n in range(limit, max(limit // 2, 1) - 1, -1) if ends_sentence(n)]
    for n in [*whole, *range(limit, 0, -1)]:
        head, inside = text[: words[n - 1].end()], not ends_sentence(n)
        if _balanced(head):
            rest = text[words[n].start():]
            return Preview(head + "…" if inside else head, "…" + rest if inside else rest, len(words))
    return Preview(text, "", len(words))


def readable_title(title: str) -> tuple[str, str | None]:
    """A title as people say it, and its year: "Godfather, The (1972)" -> ("The Godfather", "1972");
    "City of Lost Children, The (Cité des enfants perdus, La) (1995)" -> ("The City of Lost
    Children (Cité des enfants perdus, La)", "1995"); a title without either stays as it is."""
    year = _YEAR.search(title)
    name = title[: year.start()] if year else title
    moved = _TRAILING_ARTICLE.match(name)
    if moved:
        name = f"{moved['article']} {moved['rest']}{moved['aside'] or ''}"
    return name, year["year"] if year else None


def repeats_title(text: str, title: str) -> bool:
    """Whether ``text`` only begins by restating ``title`` (a film's "Heat (1995). Genres: ..."), so
    that the title and tags already say what it says."""
    return " ".join(text.split()).startswith(strip_parenthetical(title).rstrip(".?! "))


@dataclass(frozen=True)
class CardView:
    """What a card shows: ``title`` (None under a shared prompt, which says it), ``chips`` (the year,
    then the tags), and the opening of the text (None when the text only restates the title)."""

    title: str | None
    chips: tuple[str, ...]
    preview: Preview | None

    @property
    def words(self) -> list[str]:
        """The words shown before "Read all" is opened, its own line included."""
        shown = [self.title or "", *self.chips]
        if self.preview is not None:
            shown += [self.preview.head, wording.read_all(self.preview.n_words) if self.preview.rest else ""]
        return " ".join(shown).split()


def card_view(item: Item, grouped: bool) -> CardView:
    """The card of ``item``; ``grouped``: it answers a prompt shown above the cards (no title of its own)."""
    if grouped:
        return CardView(None, item.tags, card_preview(item.text))
    title, year = readable_title(item.title)
    preview = None if repeats_title(item.text, item.title) else card_preview(item.text)
    return CardView(title, ((year,) if year else ()) + item.tags, preview)


def card_name(item: Item, grouped: bool) -> str:
    """How a reason names a card the user answered, by what the card showed first: a film by its title
    as people say it ("Alien"); an answer under a shared prompt by its opening in plain words, quoted
    ("“Use the absorption method: one part…”", at most :data:`NAME_WORDS` words: :func:`~prefchat.reward.data.opening`)."""
    if grouped:
        return f"“{opening(item.text, NAME_WORDS)}”"
    return readable_title(item.title)[0]
