r"""Semantic memory in words: a user's reward as a summary the user can read and correct.

PRIME-style semantic memory distils the answers into a few weighted descriptors ("Enjoys: war,
documentary. Not keen on: horror.") instead of replaying them. The weights and everything they are
made of (the affinity of a user with a descriptor, its confidence, what a correction replaces)
are numbers of the pack, in :mod:`prefchat.reward.summary`; here they get their words
(:func:`describe`, through :mod:`~prefchat.assistant.wording`). No language model writes the text.
Corrections in words are read by :mod:`~prefchat.assistant.corrections`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..elicitation.posterior import Answer
from ..reward.pack import Pack
from ..reward.summary import (
    STATED,
    STATED_WEIGHT,
    DescriptorWeight,
    Summary,
    answer_evidence,
    confidence_level,
    correlation_sd,
    descriptor_correlations,
    descriptor_weights,
    scale_stated_likes,
    stated_affinity,
    summary_affinity,
    summary_weights,
    with_stated,
)
from . import wording

__all__ = [  # the summary's numbers are the pack's (prefchat.reward.summary); the assistant reads them here
    "STATED",
    "STATED_WEIGHT",
    "DescriptorWeight",
    "Summary",
    "answer_evidence",
    "apply_correction",
    "confidence_level",
    "correlation_sd",
    "descriptor_correlations",
    "describe",
    "scale_stated_likes",
    "stated_affinity",
    "summarize",
    "summary_affinity",
    "summary_weights",
]


def describe(weights: tuple[DescriptorWeight, ...], n_answers: int, n_skipped: int) -> str:
    """The summary text, e.g. "Enjoys: war, documentary. Not keen on: horror. Confidence: medium
    (10 answers, 1 skipped)."; the overall confidence is the level of the median generated one."""
    liked = [w.descriptor for w in weights if w.weight > 0]
    disliked = [w.descriptor for w in weights if w.weight < 0]
    generated = [w.confidence for w in weights if not w.stated]
    level = confidence_level(float(np.median(generated))) if generated else "low"
    stated = [(w.descriptor, w.weight > 0) for w in weights if w.stated]
    return wording.summary_text(liked, disliked, level, n_answers, n_skipped, stated)


def summarize(pack: Pack, mean: np.ndarray, cov: np.ndarray, n_answers: int, n_skipped: int, top: int = 4,
              answers: Sequence[Answer] | None = None) -> Summary:
    """The semantic summary of a user with posterior :math:`N(m, S)`: the weights of
    :func:`~prefchat.reward.summary.descriptor_weights` (``top`` on each side, ``answers`` the
    answers behind the posterior, see there) and their text, with the answer counts
    ``n_answers`` and ``n_skipped``."""
    weights = descriptor_weights(pack, mean, cov, top, answers)
    return Summary(describe(weights, n_answers, n_skipped), weights, n_answers, n_skipped)


def apply_correction(summary: Summary, weights: Mapping[str, float], pack: Pack | None = None) -> Summary:
    """A new summary with the user's stated ``weights`` (from
    :func:`~prefchat.assistant.corrections.parse_correction`): the weights of
    :func:`~prefchat.reward.summary.with_stated` and their text, the counts kept. ``summary``
    itself is unchanged (storage keeps old versions)."""
    ordered = with_stated(summary, weights, pack)
    return Summary(describe(ordered, summary.n_answers, summary.n_skipped), ordered, summary.n_answers, summary.n_skipped)
