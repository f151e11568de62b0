"""The embedded "assistant styles" demo domain: prompts, candidate responses, annotations.

Each file ``prompts/NN-slug.json`` holds one prompt and at least :data:`MIN_RESPONSES`
candidate answers to it::

    {"prompt_id": "...", "topic": "...", "prompt": "...",
     "responses": [{"response_id": "...", "text": "...",
                    "attributes": {"length": 0.8, "formality": 0.3, ...}}, ...]}

``attributes`` annotates every response on the nine style :data:`DIMENSIONS`, each in
[0, 1]. The annotations exist only to *simulate* users (:mod:`prefchat.default.population`);
they are never model features: :func:`~prefchat.default.population.write_training_csvs` writes
texts, never annotations.

Prompts are split deterministically: sorted by ``prompt_id``, every
:data:`HELDOUT_EVERY`-th prompt (the 6th, 12th, ...; 6 of 36) is held out for best-of-N
evaluation and never appears in training data; the rest are onboarding/training prompts.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..reward.data import opening

DIMENSIONS: tuple[str, ...] = (
    "length",
    "formality",
    "humour",
    "structure",
    "examples",
    "technical_depth",
    "warmth",
    "hedging",
    "emoji",
)
"""The annotated style dimensions, in the column order of :attr:`Domain.attributes`."""

MIN_RESPONSES = 6
"""Fewest candidate responses a prompt file may hold."""

HELDOUT_EVERY = 6
"""Every ``HELDOUT_EVERY``-th prompt (by sorted ``prompt_id``) is held out."""

PROMPTS_DIR = Path(__file__).parent / "prompts"

TITLE_WIDTH = 60
"""Most characters of a prompt in a response's title (:func:`response_title`)."""
HEADLINE_WORDS = 6
"""Most words of a response's opening in its title."""


class PromptFileError(ValueError):
    """A prompt file is unreadable or breaks the schema; the message names file and field."""

    def __init__(self, source: str, field: str, problem: str):
        super().__init__(f"{source}: {field}: {problem}")
        self.source = source
        self.field = field


@dataclass(frozen=True)
class Prompt:
    """One prompt of the domain; its responses are ``Domain.responses_of(index)``."""

    prompt_id: str
    topic: str
    text: str
    source: str
    heldout: bool


@dataclass(frozen=True, eq=False)
class Domain:
    """Prompts and their candidate responses, responses stored contiguously by prompt.

    Attributes
    ----------
    prompts : tuple of Prompt, length n_prompts, sorted by ``prompt_id``
    response_ids, texts : tuple of str, length n_responses
    group : (n_responses,) int, index of the prompt each response answers
    attributes : (n_responses, len(DIMENSIONS)) float64 in [0, 1], simulation only
    """

    prompts: tuple[Prompt, ...]
    response_ids: tuple[str, ...]
    texts: tuple[str, ...]
    group: np.ndarray
    attributes: np.ndarray

    @property
    def n_prompts(self) -> int:
        return len(self.prompts)

    @property
    def n_responses(self) -> int:
        return len(self.response_ids)

    @property
    def training_prompts(self) -> np.ndarray:
        """Indices of the onboarding/training prompts."""
        return np.flatnonzero([not p.heldout for p in self.prompts])

    @property
    def heldout_prompts(self) -> np.ndarray:
        """Indices of the held-out prompts (best-of-N evaluation only)."""
        return np.flatnonzero([p.heldout for p in self.prompts])

    def responses_of(self, prompt: int) -> np.ndarray:
        """Indices of the responses to prompt number ``prompt``, in file order."""
        return np.flatnonzero(self.group == prompt)

    def index_of(self, response_id: str) -> int:
        try:
            return self._index[response_id]
        except KeyError:
            raise KeyError(f"response {response_id!r} is not in the domain") from None

    def indices_of(self, response_ids) -> np.ndarray:
        """Indices of a sequence of response ids."""
        return np.array([self.index_of(r) for r in response_ids], dtype=np.intp)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {rid: i for i, rid in enumerate(self.response_ids)}


def _require(record: dict, key: str, kind: type, source: str, where: str) -> Any:
    if key not in record:
        raise PromptFileError(source, f"{where}{key}", "missing")
    value = record[key]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise PromptFileError(source, f"{where}{key}", f"expected a non-empty {kind.__name__}, got {value!r}")
    return value


