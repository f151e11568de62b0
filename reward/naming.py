"""Descriptors and axis names: words for the directions the bases learned.

Descriptors come from the items' own tags (genres, user tags) when the data has them, or
from a built-in vocabulary (``vocabularies/*.txt``) embedded with the pack's model. Each
descriptor has an association with every catalog item, the *descriptor matrix*:

- tags: ``A[i, j] = 1`` when item i carries tag j, else 0;
- vocabulary: ``A[i, j] = cos(e(i), e(d_j))``, the embedding similarity.

An axis is named by the descriptors whose association correlates most with it across the
catalog, at both ends; the assistant uses the same matrix for the user's summary.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources

import numpy as np

from .pack import Axis, Item


def builtin_vocabulary(name: str) -> list[str]:
    """Descriptors of a built-in vocabulary (``styles``), comments and blanks dropped."""
    path = resources.files(__package__) / "vocabularies" / f"{name}.txt"
    if not path.is_file():
        raise ValueError(f"no built-in descriptor vocabulary named {name!r}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def frequent_tags(items: list[Item], min_share: float = 0.002, min_count: int = 5, limit: int = 400) -> list[str]:
    """Tags carried by enough items to be meaningful (case-folded), most frequent first."""
    counts = Counter(tag.lower() for item in items for tag in set(item.tags))
    threshold = max(min_count, int(min_share * len(items)))
    ranked = sorted((tag for tag, n in counts.items() if n >= threshold), key=lambda t: (-counts[t], t))
    return ranked[:limit]


def tag_matrix(items: list[Item], descriptors: list[str]) -> np.ndarray:
    """(n_items, n_descriptors) 0/1 matrix: item i carries descriptor j (case-folded)."""
    column = {d: j for j, d in enumerate(descriptors)}
    matrix = np.zeros((len(items), len(descriptors)))
    for i, item in enumerate(items):
        for tag in item.tags:
            j = column.get(tag.lower())
            if j is not None:
                matrix[i, j] = 1.0
    return matrix


def descriptor_matrix(source: str, items: list[Item], descriptors: list[str],
                      item_embeddings: np.ndarray, descriptor_embeddings: np.ndarray) -> np.ndarray:
    """Association of every item with every descriptor (see the module docstring)."""
    if source == "tags":
        return tag_matrix(items, descriptors)
    if source == "vocabulary":
        return np.asarray(item_embeddings, dtype=np.float64) @ np.asarray(descriptor_embeddings, dtype=np.float64).T
    raise ValueError(f"unknown descriptor source {source!r}; expected 'tags' or 'vocabulary'")


def column_correlations(values: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``values`` with each column of ``matrix``.

    .. math:: \\rho_{kj} = \\frac{\\mathrm{cov}(v_k, A_j)}{\\sigma(v_k)\\,\\sigma(A_j)}

    Parameters
    ----------
    values : (n, K) and matrix : (n, J)

    Returns
    -------
    (K, J) correlations; 0 where a column is constant
    """
    v = values - values.mean(0)
    a = matrix - matrix.mean(0)
    norms = np.outer(np.linalg.norm(v, axis=0), np.linalg.norm(a, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, (v.T @ a) / norms, 0.0)


def name_axes(features: np.ndarray, matrix: np.ndarray, descriptors: list[str], per_end: int = 3) -> list[Axis]:
    """Name each base by its most correlated descriptors at both ends.

    Axes come in order of population variance; each takes as its name the best descriptor at
    each end that no earlier axis's name uses, so no two axes read alike.

    Parameters
    ----------
    features : (n_items, K) learned bases (population coordinates excluded)
    matrix : (n_items, n_descriptors) descriptor matrix
    """
    correlations = column_correlations(features, matrix)
    named: set[str] = set()
    axes = []
    for k, row in enumerate(correlations):
        order = np.argsort(-row, kind="stable")
        positive = [descriptors[j] for j in order if row[j] > 0]
        negative = [descriptors[j] for j in order[::-1] if row[j] < 0]
        ends = [next((d for d in end if d not in named), end[0] if end else "?") for end in (positive, negative)]
        named.update(ends)
        axes.append(Axis(k, f"{ends[0]} vs {ends[1]}", tuple(positive[:per_end]), tuple(negative[:per_end])))
    return axes
