"""Reading an answer to "which do you prefer?" from what the user typed.

:func:`parse_answer` maps free text to one of the four answers of a pairwise question:

====== ==================================================================================
choice what the user may type (any case, with punctuation, whitespace or emoji around)
====== ==================================================================================
a      a, 1, one, first, 1st, left, former, "the first one", "option A", "I'd pick A"
b      b, 2, two, second, 2nd, right, latter, "the right one", "B please"
tie    both, either, same, tie, equal, "both are fine", "no preference", "doesn't matter"
skip   skip, pass, neither, "don't know", dunno, idk, "no idea", "not sure", "never heard of them"
====== ==================================================================================

"neither" is read as a skip: the user has no preference between the two to tell, and neither
item is asked about again. Anything else (including "a or b") is not an answer: ``None``, and
the conversation re-asks. Parsing never raises on a str.

:func:`parse_pick` reads the answer to "which of these k would you pick?": a position ("1" to
"k", "the third one", "C") or none of them ("none of these", "don't know").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..elicitation.posterior import CHOICES
from ..reward.manifest import MAX_QUESTION_SIZE

__all__ = ["normalise", "parse_answer", "parse_choice", "parse_pick"]

_PHRASES: dict[str, tuple[str, ...]] = {
    "a": ("a", "1", "one", "first", "1st", "left", "former"),
    "b": ("b", "2", "two", "second", "2nd", "right", "latter"),
    "tie": (
        "both", "either", "same", "tie", "equal", "equally", "either way", "no preference",
        "doesnt matter", "dont mind", "dont care", "cant decide", "hard to say", "whatever", "same to me",
    ),
    "skip": (
        "skip", "pass", "neither", "none", "dont know", "dont know either", "dont know them", "dunno", "idk",
        "no idea", "not sure", "unsure", "never heard of them", "never heard of either", "havent seen either",
        "dont know any", "no clue",
    ),
}
assert tuple(_PHRASES) == CHOICES  # a phrase list for each of the four answers
_ANSWERS = {phrase: choice for choice, phrases in _PHRASES.items() for phrase in phrases}

# Words that frame an answer without changing it: "I'd pick the first one, please".
_FILLERS = frozenset(
    (
        "i id ill im would will pick choose chose take prefer go with say guess think probably definitely "
        "maybe the one ones option choice answer please pls thanks is its are theyre they fine ok okay "
        "good better great hmm um uh well oh so like"
    ).split()
)

_NOT_WORD = re.compile(r"[^\w\s]+")


def normalise(text: str) -> str:
    """Casefolded words of ``text`` separated by single spaces; apostrophes dropped ("don't" -> "dont"),
    every other character that is not a letter, digit or space (punctuation, emoji) made a space."""
    folded = text.casefold().replace("'", "").replace("\u2019", "")
    return " ".join(_NOT_WORD.sub(" ", folded).replace("_", " ").split())


def parse_answer(text: str) -> str | None:
    """The answer ``text`` gives to a pairwise question, or None if it is not one.

    Parameters
    ----------
    text : str
        What the user typed, e.g. ``"The first one!"``, ``"dunno 🤷"``, ``"B"``.

    Returns
    -------
    {"a", "b", "tie", "skip"} or None

    Examples
    --------
    >>> parse_answer("  The FIRST one! ")
    'a'
    >>> parse_answer("both are fine")
    'tie'
    >>> parse_answer("I don't know either")
    'skip'
    >>> parse_answer("what is this?") is None
    True
    """
    if not isinstance(text, str):
        raise ValueError(f"an answer must be a str, got {text!r}")
    words = normalise(text)
    if words in _ANSWERS:
        return _ANSWERS[words]
    return _ANSWERS.get(" ".join(word for word in words.split() if word not in _FILLERS))


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
_NUMBERS = ("one", "two", "three", "four", "five", "six")
_POSITIONS = {
    word: k
    for k in range(MAX_QUESTION_SIZE)
    for word in (str(k + 1), _ORDINALS[k], _NUMBERS[k], f"{k + 1}{('st', 'nd', 'rd')[k] if k < 3 else 'th'}", "abcdef"[k])
}
_NONE = frozenset(_PHRASES["skip"]) | {"none of these", "none of them", "none of those", "dont know any of them"}


def parse_pick(text: str, n_options: int) -> int | str | None:
    """The answer ``text`` gives to "which of these ``n_options`` would you pick?".

    Returns
    -------
    int, the position of the option picked (0 for the first; "1" to "k", "the third one",
    "C"), ``"skip"`` for none of them ("none of these", "don't know any"), or None if it is
    not an answer (a position beyond the options included)

    Examples
    --------
    >>> parse_pick("the third one", 4)
    2
    >>> parse_pick("none of these", 4)
    'skip'
    >>> parse_pick("5", 4) is None
    True
    """
    if not isinstance(text, str):
        raise ValueError(f"an answer must be a str, got {text!r}")
    if not 2 <= n_options <= MAX_QUESTION_SIZE:
        raise ValueError(f"a question shows 2 to {MAX_QUESTION_SIZE} options, got {n_options}")
    words = normalise(text)
    for candidate in (words, " ".join(word for word in words.split() if word not in _FILLERS)):
        if candidate in _NONE:
            return "skip"
        position = _POSITIONS.get(candidate)
        if position is not None:
            return position if position < n_options else None
    return None


def parse_choice(text: str, item_ids: Sequence[str], by_id: bool = False) -> str | None:
    """What ``text`` answers to a question of ``item_ids``, as stored: a pair's "a", "b", "tie" or
    "skip" (:func:`parse_answer`); a k-way question's chosen item id or "skip"; None when it is no answer.

    Typed text is read as a person means it: a position first (:func:`parse_pick`: "1", "C", "the third
    one"), an item id only when it is no position, since ids can look like positions (MovieLens's
    Toy Story is "1": typing "1" picks the first option shown, whatever its id). ``by_id``: ``text`` is the
    id of the card picked in a k-way question (a client's ``item_id``): an option's id or no answer, never a
    position.

    >>> parse_choice("1", ["2", "5", "1", "3"])
    '2'
    >>> parse_choice("1", ["2", "5", "1", "3"], by_id=True)
    '1'
    """
    if by_id:  # a pair is answered by its buttons' choices
        return text if len(item_ids) > 2 and text in item_ids else None
    if len(item_ids) == 2:
        return parse_answer(text)
    pick = parse_pick(text, len(item_ids))
    if pick is None and text.strip() in item_ids:
        return text.strip()
    return item_ids[pick] if isinstance(pick, int) else pick