def _parse_attributes(raw: dict, source: str, where: str) -> list[float]:
    unknown = sorted(set(raw) - set(DIMENSIONS))
    if unknown:
        raise PromptFileError(source, f"{where}.{unknown[0]}", f"unknown dimension; expected one of {DIMENSIONS}")
    values = []
    for dim in DIMENSIONS:
        if dim not in raw:
            raise PromptFileError(source, f"{where}.{dim}", "missing")
        value = raw[dim]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise PromptFileError(source, f"{where}.{dim}", f"expected a number in [0, 1], got {value!r}")
        values.append(float(value))
    return values


def parse_prompt_file(path: Path) -> tuple[dict, list[dict]]:
    """Read and validate one prompt file.

    Returns
    -------
    prompt : dict with ``prompt_id``, ``topic``, ``text``, ``source``
    responses : list of dicts with ``response_id``, ``text``, ``attributes`` (list of floats
        in :data:`DIMENSIONS` order)

    Raises
    ------
    PromptFileError
        Naming the file and the offending field.
    """
    source = path.name
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PromptFileError(source, "<file>", f"not valid JSON: {error}") from None
    if not isinstance(record, dict):
        raise PromptFileError(source, "<file>", "expected a JSON object")
    prompt = {
        "prompt_id": _require(record, "prompt_id", str, source, ""),
        "topic": _require(record, "topic", str, source, ""),
        "text": _require(record, "prompt", str, source, ""),
        "source": source,
    }
    raw_responses = _require(record, "responses", list, source, "")
    if len(raw_responses) < MIN_RESPONSES:
        raise PromptFileError(source, "responses", f"{len(raw_responses)} responses, need at least {MIN_RESPONSES}")
    responses = []
    for k, raw in enumerate(raw_responses):
        where = f"responses[{k}]."
        if not isinstance(raw, dict):
            raise PromptFileError(source, f"responses[{k}]", f"expected an object, got {raw!r}")
        attributes = _require(raw, "attributes", dict, source, where)
        responses.append(
            {
                "response_id": _require(raw, "response_id", str, source, where),
                "text": _require(raw, "text", str, source, where),
                "attributes": _parse_attributes(attributes, source, f"{where}attributes"),
            }
        )
    return prompt, responses


def load_domain(directory: str | Path | None = None) -> Domain:
    """Load and validate every ``*.json`` prompt file of ``directory`` (default: the embedded one).

    Raises
    ------
    PromptFileError
        If a file breaks the schema, or a ``prompt_id`` or ``response_id`` is used twice
        (the message names both files), or the directory holds no prompt file.
    """
    directory = PROMPTS_DIR if directory is None else Path(directory)
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise PromptFileError(str(directory), "<directory>", "no *.json prompt files")
    parsed = sorted((parse_prompt_file(p) for p in paths), key=lambda pr: pr[0]["prompt_id"])

    seen_prompts: dict[str, str] = {}
    seen_responses: dict[str, str] = {}
    prompts, response_ids, texts, group, attributes = [], [], [], [], []
    for index, (prompt, responses) in enumerate(parsed):
        source = prompt["source"]
        if prompt["prompt_id"] in seen_prompts:
            raise PromptFileError(
                source, "prompt_id", f"{prompt['prompt_id']!r} is also used by {seen_prompts[prompt['prompt_id']]}"
            )
        seen_prompts[prompt["prompt_id"]] = source
        prompts.append(Prompt(**prompt, heldout=index % HELDOUT_EVERY == HELDOUT_EVERY - 1))
        for k, response in enumerate(responses):
            rid = response["response_id"]
            if rid in seen_responses:
                raise PromptFileError(
                    source, f"responses[{k}].response_id", f"{rid!r} is also used by {seen_responses[rid]}"
                )
            seen_responses[rid] = source
            response_ids.append(rid)
            texts.append(response["text"])
            group.append(index)
            attributes.append(response["attributes"])
    return Domain(
        prompts=tuple(prompts),
        response_ids=tuple(response_ids),
        texts=tuple(texts),
        group=np.array(group, dtype=np.intp),
        attributes=np.array(attributes, dtype=np.float64),
    )


def response_title(prompt_text: str, text: str) -> str:
    """Catalog title of a response, a headline a person reads: the prompt shortened, then the
    response's opening in plain words (:func:`~prefchat.reward.data.opening`, at most
    :data:`HEADLINE_WORDS` words), which tells the answers to one
    prompt apart as their cards did, e.g. "How do I cook rice on the stove so it comes out… — Use
    the absorption method: one part rinsed…"."""
    return f"{textwrap.shorten(prompt_text, width=TITLE_WIDTH, placeholder='…')} — {opening(text, HEADLINE_WORDS)}"
