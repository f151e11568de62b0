"""Everything prefchat says to a person, in one place a product writer can own.

Only words live here: which reply is given when is the assistant's business
(:mod:`~prefchat.assistant.session`, :mod:`~prefchat.assistant.replies`), and how it is laid out
(Markdown, buttons) the chat's (:mod:`prefchat.ui.chat`). Keep replies short, say what happened,
and offer a way forward.
"""

from __future__ import annotations

from ..elicitation import ConvergenceError
from ..reward.featurize import EmbeddingError
from ..storage import NotFound
from .errors import NoProfile, SessionClosed, WrongPack

# -- onboarding ----------------------------------------------------------------------------------

OPTION_LABELS = ("A", "B", "C", "D", "E", "F")
"""The labels of a question's cards, and of the buttons that pick them (valid typed answers too)."""
BOTH_BUTTON, NEITHER_BUTTON, NONE_BUTTON = "Both fine", "Don't know either", "None of these"
"""A pair's "both are fine" and "don't know either"; a k-way question's "none of these"."""
UNDO_BUTTON, FINISH_BUTTON, START_OVER_BUTTON, SEND_BUTTON = "Undo last answer", "Finish now", "Start over", "Send"
START_OVER_ASK = "Start over from the first question? What you answered so far stays with your old session."
START_OVER_YES, START_OVER_NO = "Yes, start over", "No, carry on"
START_OVER_KEPT = "Fine, let's carry on where we were."
UNDO_SAID = "Undo"
"""What the transcript shows the user said when they pressed the undo button."""
SECONDS_PER_QUESTION = 6
"""Time to decide and click, besides reading the cards."""
READING_WPM = 238
"""Words a minute an adult reads silently (Brysbaert 2019: 238 for non-fiction in English)."""
ASK = {"prefer": "Which do you prefer", "watch": "Which would you pick"}
"""The question of each session objective (see :data:`~prefchat.reward.pack.OBJECTIVES`)."""
ASK_GROUPED = {"prefer": "Which answer do you prefer, A or B?", "watch": "Which would you pick, A or B?"}
"""The question under a shared prompt."""


def read_all(n_words: int) -> str:
    """Under a card's opening, to show the rest (:func:`~prefchat.assistant.cards.card_preview`)."""
    return f"Read all · {n_words} words"


def ask_of(n_options: int, grouped: bool) -> str:
    """The question of ``n_options`` cards (more than two): "Which of these 4 answers would you pick?"."""
    noun = " answers" if grouped else ""
    return f"Which of these {n_options}{noun} would you pick?"
PICK = {"prefer": "pick the one you prefer", "watch": "pick the one you would rather have ('don't know either' is fine)"}
ONBOARDING_HINT = "Or type your answer: A, B, both, skip… (or 'undo', 'done')"


def chat_hint(example: str) -> str:
    """The chat box's placeholder after onboarding; ``example`` a correction the pack can act on
    (:func:`~prefchat.assistant.corrections.example_correction`), or "" for none."""
    said = f"'{example}', " if example else ""
    return f"Tell me more: {said}'why ‹title›?', 'recommend', 'start over'"


LEARNED = "Here is what I learned about you."
TOP_PICKS = "My top picks for you"
SHOWCASE = "On questions you have not seen, I would answer you like this"
CROWD_PICK = "Most people would get this one instead:"


def showcase_why(why: str) -> str:
    """Under the response picked for the user on a held-out prompt."""
    return f"Why this one: {why}."


def invitation(example: str) -> str:
    """Under the results: how to correct them, with ``example`` a correction the pack can act on
    (:func:`~prefchat.assistant.corrections.example_correction`), or "" for none."""
    said = f", e.g. *{example}*," if example else ""
    return (f"Not quite right? Tell me in your own words{said} and I'll take it into account at once. "
            "You can also ask *why ‹title›?*, say *more like ‹title›* or *start over*.")


TOO_LONG = (
    "That message is {n:,} characters long, more than I read ({limit:,}). "
    "Please say it in fewer words; nothing was stored."
)


