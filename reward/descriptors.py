r"""A pack's descriptor statistics: how every item, and any text, is associated with each descriptor.

A pack names descriptors (its items' tags, or a vocabulary embedded with the pack's model) and
associates every catalog item with each of them, :math:`A \in \mathbb{R}^{n \times J}`
(:func:`~prefchat.reward.naming.descriptor_matrix`). Standardised over the catalog,

.. math:: z_{ij} = (A_{ij} - \bar A_j) / \sigma(A_j) \qquad (0 \text{ for a constant column}).

The summary (:mod:`prefchat.assistant.summary`) and the ranking read these; they are computed once
per pack, by :attr:`Serving.descriptors <prefchat.reward.serving.Serving.descriptors>`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from .items import Item
from .naming import TEXT_MEASURES, define_columns, descriptor_groups, descriptor_matrix

__all__ = ["ABSENT_SHARE", "NEGATED", "DescribedItems", "DescriptorIndex", "descriptor_index", "presence_threshold",
           "text_associations"]

NEGATED = re.compile(r"^(?:.*\s)?(?:no|not|non|without)[\s-]+(.+)$")
"""A descriptor that is itself a negation ("answers without emoji"), its core in group 1."""
ABSENT_SHARE = 0.05
"""Least share of the catalog at a descriptor's least association for that least value to be its
absence (:func:`presence_threshold`): a count such as emoji is 0 for many answers, while a
length has one shortest answer, or two that tie."""


def presence_threshold(z: np.ndarray) -> float:
    r"""The association above which an item *carries* a descriptor, from its catalog column ``z``.

    .. math:: t = \begin{cases} \min_i z_i & \text{if } \tfrac1n |\{i : z_i = \min z\}| \ge s \\
                                0 & \text{otherwise} \end{cases}

    with :math:`s` = :data:`ABSENT_SHARE`: a descriptor that many items share their least value
    of is a count whose least value is its absence ("uses emoji": an answer with one emoji has
    emoji, though fewer than most), one that few do is a degree, carried above the catalog mean
    ("long and detailed": longer than most).
    """
    z = np.asarray(z, dtype=np.float64)
    least = z.min()
    return float(least) if np.mean(np.isclose(z, least)) >= ABSENT_SHARE else 0.0


class DescribedItems(Protocol):
    """What the descriptor statistics read of a pack (a :class:`~prefchat.reward.pack.Pack` is one)."""

    @property
    def items(self) -> Sequence[Item]: ...
    @property
    def descriptors(self) -> list[str]: ...
    @property
    def descriptor_source(self) -> str | None: ...
    @property
    def descriptor_definitions(self) -> dict[str, str]: ...
    @property
    def embeddings(self) -> np.ndarray: ...
    @property
    def descriptor_embeddings(self) -> np.ndarray: ...
    @property
    def features(self) -> np.ndarray: ...
    @property
    def n_learned(self) -> int: ...
    @property
    def groups(self) -> np.ndarray | None: ...


@dataclass(frozen=True, eq=False)
class DescriptorIndex:
    r"""A pack's descriptor statistics, computed once per pack by :func:`descriptor_index`.

    Attributes
    ----------
    columns : dict, descriptor -> column j
    centre : (n_bases,) the catalog mean of :math:`\phi`
    association : (n_items, n_descriptors) :math:`z_{ij}`, the standardised association
    similarity : ``(mean, sd)``, each (n_descriptors,), the catalog mean and standard deviation of
        :math:`\cos(e(i), e(d_j))`, to standardise texts outside the catalog (:func:`text_associations`);
        computed on first use from ``embeddings`` (n_items, d) and ``descriptor_embeddings`` (a tags
        pack: so that serving the catalog never reads its embeddings), known at once for a vocabulary pack
    cross : (n_descriptors, n_learned) the :math:`b_j` of the module docstring
    gram : (n_learned, n_learned) :math:`C`
    group, sign : (n_descriptors,) which descriptors name one direction, and each one's sign in
        it (:func:`~prefchat.reward.naming.descriptor_groups`): a summary names a group once
    negated : (n_descriptors,) bool, the descriptor is itself a negation ("answers without emoji")
    stated_unit : (n_descriptors,) the factor a stated weight is served with (:func:`stated_affinity`):
        on a tags pack the standard deviation :math:`\sigma_j` of the 0/1 column, so that a stated
        :math:`w_j` moves the items carrying the tag by :math:`w_j` against the rest, the same for
        every tag; :math:`w_j z_{ij}` alone would move them by :math:`w_j / \sqrt{p_j (1 - p_j)}`
        (:math:`p_j` the tag's share of the catalog), which for a tag on 1% of the catalog is 5
        times what "drama" (on 45%) gets, and fills a top 20 with every item of a rare tag a user
        said they like. 1 elsewhere.
    """

    descriptors: list[str]
    source: str | None
    definitions: dict[str, str]
    columns: dict[str, int]
    centre: np.ndarray
    association: np.ndarray
    cross: np.ndarray
    gram: np.ndarray
    group: np.ndarray
    sign: np.ndarray
    negated: np.ndarray
    stated_unit: np.ndarray
    embeddings: np.ndarray
    descriptor_embeddings: np.ndarray
    known_similarity: tuple[np.ndarray, np.ndarray] | None = None

    @cached_property
    def similarity(self) -> tuple[np.ndarray, np.ndarray]:
        if self.known_similarity is not None:
            return self.known_similarity
        return _similarity_moments(self.embeddings, self.descriptor_embeddings)

    @cached_property
    def measured(self) -> np.ndarray:
        """(n_descriptors,) bool: the descriptor's group is defined by a text measure
        (:data:`~prefchat.reward.naming.TEXT_MEASURES`: emoji, length, lists...), so that which
        item carries it is counted, not guessed from an embedding; on a tags pack, every tag."""
        if self.source == "tags":
            return np.ones(len(self.descriptors), dtype=bool)
        defined = [self.group[j] for j, d in enumerate(self.descriptors)
                   if self.definitions.get(d, "").removeprefix("-") in TEXT_MEASURES]
        return np.isin(self.group, defined)

    @cached_property
    def carried(self) -> np.ndarray:
        """(n_items, n_descriptors) bool: item i carries descriptor j, its association above
        :func:`presence_threshold` of the column (on a tags pack: the tag)."""
        return self.association > self.thresholds

    @cached_property
    def thresholds(self) -> np.ndarray:
        """(n_descriptors,) :func:`presence_threshold` of each column: a text whose association is above it carries the descriptor."""
        return np.array([presence_threshold(column) for column in self.association.T])

    def members(self, j: int) -> np.ndarray:
        """Columns of the descriptors in column ``j``'s group, ``j`` included, in vocabulary order."""
        return np.flatnonzero(self.group == self.group[j])


def _standardise(values: np.ndarray, mean: np.ndarray | float, sd: np.ndarray) -> np.ndarray:
    """``(values - mean) / sd`` by column, 0 where ``sd`` is 0."""
    return np.divide(values - mean, sd, out=np.zeros(np.shape(values)), where=sd > 0)


def _within_groups(groups: np.ndarray | None, values: np.ndarray) -> np.ndarray:
    """``values`` centred over the catalog, or within each group when the pack groups its items."""
    if groups is None:
        return values - values.mean(0)
    groups = np.asarray(groups)
    sums = np.zeros((groups.max() + 1, values.shape[1]))
    np.add.at(sums, groups, values)
    return values - (sums / np.bincount(groups)[:, None])[groups]


def _similarity_moments(embeddings: np.ndarray, descriptor_embeddings: np.ndarray,
                        chunk: int = 1 << 15) -> tuple[np.ndarray, np.ndarray]:
    r"""Catalog mean and standard deviation of :math:`\cos(e(i), e(d_j))` for every descriptor j,
    summed over rows in chunks (a million items' embeddings are never copied whole):

    .. math:: \bar s_j = \frac1n \sum_i s_{ij}, \qquad \sigma_j = \sqrt{\frac1n \sum_i (s_{ij} - \bar s_j)^2}

    computed in two passes, so that the variance does not lose its digits to the mean.
    """
    targets = np.asarray(descriptor_embeddings, dtype=np.float64).T
    n = len(embeddings)
    blocks = [slice(start, start + chunk) for start in range(0, n, chunk)]
    mean = sum((np.asarray(embeddings[block], dtype=np.float64) @ targets).sum(0) for block in blocks) / n
    variance = sum(((np.asarray(embeddings[block], dtype=np.float64) @ targets - mean) ** 2).sum(0) for block in blocks) / n
    return mean, np.sqrt(variance)


def descriptor_index(pack: DescribedItems) -> DescriptorIndex:
    """The :class:`DescriptorIndex` of ``pack``, computed (use :attr:`Serving.descriptors
    <prefchat.reward.serving.Serving.descriptors>`, which keeps it for as long as the pack lives)."""
    definitions = pack.descriptor_definitions
    association = descriptor_matrix(pack.descriptor_source, pack.items, pack.descriptors,
                                    pack.embeddings, pack.descriptor_embeddings, definitions)
    vocabulary = pack.descriptor_source == "vocabulary"  # texts outside the catalog are measured alike
    z = _standardise(association, association.mean(0), association.std(0))
    group, sign = descriptor_groups(pack.descriptors, definitions)
    learned = pack.features[:, : pack.n_learned]
    within, centred = _within_groups(pack.groups, z), _within_groups(pack.groups, learned)
    within = _standardise(within, 0.0, within.std(0))
    n_items = len(learned)
    return DescriptorIndex(
        descriptors=list(pack.descriptors),
        source=pack.descriptor_source,
        definitions=definitions,
        columns={d: j for j, d in enumerate(pack.descriptors)},
        centre=pack.features.mean(0),
        association=np.asfortranarray(z),  # by column: a ranking reads the columns a summary names
        cross=within.T @ centred / n_items,
        gram=centred.T @ centred / n_items,
        group=group,
        sign=sign,
        negated=np.array([bool(NEGATED.match(d)) for d in pack.descriptors], dtype=bool),
        stated_unit=association.std(0) if pack.descriptor_source == "tags" else np.ones(len(pack.descriptors)),
        embeddings=pack.embeddings,
        descriptor_embeddings=pack.descriptor_embeddings,
        known_similarity=(association.mean(0), association.std(0)) if vocabulary else None,
    )


def text_associations(index: DescriptorIndex, embeddings: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
    r"""Standardised association of texts outside the catalog with every descriptor.

    .. math:: z_j(t) = \frac{\cos(e(t), e(d_j)) - \overline{\cos}_j}{\sigma_j(\cos)}

    with the mean and standard deviation of the same similarity over the catalog. For a
    vocabulary pack this is exactly :math:`z_{ij}` of a catalog item; for a tags pack (whose
    :math:`A` is 0/1 tags, unknown for a new text) it is the content-only stand-in on the same
    standardised scale.

    A descriptor the vocabulary defines by a text measure is measured on ``texts``; without them
    it is taken at the catalog mean (0).

    Parameters
    ----------
    embeddings : (n, d) unit-norm sentence embeddings of the texts
    texts : the n texts themselves, optional

    Returns
    -------
    (n, n_descriptors)
    """
    embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
    if embeddings.shape[1] != index.embeddings.shape[1]:
        raise ValueError(f"embeddings of width {embeddings.shape[1]}, the pack's model gives {index.embeddings.shape[1]}")
    if texts is not None and len(texts) != len(embeddings):
        raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
    similarity = embeddings @ np.asarray(index.descriptor_embeddings, dtype=np.float64).T
    definitions = index.definitions
    if index.source == "vocabulary" and definitions:
        similarity = define_columns(similarity, list(texts) if texts is not None else [""] * len(similarity),
                                    index.descriptors, definitions)
        if texts is None:
            similarity[:, index.measured] = index.similarity[0][index.measured]
    return _standardise(similarity, *index.similarity)
