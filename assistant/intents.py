r"""What the user means in the chat, recognised without a language model.

Two stages, the first that decides wins:

1. **Patterns** (:data:`PATTERNS`): keyword regular expressions, tried in order. The intents
   about one item ("why Heat?", "more like Heat", "👍 Heat") need their item named, which only a
   pattern can locate in the message; it becomes :attr:`Intent.argument`. Matching takes time
   linear in the message's length (see :data:`PATTERNS`).
2. **Similarity** to example phrasings (:data:`EXAMPLES`) of the intents without an argument,
   embedded with the pack's sentence model: the message goes to the intent of its most similar
   example if that cosine similarity reaches ``threshold``,

   .. math:: \hat\jmath = \arg\max_j e(\text{message})^\top e(\text{example}_j), \qquad
             \text{accepted if } e(\text{message})^\top e(\text{example}_{\hat\jmath}) \ge \tau,

   with unit-norm embeddings :math:`e`. Otherwise the intent is ``help``.

Items are found by title with :func:`match_item` (exact, then substring, then :mod:`difflib`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EXAMPLES",
    "INTENTS",
    "PATTERNS",
    "Intent",
    "IntentRecognizer",
    "Rule",
    "is_question",
    "match_item",
    "nearest_example",
    "normalise_message",
    "strip_parenthetical",
    "title_key",
]

Embed = Callable[[Sequence[str]], np.ndarray]

INTENTS = (
    "why",
    "more_like",
    "less_like",
    "thumbs_up",
    "thumbs_down",
    "profile",
    "correct",
    "recommend",
    "less_obvious",
    "undo",
    "finish",
    "start_over",
    "forget",
    "confirm_forget",
    "help",
)
"""Every intent; those in :data:`ITEM_INTENTS` carry an item reference as their argument,
``correct`` carries the whole message."""

ITEM_INTENTS = ("why", "more_like", "less_like", "thumbs_up", "thumbs_down")

CONFIRM_FORGET = "yes, forget me"


@dataclass(frozen=True)
class Intent:
    """A recognised intent: its ``name`` (one of :data:`INTENTS`) and its ``argument``
    (the item as the user wrote it, the correction text, or "")."""

    name: str
    argument: str = ""

    def __post_init__(self):
        if self.name not in INTENTS:
            raise ValueError(f"intent {self.name!r} is not one of {INTENTS}")


def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression, re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """One keyword pattern of :data:`PATTERNS`, and where the item is in a message it matches.

    ``item`` is ``"after"`` (the item is the rest of the message after the match: "why Heat?"),
    ``"before"`` (the message up to the match: "Heat 👍"; the pattern is anchored at the end)
    or ``""`` (no item). An "after" pattern's last optional words, in the group ``optional``, are
    the item when nothing else follows ("why is" asks about "is").
    ``statement`` rules match only messages that are not questions.
    """

    name: str
    pattern: re.Pattern[str]
    item: str = ""
    statement: bool = False


_LIKE = r"(?:\w+\s+)?(?:like|similar\s+to)"
_CUE = r"(?:(?:really|actually|do|don'?t|do\s+not|absolutely|kind\s+of|quite)\s+)*"
_TASTE = r"(?:love|like|enjoy|adore|hate|dislike|can'?t\s+stand|prefer|(?:not\s+)?(?:into|a\s+fan\s+of|keen\s+on))"

# Matching time is linear in the message's length: a message is first cut to single spaces
# (:func:`normalise_message`), no pattern puts an unbounded repetition right after a lazy one
# (an item is cut out by :func:`_item` with string operations, not by a pattern), and "is it a
# question?" is one scan from the end (:func:`is_question`). Before, "a" + 45,000 spaces + "x"
# held the process for half a minute.
PATTERNS: tuple[Rule, ...] = (
    Rule("confirm_forget", _pattern(
        r"^\W*(?:yes|yeah|yep|y|sure|confirm(?:ed)?|do\s+it)"
        r"(?:\W+(?:please|forget\s+me|delete\s+(?:it|me|everything)|go\s+ahead|do\s+it|i'?m\s+sure))*\W*$"
    )),
    Rule("forget", _pattern(
        r"\b(?:forget\s+(?:about\s+)?me"
        r"|(?:delete|erase|remove)\s+(?:all\s+)?(?:of\s+)?(?:me|my\s+(?:data|account|profile)|everything))\b"
    )),
    Rule("start_over", _pattern(
        r"\b(?:start\s+(?:over|again|afresh)|restart|begin\s+again|from\s+scratch|redo\s+(?:the\s+)?questions)\b"
    )),
    # Before "less like", "correct" ("less obvious please") and "recommend" ("show me ..."): the exposure control.
    Rule("less_obvious", _pattern(
        r"\b(?:less\s+(?:obvious|popular|mainstream|known)|lesser[-\s]known|more\s+(?:obscure|niche|unusual)"
        r"|hidden\s+gems?|off\s+the\s+beaten\s+(?:path|track)|not\s+(?:so\s+|the\s+)?(?:obvious|mainstream)"
        r"|deep\s+cuts?)\b"
    )),
    Rule("undo", _pattern(r"^\W*(?:undo|go\s+back|back|change\s+my\s+(?:last\s+)?answer|oops)\W*$")),
    Rule("finish", _pattern(r"^\W*(?:finish|stop|done|enough|that'?s\s+enough|show\s+(?:me\s+)?(?:the\s+)?results)\W*$")),
    Rule("why", _pattern(
        r"^\W*why\b(?:\s+(?:did|do|would)\s+you\s+(?:recommend|suggest|pick|choose|show))?(?P<optional>\s+(?:is|was))?"
    ), item="after"),
    Rule("less_like", _pattern(r"\b(?:less|fewer|nothing|no\s+more)\s+" + _LIKE), item="after"),
    Rule("more_like", _pattern(r"\b(?:more|something|anything|others?|things)\s+" + _LIKE), item="after"),
    Rule("thumbs_down", _pattern(r"^\W*(?:👎|-1|thumbs?\s*down|downvote|dislike)(?P<optional>\s+(?:to|for|on))?"), item="after"),
    Rule("thumbs_down", _pattern(r"(?:👎|-1|:\s*thumbs?\s*down)\Z"), item="before"),
    Rule("thumbs_up", _pattern(r"^\W*(?:👍|\+1|thumbs?\s*up|upvote)(?P<optional>\s+(?:to|for|on))?"), item="after"),
    Rule("thumbs_up", _pattern(r"(?:👍|\+1|:\s*thumbs?\s*up)\Z"), item="before"),
    Rule("profile", _pattern(
        r"\b(?:what\s+do\s+you\s+know\s+about\s+me|what\s+have\s+you\s+learn(?:ed|t)"
        r"|my\s+(?:profile|summary|tastes?|preferences)|describe\s+me|about\s+me|what\s+do\s+i\s+like)\b"
    )),
    # A correction states a taste; "would I enjoy it?" asks.
    Rule("correct", _pattern(r"^\W*(?:actually|no|nope|wrong|correction|in\s+fact)\b"), statement=True),
    Rule("correct", _pattern(r"^.*?\bi(?:'m|\s+am)?\s+" + _CUE + _TASTE + r"\b"), statement=True),
    Rule("correct", _pattern(r"^.*?\b(?:no|not|never|less|more)\s+\w+(?:\s+\w+)?\s+please\b"), statement=True),
    Rule("recommend", _pattern(
        r"\b(?:recommend\w*|suggest\w*|what\s+(?:should|could)\s+i\s+\w+|show\s+me|my\s+(?:picks|list))\b"
    )),
)
"""The keyword rules in the order they are tried; the first that matches decides."""

_NON_WORD = re.compile(r"\W*")
_OPENING = re.compile(r"[\s:,-]*[\"'“]?")
_CLOSING = "\"'”"
_TRAILING = frozenset("?!.")


def normalise_message(text: str) -> str:
    """``text`` with every run of whitespace (line breaks too) cut to one space, and stripped."""
    return " ".join(text.split())


def is_question(text: str) -> bool:
    """Whether ``text`` ends in a question mark, maybe followed by other non-word characters.

    One scan from the end (of the reversed string), so linear in the length of ``text``.
    """
    tail = _NON_WORD.match(text[::-1])  # matches every string, if only the empty prefix
    return tail is not None and "?" in tail.group()


def _item(text: str) -> str:
    """An item reference as written: the quotes, a trailing "please" and ``?!.`` cut off."""
    opening = _OPENING.match(text)  # matches every string, if only the empty prefix
    text = text[opening.end() if opening else 0:]
    end = len(text)
    while end and (text[end - 1] in _TRAILING or text[end - 1].isspace()):
        end -= 1
    text = text[:end]
    if text.casefold().endswith("please") and len(text) > 6 and text[-7].isspace():
        text = text[:-6].rstrip().removesuffix(",")
    if text[-1:] in _CLOSING:
        text = text[:-1]
    return text.strip()


EXAMPLES: Mapping[str, tuple[str, ...]] = {
    "profile": (
        "what do you know about me",
        "tell me what you have learned about my taste",
        "summarise my preferences",
        "what kind of things do I like",
    ),
    "recommend": (
        "give me some recommendations",
        "what should I try next",
        "what would I enjoy",
        "show me what you picked for me",
        "any suggestions for me",
    ),
    "start_over": ("let's start over", "I want to answer the questions again", "reset my answers"),
    "forget": ("forget me", "delete all my data", "erase everything you know about me"),
    "help": ("what can you do", "help", "how does this work", "what are my options"),
}
"""Example phrasings of the intents that take no argument, for the similarity stage."""


def nearest_example(message: np.ndarray, examples: np.ndarray, threshold: float) -> int | None:
    r"""Row of the example most similar to the message, if similar enough.

    .. math:: \hat\jmath = \arg\max_j\, E_j^\top u, \qquad \text{None unless } E_{\hat\jmath}^\top u \ge \tau

    Parameters
    ----------
    message : (d,) unit-norm embedding u
    examples : (n_examples, d) unit-norm embeddings E
    threshold : float, :math:`\tau`
    """
    similarity = examples @ message
    best = int(np.argmax(similarity))
    return best if similarity[best] >= threshold else None


class IntentRecognizer:
    """Callable ``text -> Intent``: patterns first, then similarity to :data:`EXAMPLES`.

    Parameters
    ----------
    embed : callable ``list[str] -> (n, d)`` unit-norm array, optional
        The pack's sentence embedder; without it only the patterns are used. The examples are
        embedded on first use.
    threshold : float
        Least cosine similarity to an example for the similarity stage to decide.
    """

    def __init__(self, embed: Embed | None = None, threshold: float = 0.55):
        self.embed = embed
        self.threshold = threshold
        self._names = [name for name, phrasings in EXAMPLES.items() for _ in phrasings]
        self._examples: np.ndarray | None = None

    def __call__(self, text: str) -> Intent:
        if not isinstance(text, str):
            raise ValueError(f"a message must be a str, got {text!r}")
        text = normalise_message(text)
        question = is_question(text)
        for rule in PATTERNS:
            if rule.statement and question:
                continue
            found = rule.pattern.search(text)
            if not found:
                continue
            if rule.item == "after":
                item = _item(text[found.end():])
                if not item and "optional" in rule.pattern.groupindex and found["optional"]:
                    item = _item(text[found.start("optional"):])
            elif rule.item == "before":
                item = text[:found.start()].strip()
            else:
                return Intent(rule.name, text if rule.name == "correct" else "")
            if item:
                return Intent(rule.name, item)
        if self.embed is None or not text:
            return Intent("help")
        if self._examples is None:
            self._examples = np.asarray(self.embed([p for phrasings in EXAMPLES.values() for p in phrasings]))
        best = nearest_example(np.asarray(self.embed([text]))[0], self._examples, self.threshold)
        return Intent("help" if best is None else self._names[best])


_PARENTHETICAL = re.compile(r"\s*\([^()]*\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.*),\s*(?P<article>the|a|an)$")


def strip_parenthetical(title: str) -> str:
    """The title without a trailing parenthetical: "Heat (1995)" -> "Heat", "Rice? (answer 2)" -> "Rice?"."""
    return _PARENTHETICAL.sub("", title)


def title_key(title: str) -> str:
    """A title as people say it: casefolded, a trailing "(1995)" dropped, "Matrix, The" -> "the matrix"."""
    key = strip_parenthetical(title.casefold()).strip()
    return _TRAILING_ARTICLE.sub(r"\g<article> \g<rest>", key)


def match_item(query: str, titles: Sequence[str], cutoff: float = 0.6) -> int | None:
    """Index of the title the user meant by ``query``, or None.

    Titles and query are compared by :func:`title_key`, in order: a title equal to the query;
    among titles containing the query, the one closest to it (:class:`difflib.SequenceMatcher`
    ratio, the first on ties); else the closest title with ratio at least ``cutoff``
    (:func:`difflib.get_close_matches`).
    """
    query = title_key(query.strip(" \t\"'“”?!."))
    if not query:
        return None
    keys = [title_key(title) for title in titles]
    if query in keys:
        return keys.index(query)
    containing = [i for i, key in enumerate(keys) if query in key]
    if containing:
        return max(containing, key=lambda i: (difflib.SequenceMatcher(None, query, keys[i]).ratio(), -i))
    close = difflib.get_close_matches(query, keys, n=1, cutoff=cutoff)
    return keys.index(close[0]) if close else None
