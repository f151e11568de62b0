r"""Cards passed over: an item shown and not picked is weak evidence against it, in the served "watch" score.

The known-items model (:mod:`~prefchat.elicitation.known`) learns from the items an answer shows
the user knows; the items the same answer passed over it treats as unknown, so a card a user
passed over three times can still be the second pick of their list. The served score takes off a
term per time an item was shown beside a card the user picked and was not picked itself,

.. math:: s_j \leftarrow s_j - \delta\, o_j, \qquad
          o_j = \big|\{\text{answers } a : j \in \mathrm{shown}(a),\ \mathrm{picked}(a) \ne j\}\big|,

over the answers that picked one (:func:`~prefchat.elicitation.posterior.picked`: a pair's winner,
a k-way pick); a tie or a "don't know" passes over nothing. :math:`\delta \ge 0` is chosen on
validation users (0 serves the score without the term).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .posterior import Answer, picked

__all__ = ["passed_over"]


def passed_over(answers: Iterable[Answer], n_items: int) -> np.ndarray:
    """(n_items,) :math:`o_j` of the module docstring: how often each catalog item was shown and passed over.

    Items outside the catalog (the reference item feedback is compared with, index ``n_items``) are not counted.
    """
    counts = np.zeros(n_items)
    for answer in answers:
        choice = picked(answer)
        if choice is None:
            continue
        for item in choice[1]:
            if 0 <= item < n_items:
                counts[item] += 1.0
    return counts
