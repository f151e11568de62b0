"""JSON shapes of the REST API (:mod:`prefchat.ui.rest`): pydantic models, and the assistant's turns in them.

Requests are strict (unknown fields are refused) and bounded (:data:`MAX_TEXT`,
:data:`MAX_CANDIDATES`, :data:`MAX_CANDIDATE_TEXT`, :data:`MAX_K`), so that a host's bad
input is a 422 naming the field rather than work for the server. Responses are built from the
assistant's frozen turns with :func:`turn_out`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..assistant.friends import MAX_FRIENDS, friend_weights
from ..assistant.recommender import Ranked
from ..assistant.summary import Summary
from ..assistant.turns import QuestionTurn, ReaskTurn, ResultTurn
from ..reward.pack import Pack
from ..storage import ITEM_ID_MAX, PAIRWISE_CHOICES, USER_ID_PATTERN, ProfileRecord, check_user_id

MAX_TEXT = 2_000
"""Characters of a typed answer or a summary correction."""
MAX_CANDIDATES = 100
"""Texts one rank request may hold."""
MAX_CANDIDATE_TEXT = 10_000
"""Characters of one candidate text."""
MAX_K = 100
"""Most recommendations or ranked candidates returned at once."""
MAX_USER_ID = 128
"""Characters of a user id (the storage layer's limit, stated in the OpenAPI document)."""
MAX_QUESTION_ID = 2**31 - 1
"""Largest question id (a signed 32-bit integer, as the database stores it)."""

Choice = Literal["a", "b", "tie", "skip"]
assert PAIRWISE_CHOICES == get_args(Choice)  # the storage layer's answers, spelled once more for OpenAPI


def axis_names(pack: Pack) -> list[str]:
    """One name per base of the pack: the named learned axes, then the population coordinates."""
    learned = [axis.name for axis in sorted(pack.axes, key=lambda axis: axis.index)]
    return learned + list(pack.population_coordinates)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _user_id(value: str | None) -> str | None:
    """:func:`~prefchat.storage.check_user_id` for pydantic: its ValueError becomes a 422."""
    return None if value is None else check_user_id(value)


# --------------------------------------------------------------------------- requests


class SessionIn(_Request):
    """Start onboarding; without ``user_id`` (and no ``X-Prefchat-User`` header) an anonymous user is created."""

    user_id: str | None = Field(
        None, min_length=1, max_length=MAX_USER_ID, json_schema_extra={"pattern": USER_ID_PATTERN},
        description=f"The host's opaque user id: 1 to {MAX_USER_ID} characters, none of them a control, separator or "
                    "invisible format character (the pattern).",
    )

    friends: list[str] | None = Field(
        None, max_length=MAX_FRIENDS,
        description=f"The user's friends, by user id (at most {MAX_FRIENDS}; each checked as user_id is): a pack with a "
                    "social prior starts their recommendations from their friends' tastes. Ids neither a training user "
                    "of the pack nor a stored user are left out and counted in the X-Prefchat-Friends-Unknown header.",
    )

    _check_user = field_validator("user_id")(_user_id)

    @field_validator("friends")
    @classmethod
    def _check_friends(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(friend_weights(value))


class AnswerIn(_Request):
    """Exactly one of ``choice`` (a pair's button), ``item_id`` (the card picked in a question of
    more than two items) or ``text`` (what the user typed, parsed like the chat does)."""

    # "Exactly one" for OpenAPI: of the three, one and only one is a string (the others absent or null).
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": [field], "properties": {field: {"type": "string"}}} for field in ("choice", "item_id", "text")]})

    choice: Choice | None = Field(None, description="A pair's answer: a, b, tie (both are fine) or skip (don't know either).")
    item_id: str | None = Field(
        None, min_length=1, max_length=ITEM_ID_MAX,
        description="The item picked among a question's `items` (k-way questions); 'skip' for none of them.",
    )
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT,
                             description="Free text, e.g. 'the first one', '3', 'none of these'.")
    question_id: int = Field(
        ge=1, le=MAX_QUESTION_ID,
        description="The `question_id` of the question answered (from its turn), required: the answer is taken once "
                    "however often it is sent (a retry after a lost reply stores nothing again): a copy of an answer "
                    "already taken returns where the session stands now, and an answer to another question than the "
                    "current one is a 409 `conflict`.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> AnswerIn:
        if sum(value is not None for value in (self.choice, self.item_id, self.text)) != 1:
            raise ValueError("give exactly one of 'choice' (a, b, tie, skip), 'item_id' or 'text'")
        return self

    @property
    def answer(self) -> str:
        """What the assistant parses: the choice, the picked item's id, or the text."""
        answer = self.choice or self.item_id or self.text
        assert answer is not None  # exactly one is given
        return answer


class CorrectionIn(_Request):
    """A correction of the summary in words, e.g. "actually I love musicals"."""

    text: str = Field(min_length=1, max_length=MAX_TEXT)


class RankIn(_Request):
    """Texts outside the catalog (e.g. N drafts of a reply) to rank for the user, best first."""

    candidates: list[Annotated[str, Field(min_length=1, max_length=MAX_CANDIDATE_TEXT)]] = Field(
        min_length=1, max_length=MAX_CANDIDATES
    )
    k: int | None = Field(None, ge=1, le=MAX_K, description="Return the best k; default all of them.")


# --------------------------------------------------------------------------- responses


class _Response(BaseModel):
    """Built from the assistant's frozen objects, attribute by attribute (``model_validate(turn)``)."""

    model_config = ConfigDict(from_attributes=True)


class ItemOut(_Response):
    item_id: str
    title: str
    text: str
    tags: list[str]


class QuestionOut(_Response):
    """ "Which do you prefer?": answer with ``POST /sessions/{session_id}/answers``."""

    type: Literal["question"] = "question"
    session_id: str
    user_id: str
    position: int = Field(description="Counts answers from 1: '3 of about 10' is position 3.")
    expected_total: int
    progress: str
    prompt: str | None = Field(description="The prompt both items answer, when the pack groups items.")
    item_a: ItemOut
    item_b: ItemOut
    items: list[ItemOut] = Field(description="Every card shown, in order: item_a and item_b for a pair, k of them for "
                                             "'which of these k would you pick?' (answer with `item_id`).")
    question_id: int = Field(description="The stored question: send it with the answer to make the answer idempotent.")


class RankedOut(_Response):
    index: int = Field(description="Position in the catalog, or in the caller's candidate list.")
    item_id: str | None = Field(description="The catalog item id; null for a candidate text.")
    title: str
    score: float
    why: str = Field(description="What moved it up, e.g. 'because you picked Alien over Notting Hill': the answer that "
                                 "lifted it most, what the user stated that it meets, what it has that they are not "
                                 "keen on.")


class ResultOut(_Response):
    """Onboarding is over: the profile is stored."""

    type: Literal["result"] = "result"
    session_id: str
    user_id: str
    summary: str = Field(validation_alias="summary_text")
    recommendations: list[RankedOut]
    counts: dict[str, int] = Field(description="Answers by kind: a, b, tie, skip and feedback kinds.")
    moved: bool | None = Field(None, description=(
        "After a returning user's check-in: whether its answers contradicted the old profile (their taste "
        "moved, and the profile was widened) or fit it (kept); null after an onboarding."))


class ReaskOut(BaseModel):
    """The text was no answer; nothing was stored and ``question`` stands."""

    type: Literal["reask"] = "reask"
    session_id: str
    message: str
    question: QuestionOut


TurnOut = Annotated[QuestionOut | ResultOut | ReaskOut, Field(discriminator="type")]


def turn_out(turn: QuestionTurn | ResultTurn | ReaskTurn) -> QuestionOut | ResultOut | ReaskOut:
    """The response model of a turn."""
    if isinstance(turn, ReaskTurn):
        question = QuestionOut.model_validate(turn.question)
        return ReaskOut(session_id=question.session_id, message=turn.text, question=question)
    return (QuestionOut if isinstance(turn, QuestionTurn) else ResultOut).model_validate(turn)


class AxisOut(BaseModel):
    name: str
    mean: float
    sd: float


class ProfileOut(BaseModel):
    """The user's posterior N(mean, cov) over the pack's bases, one entry of ``axes`` per base."""

    user_id: str
    pack_name: str
    pack_version: str
    version: int = Field(description="1 on the first save, one more on each.")
    n_answers: int
    counts: dict[str, int]
    axes: list[AxisOut]
    cov: list[list[float]]
    updated_at: datetime

    @classmethod
    def of(cls, profile: ProfileRecord, names: list[str]) -> ProfileOut:
        sd = np.sqrt(np.diag(profile.cov))
        return cls(
            user_id=profile.user_id,
            pack_name=profile.pack_name,
            pack_version=profile.pack_version,
            version=profile.version,
            n_answers=profile.n_answers,
            counts=dict(profile.counts),
            axes=[AxisOut(name=n, mean=m, sd=s) for n, m, s in zip(names, profile.mean.tolist(), sd.tolist(), strict=True)],
            cov=profile.cov.tolist(),
            updated_at=profile.updated_at,
        )


class CheckInOut(BaseModel):
    """Whether a returning user is due a check-in, and what they are greeted with."""

    user_id: str
    due: bool = Field(description="True when the profile was last checked at least the pack's timescale ago.")
    message: str | None = Field(description="The greeting, e.g. \"It's been 8 months: three quick questions to check "
                                            "your picks still fit?\"; None when no check-in is due.")


class DescriptorOut(BaseModel):
    descriptor: str
    weight: float = Field(description="Positive: enjoys it; negative: not keen.")
    confidence: str = Field(description="low, medium, high, or 'stated' when the user said so.")


class SummaryOut(BaseModel):
    """The semantic summary: the text the user reads and the weights ranking uses."""

    user_id: str
    text: str
    descriptors: list[DescriptorOut]
    n_answers: int
    n_skipped: int
    confidence: str | None = Field(None, description=(
        "How well the answers were foreseen: low, medium or high (null where the pack does not measure it); "
        "from answer_fit, never from the number of answers."))
    answer_fit: float | None = Field(None, description=(
        "Nats by which the user's answers were easier to foresee than a random answerer's (the log Bayes "
        "factor of the pack's descriptor model against chance); the evidence behind confidence."))
    tastes: list[str] = Field(default_factory=list, description=(
        "The names of the user's several tastes, largest first, where their answers show more than one "
        "(each pick's reason names the one it serves); empty for one taste."))

    @classmethod
    def of(cls, user_id: str, summary: Summary) -> SummaryOut:
        return cls(
            user_id=user_id,
            text=summary.text,
            descriptors=[DescriptorOut(descriptor=w.descriptor, weight=w.weight, confidence=w.level) for w in summary.weights],
            n_answers=summary.n_answers,
            n_skipped=summary.n_skipped,
            confidence=summary.confidence,
            answer_fit=summary.answer_fit,
            tastes=list(summary.tastes),
        )


class RankingOut(BaseModel):
    user_id: str
    items: list[RankedOut]

    @classmethod
    def of(cls, user_id: str, ranked: list[Ranked]) -> RankingOut:
        return cls(user_id=user_id, items=[RankedOut.model_validate(r) for r in ranked])


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, machine-readable: not_found, invalid_request, session_closed, ...")
    message: str = Field(description="For people: names the offending value.")


class ErrorOut(BaseModel):
    """Every 4xx and 5xx of the API."""

    error: ErrorBody
