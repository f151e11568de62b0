r"""Semantic memory in words: a user's reward as a summary the user can read and correct.

PRIME-style semantic memory distils the answers into a few weighted descriptors ("Enjoys: war,
documentary. Not keen on: horror.") instead of replaying them. The weights and everything they are
made of (the affinity of a user with a descriptor, its confidence, what a correction replaces)
are numbers of the pack, in :mod:`prefchat.reward.summary`; here they get their words
(:func:`describe`, through :mod:`~prefchat.assistant.wording`). No language model writes the text.
Corrections in words are read by :mod:`~prefchat.assistant.corrections`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from ..elicitation.onboarding import known_items
from ..elicitation.personas import Personas
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
    measured_confidence,
    ordered,
    scale_stated_likes,
    stated_affinity,
    summary_affinity,
    summary_confidence,
    summary_weights,
    with_stated,
)
from ..storage import Store
from . import wording
from .history import stored_answers

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
    "measured_confidence",
    "rewritten",
    "scale_stated_likes",
    "stated_affinity",
    "summarize",
    "summary_affinity",
    "summary_weights",
    "taste_names",
    "stored_tastes",
    "tastes",
    "tastes_of",
]


def taste_names(pack: Pack, personas: Personas) -> list[str | None]:
    r"""A name for each of a user's tastes (:mod:`~prefchat.elicitation.personas`): the descriptor (on a tags
    pack, the tag) its known items carry most more often than the other tastes' items do,

    .. math:: d_p = \arg\max_d\ \bar c_{R_p, d} - \bar c_{R \setminus R_p, d}

    with :math:`c` the :attr:`~prefchat.reward.descriptors.DescriptorIndex.carried` matrix, a
    descriptor carried by at least half of the taste's items and more often than by the rest, not
    already the name of a larger taste (the first descriptor among equals); None where none is.
    """
    carried = pack.serving.descriptors.carried
    descriptors = pack.descriptors
    names: list[str | None] = []
    for p, group in enumerate(personas.groups):
        rest = [i for q, other in enumerate(personas.groups) if q != p for i in other]
        mine = carried[list(group)].mean(0) if group else np.zeros(len(descriptors))
        others = carried[rest].mean(0) if rest else np.zeros(len(descriptors))
        contrast = np.where((mine >= 0.5) & (mine > others), mine - others, -np.inf)
        for d in np.argsort(-contrast, kind="stable"):
            if not np.isfinite(contrast[d]):
                names.append(None)
                break
            if descriptors[d] not in names:
                names.append(descriptors[d])
                break
        else:
            names.append(None)
    return names


def tastes(pack: Pack, known: Collection[int]) -> list[tuple[str | None, float, tuple[int, ...]]]:
    """Each of the tastes the items ``known`` show (:meth:`~prefchat.elicitation.known.KnownModel.split`), largest
    first: its name (:func:`taste_names`), its share and its items; one taste (or a pack without
    personas): one row of them all, unnamed; no known-items model: none."""
    model = pack.known_model
    if model is None:
        return []
    personas = model.split(known)
    names: list[str | None] = taste_names(pack, personas) if len(personas) > 1 else [None]
    return [(name, float(share), group) for name, share, group in zip(names, personas.shares, personas.groups)]


def stored_tastes(store: Store, pack: Pack, user_id: str) -> list[tuple[str | None, float, tuple[int, ...]]]:
    """:func:`tastes` of the items the answers of ``user_id``'s latest session with ``pack`` show they know (the
    answers still standing, as the served list reads them); none without such a session."""
    session = store.latest_session(user_id, pack.name, ("active", "finished"))
    if session is None:
        return []
    answers = stored_answers(store.session_history(session.id), pack.item_index, pack.n_items)[0]
    return tastes(pack, known_items(answers))


def tastes_of(pack: Pack, answers: Sequence[Answer] | None) -> list[str]:
    """The named tastes of a user whose answers show several (:meth:`~prefchat.elicitation.known.KnownModel.split`
    of the items they show the user knows), largest first; none for one taste or a pack without personas."""
    model = pack.known_model
    if model is None or not answers or model.personas.max_personas == 1:
        return []
    personas = model.split(known_items(answers))
    return [name for name in taste_names(pack, personas) if name is not None] if len(personas) > 1 else []


def describe(weights: tuple[DescriptorWeight, ...], n_answers: int, n_skipped: int, confidence: str | None,
             tastes: Sequence[str] = ()) -> str:
    """The summary text (:func:`~prefchat.assistant.wording.summary_text`), e.g. "Enjoys: war,
    documentary. Not keen on: horror. A tentative picture: your answers (10 answers, 1 skipped) lean
    this way, though chance could still explain them."; ``confidence`` the summary's level, from
    the answers' fit (:func:`~prefchat.reward.summary.summary_confidence`; None: not measured)."""
    liked = [w.descriptor for w in weights if w.weight > 0]
    disliked = [w.descriptor for w in weights if w.weight < 0]
    stated = [(w.descriptor, w.weight > 0) for w in weights if w.stated]
    return wording.summary_text(liked, disliked, confidence, n_answers, n_skipped, stated, list(tastes))


def summarize(pack: Pack, mean: np.ndarray, cov: np.ndarray, n_answers: int, n_skipped: int, top: int = 4,
              answers: Sequence[Answer] | None = None) -> Summary:
    """The semantic summary of a user with posterior :math:`N(m, S)`: the weights of
    :func:`~prefchat.reward.summary.descriptor_weights` (``top`` on each side, ``answers`` the
    answers behind the posterior, see there), the confidence the answers earn
    (:func:`~prefchat.reward.summary.summary_confidence`) and their text, with the answer counts
    ``n_answers`` and ``n_skipped``."""
    weights = descriptor_weights(pack, mean, cov, top, answers)
    level, fit = summary_confidence(pack, answers)
    named = tuple(tastes_of(pack, answers))
    return Summary(describe(weights, n_answers, n_skipped, level, named), weights, n_answers, n_skipped, level, fit, named)


def rewritten(summary: Summary, weights: Iterable[DescriptorWeight]) -> Summary:
    """``summary`` with ``weights`` instead, in :func:`~prefchat.reward.summary.ordered` order and
    its text written anew; the counts, the confidence and the tastes kept."""
    weights = ordered(weights)
    return replace(summary, text=describe(weights, summary.n_answers, summary.n_skipped, summary.confidence, summary.tastes),
                   weights=weights)


def apply_correction(summary: Summary, weights: Mapping[str, float], pack: Pack | None = None) -> Summary:
    """A new summary with the user's stated ``weights`` (from
    :func:`~prefchat.assistant.corrections.parse_correction`): the weights of
    :func:`~prefchat.reward.summary.with_stated` and their text, the counts and the confidence
    kept. ``summary`` itself is unchanged (storage keeps old versions)."""
    return rewritten(summary, with_stated(summary, weights, pack))
