r"""Episodic memory: the baseline the semantic summary is compared against.

PRIME distinguishes *episodic* memory (replay what the user did) from *semantic* memory (distil
it into preferences, :mod:`prefchat.assistant.summary`) and finds the distilled form better. This
module is the episodic side, kept as simple as it can honestly be: every answer is replayed as
nearest-neighbour evidence in the embedding space, with no model of the user at all. The benchmark
``bench/ranking_quality.py`` reports both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..elicitation.posterior import Answer, Comparison, KWayChoice
from ..reward.pack import Pack

__all__ = ["episodic_scores", "wins"]


def wins(answer: Answer) -> Iterator[tuple[int, int]]:
    """The (winner, loser) pairs an answer states: one for a pair answered "a" or "b", none for a
    tie or a skip; for a k-way choice, the chosen item over each other option."""
    if isinstance(answer, KWayChoice):
        yield from ((answer.chosen, other) for other in answer.options if other != answer.chosen)
    elif isinstance(answer, Comparison):
        if answer.choice == "a":
            yield answer.item_a, answer.item_b
        elif answer.choice == "b":
            yield answer.item_b, answer.item_a
    else:
        raise ValueError(f"an answer must be a Comparison or a KWayChoice, got {answer!r}")


def episodic_scores(pack: Pack, answers: Sequence[Answer]) -> np.ndarray:
    r"""Every catalog item scored by its similarity to the answers' winners minus their losers.

    .. math:: s(i) = \sum_{(w, l)} \cos(e_i, e_w) - \cos(e_i, e_l)
              = e_i^\top \sum_{(w, l)} (e_w - e_l)

    over the (winner, loser) pairs of :func:`wins`; the pack's embeddings are unit-norm, so the
    dot product is the cosine.

    Parameters
    ----------
    pack : the catalog
    answers : the user's answers, item indices into the catalog

    Returns
    -------
    (n_items,) scores; all zero without a decided answer
    """
    embeddings = np.asarray(pack.embeddings, dtype=np.float64)
    evidence = np.zeros(embeddings.shape[1])
    for answer in answers:
        for winner, loser in wins(answer):
            if max(winner, loser) >= pack.n_items:
                raise ValueError(f"answer {answer!r} names an item outside the {pack.n_items} of pack {pack.name!r}")
            evidence += embeddings[winner] - embeddings[loser]
    return embeddings @ evidence
