r"""A session's stored history as evidence for the onboarding loop.

Storage keeps questions and answers by item id; the loop
(:mod:`~prefchat.elicitation.onboarding`) folds answers over item indices. This module is the
translation between the two, and nothing else.

Feedback after onboarding ("more like X", "less like X", thumbs up/down on X) is evidence in the
same posterior: replayed as a comparison of X against the catalog's **population-average item**,
a virtual item with features

.. math:: \bar\phi = \frac{1}{n_\text{items}} \sum_i \phi(i),

X winning for "more like" and thumbs up, losing for "less like" and thumbs down. The average item
is fixed by the pack, so replaying the stored feedback always gives the same posterior (a
recommendation list's median item would change with every list shown).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from ..elicitation import Answer, Comparison, KWayChoice
from ..elicitation.onboarding import known_items
from ..storage import Exchange

__all__ = ["FEEDBACK_WINS", "reference_features", "session_seed", "stored_answers", "told_items"]

FEEDBACK_WINS = {"thumbs_up": "a", "more_like": "a", "thumbs_down": "b", "less_like": "b"}
"""Feedback on X as the choice of the comparison (X, average item)."""


def session_seed(session_id: str) -> int:
    """A 64-bit seed from a session id: questions are chosen the same way every time it is resumed."""
    return int.from_bytes(hashlib.sha256(session_id.encode("utf-8")).digest()[:8], "little")


def reference_features(features: np.ndarray) -> np.ndarray:
    r"""The catalog's features with the population-average item appended as the last row.

    .. math:: \phi(n_\text{items}) = \bar\phi = \frac{1}{n_\text{items}} \sum_i \phi(i)

    Parameters
    ----------
    features : (n_items, n_bases) array

    Returns
    -------
    (n_items + 1, n_bases) array
    """
    return np.vstack([features, features.mean(axis=0, keepdims=True)])


def stored_answers(
    history: Sequence[Exchange], index: Mapping[str, int], reference: int
) -> tuple[tuple[Answer, ...], tuple[str, ...], frozenset[int], Exchange | None]:
    r"""The evidence a session's stored history holds, for a pack whose item ids map by ``index``.

    A pairwise answer is the comparison of its two items; a k-way pick (the chosen item's id) is a
    :class:`~prefchat.elicitation.KWayChoice` of its options, and a k-way "none of these" makes
    its options unknown to the user (never asked again) without evidence; feedback on item X is
    X against the item ``reference`` (the population-average item), X winning for thumbs up and
    "more like":

    .. math:: P(X \succ \bar\phi \mid \lambda) = \sigma\big(\lambda^\top (\phi(X) - \bar\phi)\big)

    Turns about an item missing from ``index`` are left out.

    Returns
    -------
    answers : tuple of Answer, in the order given
    kinds : tuple of str, for every click and feedback in order: the pairwise choice, ``"pick"``
        or ``"skip"`` of a k-way question, or the feedback kind
    unknown : frozenset of int, the options of k-way questions answered "none of these"
    pending : the first unanswered question whose items are all in ``index``, or None
    """
    answers: list[Answer] = []
    kinds: list[str] = []
    unknown: set[int] = set()
    pending = None
    for exchange in history:
        items = exchange.question.item_ids
        found = (index.get(item) for item in items)  # one lookup per item: this runs on every answer
        ids = tuple(i for i in found if i is not None)
        if len(ids) < len(items):
            continue
        if exchange.answer is None:
            if pending is None and len(items) >= 2:
                pending = exchange
            continue
        choice = exchange.answer.choice
        if exchange.answer.kind in FEEDBACK_WINS:
            answers.append(Comparison(ids[0], reference, FEEDBACK_WINS[exchange.answer.kind]))
            kinds.append(exchange.answer.kind)
        elif len(items) == 2:
            assert choice is not None  # an answer to a question always has its choice
            answers.append(Comparison(ids[0], ids[1], choice))
            kinds.append(choice)
        elif choice in items:
            answers.append(KWayChoice(ids, ids[items.index(choice)]))
            kinds.append("pick")
        else:  # "skip" ("tie" is not asked of k options: it is read as none of them)
            unknown.update(ids)
            kinds.append("skip")
    return tuple(answers), tuple(kinds), frozenset(unknown), pending


def told_items(answers: Sequence[Answer], reference: int) -> frozenset[int]:
    """Catalog items a recommendation leaves out: those the answers show the user knows
    (:func:`~prefchat.elicitation.onboarding.known_items`) and those they gave feedback on (compared
    with the item ``reference``); read from the answers, no posterior needed."""
    feedback = (answer.item_a for answer in answers if isinstance(answer, Comparison) and reference in answer.items)
    return (known_items(answers) | frozenset(feedback)) - {reference}