def reading_seconds(n_questions: int, words_per_question: float = 0) -> float:
    r"""Seconds ``n_questions`` questions take, reading their cards included.

    .. math:: t = n \left(t_\text{click} + \frac{60\, w}{\text{WPM}}\right)

    with :math:`w` the words a question shows (:attr:`~prefchat.assistant.turns.QuestionTurn.words`).
    """
    return n_questions * (SECONDS_PER_QUESTION + 60 * words_per_question / READING_WPM)


def duration(n_questions: int, words_per_question: int = 0) -> str:
    """How long ``n_questions`` questions take, in words ("about a minute"): :func:`reading_seconds`."""
    minutes = max(1, round(reading_seconds(n_questions, words_per_question) / 60))
    return "about a minute" if minutes == 1 else f"about {minutes} minutes"


def greeting(n_questions: int, objective: str, words_per_question: int = 0) -> str:
    quick = "quick " if words_per_question * 60 / READING_WPM < SECONDS_PER_QUESTION else ""
    return (
        f"Hi! I'll ask about {n_questions} {quick}questions, {duration(n_questions, words_per_question)}: "
        f"{PICK[objective]}. Then I'll tell you what I learned about you and what I would pick for you."
    )


def welcome_back(position: int) -> str:
    return f"Welcome back! Let's carry on where we left off, at question {position}."


def elapsed(seconds: float) -> str:
    """A time away in words, rounded as people say it: "3 weeks", "8 months", "2 years"."""
    days = seconds / 86400.0
    for unit, length in (("year", 365.25), ("month", 30.44), ("week", 7.0), ("day", 1.0)):
        if days >= length * (1.5 if unit == "year" else 1.0):
            n = round(days / length)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "a little while"


def checkin_offer(seconds: float, n_questions: int) -> str:
    """What a returning user is greeted with, ``seconds`` after their profile was last checked."""
    count = {1: "one quick question", 2: "two quick questions", 3: "three quick questions"}.get(
        n_questions, f"{n_questions} quick questions")
    return f"It's been {elapsed(seconds)}: {count} to check your picks still fit?"


CHECKIN_YES, CHECKIN_NO = "Sure, ask away", "Not now"
CHECKIN_KEPT = "Your answers fit what I knew about you: your picks still stand."
CHECKIN_MOVED = "Your answers suggest your taste has moved, so I lean on them more than on what you told me before."


def lately(more: list[str], less: list[str]) -> str:
    """The summary's line on what a check-in moved ("Lately: more documentaries, less horror."); "" when nothing did."""
    parts = [f"more {_listed(more)}"] if more else []
    parts += [f"less {_listed(less)}"] if less else []
    return f"Lately: {', '.join(parts)}." if parts else ""


def progress(position: int, expected_total: int) -> str:
    return f"Question {position} of about {expected_total}"


# -- when something goes wrong -------------------------------------------------------------------

# Most specific first: NoProfile and NotFound are both LookupErrors.
FRIENDLY: tuple[tuple[type[BaseException], str], ...] = (
    (SessionClosed, "This onboarding is already over. Say 'start over' to answer the questions again."),
    (NoProfile, "We have not finished the questions yet, so I have nothing to go on. Say 'start over' to begin."),
    (WrongPack, "That session belongs to another catalog. Say 'start over' to begin a new one."),
    (NotFound, "I could not find your session any more. Say 'start over' to begin again."),
    (ConvergenceError, "Sorry, I could not make sense of these answers. Try 'undo', or 'start over'."),
    (EmbeddingError, "Sorry, my language model is not available right now: buttons and simple commands still work."),
)
"""What the user is told when the assistant refuses, by the kind of refusal."""
REFUSED = "Sorry, I could not do that: {error}"
FAULT = "Sorry, something went wrong on my side. Please try again, or say 'start over'."

# -- the summary ---------------------------------------------------------------------------------

ENJOYS, NOT_KEEN = "Enjoys", "Not keen on"
NO_PREFERENCES = "No strong preferences yet."
DISCOVERY = "loved by someone you follow, outside your usual picks"
"""The reason of the discovery slot's item: never which friend, nor anything they answered."""


