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

from ..elicitation import Comparison
from ..storage import Turn

__all__ = ["FEEDBACK_WINS", "reference_features", "session_seed", "stored_answers"]

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
    history: Sequence[Turn], index: Mapping[str, int], reference: int
) -> tuple[tuple[Comparison, ...], tuple[str, ...], Turn | None]:
    r"""The comparisons a session's stored history holds, for a pack whose item ids map by ``index``.

    A pairwise answer is the comparison of its two items; feedback on item X is X against the
    item ``reference`` (the population-average item), X winning for thumbs up and "more like":

    .. math:: P(X \succ \bar\phi \mid \lambda) = \sigma\big(\lambda^\top (\phi(X) - \bar\phi)\big)

    Turns about an item missing from ``index`` are left out.

    Returns
    -------
    answers : tuple of Comparison, in the order given
    kinds : tuple of str, the stored choice or feedback kind of each answer
    pending : the first unanswered pairwise question whose items are all in ``index``, or None
    """
    answers, kinds, pending = [], [], None
    for turn in history:
        items = turn.question.item_ids
        if not all(item in index for item in items):
            continue
        if turn.answer is None:
            if pending is None and len(items) == 2:
                pending = turn
        elif turn.answer.kind in FEEDBACK_WINS:
            answers.append(Comparison(index[items[0]], reference, FEEDBACK_WINS[turn.answer.kind]))
            kinds.append(turn.answer.kind)
        elif len(items) == 2:
            choice = turn.answer.choice
            assert choice is not None  # an answer to a question always has its choice
            answers.append(Comparison(index[items[0]], index[items[1]], choice))
            kinds.append(choice)
    return tuple(answers), tuple(kinds), pending
