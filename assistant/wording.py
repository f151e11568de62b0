"""Everything the engine says to a person, in one place a product writer can own.

Only words live here: which reply is given when is the engine's business
(:mod:`~prefchat.assistant.session`, :mod:`~prefchat.assistant.replies`). Keep replies short,
say what happened, and offer a way forward.
"""

from __future__ import annotations

from .intents import CONFIRM_FORGET

REASK = "Sorry, I didn't catch that. Type A or B, 'both' if both are fine, or 'skip' if you don't know either."
HELP = (
    "I can: show your recommendations ('recommend'); explain one ('why <title>?'); learn from "
    "'more like <title>', 'less like <title>', '👍 <title>' or '👎 <title>'; tell you what I know "
    "about you ('what do you know about me?'); take a correction ('actually I love musicals', "
    "'no horror please'); 'start over'; or 'forget me' (deletes everything about you)."
)
CORRECTION_NOT_UNDERSTOOD = "I could not tell which taste you mean: try 'I love <genre>' or 'no <genre> please'."
NOT_MET = "We have not met yet: say 'start over' to answer a few questions first."
RECOMMENDATIONS = "Here is what I would pick for you."
FORGET_ASK = f"This deletes everything I know about you. Type '{CONFIRM_FORGET}' to confirm."
FORGET_UNASKED = "Say 'forget me' first, then confirm."
FORGOTTEN = "Done: everything about you is deleted."
FEEDBACK_WORDS = {"thumbs_up": "👍", "more_like": "More like", "thumbs_down": "👎", "less_like": "Less like"}


def not_found(name: str) -> str:
    """``name`` matches no item of the catalog."""
    return f"I could not find {name!r} in the catalog."


def corrected(summary_text: str) -> str:
    """A correction was stored; the new summary follows."""
    return f"Thanks, noted. {summary_text}"


def reason(title: str, why: str) -> str:
    """Why one item scores as it does."""
    return f"{title}: {why}."


def feedback_noted(kind: str, title: str) -> str:
    """Feedback of ``kind`` (a :data:`~prefchat.storage.FEEDBACK_KINDS`) on ``title`` was learned from."""
    return f"{FEEDBACK_WORDS[kind]} {title}: noted, your picks are updated."