CONFIDENCE = {
    "high": "I'm confident in this: your answers ({answers}) fit it far better than chance would.",
    "medium": "A tentative picture: your answers ({answers}) lean this way, though chance could still explain them.",
    "low": "Only a first guess: so far your answers ({answers}) could as well be chance.",
    None: "Based on your answers ({answers}).",
}
"""The summary's last sentence, by its confidence level (None: a pack that does not measure it):
how well the answers were foreseen, never how many there are (:mod:`~prefchat.elicitation.confidence`)."""
NO_ANSWERS = "Only a first guess: you have not answered any questions yet."


def summary_text(liked: list[str], disliked: list[str], level: str | None, n_answers: int, n_skipped: int,
                 stated: list[tuple[str, bool]], tastes: list[str] | None = None) -> str:
    """The summary, e.g. "Enjoys: war, documentary. Not keen on: horror. A tentative picture: your
    answers (10 answers, 1 skipped) lean this way, though chance could still explain them. Stated
    by you: enjoys war; not keen on horror."; ``level`` a key of :data:`CONFIDENCE`, ``stated``
    (descriptor, liked) pairs, so that what the user said reads with its direction; ``tastes``: the
    names of a user's several tastes, largest first ("Your answers show 2 tastes: a horror side and a
    comedy side."), said where there are two or more."""
    sentences = []
    liked, disliked = [spoken(d) for d in liked], [spoken(d) for d in disliked]
    if liked:
        sentences.append(f"{ENJOYS}: {', '.join(liked)}.")
    if disliked:
        sentences.append(f"{NOT_KEEN}: {', '.join(disliked)}.")
    if not sentences:
        sentences.append(NO_PREFERENCES)
    if tastes and len(tastes) > 1:
        sentences.append(f"Your answers show {len(tastes)} tastes: {_listed([f'a {spoken(t)} side' for t in tastes])}.")
    answers = f"{n_answers} answer{'' if n_answers == 1 else 's'}" + (f", {n_skipped} skipped" if n_skipped else "")
    sentences.append(CONFIDENCE[level].format(answers=answers) if n_answers else NO_ANSWERS)
    if stated:
        said = [f"{'enjoys' if good else 'not keen on'} {spoken(descriptor)}" for descriptor, good in stated]
        sentences.append(f"Stated by you: {'; '.join(said)}.")
    return " ".join(sentences)


# -- the chat after onboarding -------------------------------------------------------------------

REASK = "Sorry, I didn't catch that. Type A or B, 'both' if both are fine, or 'skip' if you don't know either."


def reask_pick(n_options: int) -> str:
    """Free text that is no answer to "which of these ``n_options`` would you pick?"."""
    return f"Sorry, I didn't catch that. Type a number from 1 to {n_options}, or 'none of these' if you know none."
HELP = (
    "I can: show your recommendations ('recommend'); explain one ('why <title>?'); learn from "
    "'more like <title>', 'less like <title>', '👍 <title>' or '👎 <title>'; tell you what I know "
    "about you ('what do you know about me?'); take a correction ('actually I love musicals', "
    "'no horror please'); 'start over'; or 'forget me' (deletes everything about you)."
)
CORRECTION_NOT_UNDERSTOOD = "I could not tell which taste you mean: try 'I love <genre>' or 'no <genre> please'."
NOT_MET = "We have not met yet: say 'start over' to answer a few questions first."
RECOMMENDATIONS = "Here is what I would pick for you."
NOT_WIDELY_KNOWN = "I can't tell which of these are widely known, so your picks stay as they were."
""""Less obvious picks" on a catalog whose base rates are unknown (no ratings to count)."""
HEAD_WORDS = "the 100 most-rated titles"
"""The head of "less obvious picks", as the reply names it (:data:`~prefchat.elicitation.person.HEAD_ITEMS`)."""


def _how_many(n: int, k: int) -> str:
    """``n`` of ``k`` as it opens "… of your top k": "none", "all", or the number."""
    return "none" if n == 0 else "all" if n == k else str(n)


