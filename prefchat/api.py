"""prefchat's Python API: onboard a user in about ten questions, then rank, explain and keep learning.

Example::

    from prefchat import Assistant
    from prefchat.api import QuestionTurn

    with Assistant.open(pack="default", db="sqlite:///prefchat.sqlite") as assistant:
        turn = assistant.start("alice")
        while isinstance(turn, QuestionTurn):              # "which do you prefer?"
            print(turn.progress, "|", turn.item_a.title, "or", turn.item_b.title)
            turn = assistant.answer(turn.session_id, "a")  # or "b", "both", "skip", "the second one"
        print(turn.summary_text)                           # "Enjoys: ... Confidence: ..."
        for pick in assistant.recommend("alice", k=3):
            print(pick.title, "-", pick.why)               # "<title> - because you picked ... over ..."
        print(assistant.say("alice", "actually I prefer short answers").text)
        assistant.forget("alice")                          # deletes everything stored about alice

Turns are plain frozen objects (:mod:`prefchat.assistant.turns`): :class:`QuestionTurn`,
:class:`ResultTurn`, :class:`ReplyTurn` and :class:`ReaskTurn` (free text that is no answer).
Every answer is committed when given; a session interrupted at any point resumes where it was
(:meth:`Assistant.resume`). :func:`migrate_profiles` carries stored profiles to a retrained pack.
"""

from .assistant.api import Assistant, open_pack
from .assistant.migration import MigrationReport, migrate_profiles
from .assistant.turns import ItemCard, QuestionTurn, ReaskTurn, ReplyTurn, ResultTurn, SessionOptions

__all__ = [
    "Assistant",
    "ItemCard",
    "MigrationReport",
    "QuestionTurn",
    "ReaskTurn",
    "ReplyTurn",
    "ResultTurn",
    "SessionOptions",
    "migrate_profiles",
    "open_pack",
]