def less_obvious(outside: int, k: int, outside_before: int) -> str:
    """Less obvious picks: ``outside`` of the ``k`` shown now lie outside the head, ``outside_before`` before,
    e.g. "Here are less obvious picks: 7 of your top 10 are now outside the 100 most-rated titles (before: 1)."."""
    return (f"Here are less obvious picks: {_how_many(outside, k)} of your top {k} are now outside {HEAD_WORDS} "
            f"(before: {_how_many(outside_before, k)}).")


def no_less_obvious(inside: int, k: int, inside_before: int) -> str:
    """No good less-known picks: even the strongest validated setting leaves ``inside`` of ``k`` in the head."""
    return (f"I have no good less-known picks for you yet: {_how_many(inside, k)} of your top {k} are still among "
            f"{HEAD_WORDS} (before: {_how_many(inside_before, k)}), and going further would mean picks I don't "
            "expect you to like. A few more answers ('start over') or a title you love ('more like ‹title›') would help.")


FORGET_ASK = "This deletes everything I know about you, for good. Delete it? Say 'yes' to confirm, anything else to keep it."
FORGET_UNASKED = "Say 'forget me' first, then confirm."
FORGET_KEPT = "Nothing deleted: everything stays as it was."
FORGOTTEN = "Done: everything about you is deleted."
FORGET_YES, FORGET_NO = "Yes, forget me", "No, keep it"
"""The buttons under :data:`FORGET_ASK`; each sends its own words, which mean "yes" and anything else."""
FEEDBACK_WORDS = {"thumbs_up": "👍", "more_like": "More like", "thumbs_down": "👎", "less_like": "Less like"}


def not_found(name: str) -> str:
    """``name`` matches no item of the catalog."""
    return f"I could not find {name!r} in the catalog."


PICKS_MOVED = "Your picks are updated."
PICKS_KEPT = "Your picks stay as they were: this did not outweigh the rest of what I know about you."


def corrected(summary_text: str, change: str) -> str:
    """A correction was stored; the new summary follows, then what it did to the picks (:func:`picks_changed`,
    :func:`picks_reordered` or :func:`picks_kept`)."""
    return f"Thanks, noted. {summary_text} {change}"


def _share(n: int, k: int) -> str:
    """``n`` of ``k`` picks in words: "none", "2 of 5", "all 5"."""
    return "none" if n == 0 else f"all {k}" if n == k else f"{n} of {k}"


def _counts(counts: list[tuple[str, int, int]], k: int) -> str:
    """How many picks carry each descriptor said, before and now: "emoji: 2 of 5 before, none now"."""
    return "; ".join(f"{spoken(descriptor)}: {_share(before, k)} before, {_share(after, k)} now" for descriptor, before, after in counts)


def picks_changed(n_new: int, k: int, counts: list[tuple[str, int, int]]) -> str:
    """``n_new`` of the ``k`` picks shown are new, e.g. "3 of your top 5 changed (emoji: 2 of 5
    before, none now)."; ``counts`` holds (descriptor, picks carrying it before, after) of what
    the user said that the pack can count."""
    changed = f"All of your top {k} changed" if n_new == k else f"{n_new} of your top {k} changed"
    return changed + (f" ({_counts(counts, k)})." if counts else ".")


def picks_reordered(k: int, counts: list[tuple[str, int, int]]) -> str:
    """The same ``k`` picks, in a new order."""
    return f"Your top {k} are the same {k}, in a new order" + (f" ({_counts(counts, k)})." if counts else ".")


def picks_kept(k: int, repeated: bool, fit: list[tuple[str, int]], unfit: list[str], guessed: list[str]) -> str:
    """The ``k`` picks did not change, and why: the user had said so already (``repeated``); they
    already fit what was said (``fit``: descriptor, picks carrying it); nothing else in the catalog
    fits ``unfit`` better; or the pack cannot count ``guessed`` in an item, only guess it from its
    embedding, and the guess did not outweigh the answers."""
    reasons = []
    if repeated:
        reasons.append("you had told me so already")
    if fit:
        reasons.append("they already fit what you said (" + "; ".join(f"{spoken(d)}: {_share(n, k)}" for d, n in fit) + ")")
    if unfit:
        reasons.append(f"nothing else in the catalog fits {' or '.join(map(spoken, unfit))} better")
    if guessed:
        reasons.append(f"I cannot count {' or '.join(map(spoken, guessed))}, only guess it from what an item is about, "
                       "and that did not outweigh your answers")
    return f"Your top {k} stay as they were: {'; '.join(reasons)}."


SPOKEN = {"uses emoji": "emoji"}
"""Descriptors whose vocabulary name reads badly after "Enjoys:", "Not keen on:" or "you said no to"."""
NO_PERSONAL_REASON = "no reason I can point to in what you told me yet"
POPULAR_ALONE = {"popular": "popular with most people", "well rated": "well rated by most people"}
"""A population reason said alone (then followed by :data:`TELL_ME`)."""
TELL_ME = "; tell me what you like and I'll say what fits you"


def spoken(descriptor: str) -> str:
    """A descriptor as a sentence says it: "uses emoji" -> "emoji"; most read as they are."""
    return SPOKEN.get(descriptor, descriptor)


def _listed(words: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


MAX_PASSED = 2
"""Most cards passed over that a reason names: "you picked Alien over Heat and 2 others"."""


def picked_over(winner: str | None, losers: list[str | None]) -> str:
    """One answer in words: "you picked Alien over Notting Hill"; feedback, compared with the average
    item (named None), reads "you liked Alien" or "you were not keen on Alien"."""
    if losers == [None]:
        return f"you liked {winner}"
    if winner is None:
        return f"you were not keen on {losers[0]}"
    if len(losers) > MAX_PASSED:
        return f"you picked {winner} over {losers[0]} and {len(losers) - 1} others"
    return f"you picked {winner} over {_listed([str(name) for name in losers])}"


def pick_reason(cited: list[tuple[str | None, list[str | None]]], said: list[str], said_no: list[str],
                enjoys: list[str], popular: str | None, against: list[str], side: str | None = None) -> str:
    """Why a pick is there, by what the user did and said, e.g. "because you picked Alien over
    Notting Hill and you said no to horror; popular too (though you are not keen on war)".
    ``cited``: the answers (the card picked, those passed over: :func:`picked_over`); ``said`` and
    ``said_no``: what the user stated a like and a dislike of; ``enjoys``: what their summary says
    they enjoy. A population word (``popular``: "popular", "well rated") is added to a personal
    reason, or said alone, honestly; ``against``: what the pick has that the user is not keen on;
    ``side``: for a user of several tastes, the one the pick serves ("for your horror side: because ...")."""
    if side is not None:
        return f"for your {spoken(side)} side: " + pick_reason(cited, said, said_no, enjoys, popular, against)
    parts = [picked_over(winner, losers) for winner, losers in cited]
    if said:
        parts.append(f"you said you enjoy {_listed(said)}")
    if enjoys:
        parts.append(f"you enjoy {_listed(enjoys)}")
    if said_no:
        parts.append(f"you said no to {_listed(said_no)}")
    though = f" (though you are not keen on {_listed(against)})" if against else ""
    if not parts:
        return (POPULAR_ALONE[popular] if popular else NO_PERSONAL_REASON) + though + TELL_ME
    return f"because {_listed(parts)}" + (f"; {popular} too" if popular else "") + though


def left_out_known(title: str) -> str:
    """Why ``title`` is never among the picks: the user's answers show they know it."""
    return f"{title} is not among your picks: you already told me about it in your answers."


def left_out_said(title: str, said_no: list[str]) -> str:
    """Why ``title`` is never among the picks: it carries what the user said no to."""
    return f"{title} is not among your picks: you said no to {_listed(said_no)}."


def reason(title: str, why: str) -> str:
    """Why one item scores as it does."""
    return f"{title}: {why}."


def feedback_noted(kind: str, title: str, moved: bool = True) -> str:
    """Feedback of ``kind`` (a :data:`~prefchat.storage.FEEDBACK_KINDS`) on ``title`` was learned from."""
    return f"{FEEDBACK_WORDS[kind]} {title}: noted. {PICKS_MOVED if moved else PICKS_KEPT}"
