"""Descriptors and axis names: words for the directions the bases learned.

Descriptors come from the items' own tags (genres, user tags) when the data has them, or
from a built-in vocabulary (``vocabularies/*.txt``) embedded with the pack's model. Each
descriptor has an association with every catalog item, the *descriptor matrix*:

- tags: ``A[i, j] = 1`` when item i carries tag j, else 0;
- vocabulary: ``A[i, j] = cos(e(i), e(d_j))``, the embedding similarity, unless the vocabulary
  defines the descriptor (``descriptor ~ definition``, see :func:`read_vocabulary`): by a text
  measure (:data:`TEXT_MEASURES`, e.g. ``short and concise ~ -words``) or as the opposite of
  another descriptor (``serious and dry ~ -witty jokes``).

Why measures: a sentence embedding sees what a text is about far better than how it is written.
On the default pack's 216 responses, the correlation of ``cos(e(i), e("short and concise"))``
with the annotated length is -0.03 and that of ``cos(e(i), e("no emoji"))`` with the emoji count
+0.28 (the wrong sign: both "uses emoji" and "no emoji" are about emoji), while the word count
correlates with length at 0.98 and the emoji count with emoji at 0.93 (``bench/summary_polarity.py``).

Descriptors defined by the same measure, or one as the other's opposite, form a *group*: one
direction with a sign per member (:func:`descriptor_groups`); a summary names each group once.

An axis is named by the descriptors whose association correlates most with it across the
catalog, at both ends; the assistant uses the same matrix for the user's summary.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np

from .items import Axis, Item

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _per_100_words(pattern: re.Pattern[str]) -> Callable[[str], float]:
    return lambda text: 100.0 * len(pattern.findall(text)) / max(1, len(_words(text)))


def _count(pattern: re.Pattern[str]) -> Callable[[str], float]:
    return lambda text: float(np.log1p(len(pattern.findall(text))))


TEXT_MEASURES: dict[str, Callable[[str], float]] = {
    "words": lambda text: float(np.log1p(len(_words(text)))),
    "emoji": lambda text: float(np.log1p(sum(unicodedata.category(c) == "So" for c in text))),
    "list lines": lambda text: float(np.log1p(len(re.findall(r"(?m)^\s*(?:[-*\u2022]|\d+[.)])\s", text)))),
    "contractions": _per_100_words(re.compile(r"\b\w+'(?:s|t|re|ll|ve|d|m)\b", re.I)),
    "long words": lambda text: float(np.mean([len(w) >= 9 for w in _words(text)])) if _words(text) else 0.0,
    "second person": _per_100_words(re.compile(r"\byou(?:r|rs|'re|'ll|'ve|'d)?\b", re.I)),
    "exclamations": _per_100_words(re.compile(r"!")),
    "hedges": _count(re.compile(r"\b(?:might|may|usually|generally|probably|depends|perhaps|likely|typically|"
                                r"often|not sure|check|consult|careful)\b", re.I)),
    "code and numbers": _count(re.compile(r"`[^`]+`|\d+(?:[.,]\d+)*")),
    "examples": _per_100_words(re.compile(r"\b(?:for example|for instance|e\.g\.|such as|imagine|think of|as if|"
                                          r"like an?|say)\b", re.I)),
}
"""Text measures a vocabulary may define a descriptor by (``short and concise ~ -words``): how a
text is written, which its embedding barely sees. What an answer *has* (emoji, list lines, caveats,
code and figures) is a log1p count: a reader calls an answer cautious by the caveats it makes, and
one caveat in a two-line answer does not make it more cautious than five in a long one (as a
density, "hedges" read one short answer's "usually" as the most cautious of its prompt). How an
answer *sounds* (contractions, "you", exclamations, examples) is a rate per 100 words, comparable
across lengths."""


def read_vocabulary(spec: str | Path) -> tuple[list[str], dict[str, str]]:
    """Descriptors and their definitions from a vocabulary: a built-in name (``styles``) or a file.

    One descriptor per line; ``#`` comments and blank lines are dropped. A line may define its
    descriptor after ``~``: a measure of :data:`TEXT_MEASURES`, or an earlier descriptor, either
    optionally negated with ``-`` (``short and concise ~ -words``, ``serious and dry ~ -witty jokes``).

    Returns
    -------
    descriptors : in file order
    definitions : descriptor -> definition, for the lines that have one
    """
    if isinstance(spec, Path) or Path(spec).suffix == ".txt" or "/" in spec:
        path: Path | Traversable = Path(spec)
        if not path.is_file():
            raise ValueError(f"vocabulary file {str(spec)!r} does not exist")
    else:
        path = resources.files(__package__) / "vocabularies" / f"{spec}.txt"
        if not path.is_file():
            raise ValueError(f"no built-in descriptor vocabulary named {spec!r}")
    descriptors: list[str] = []
    definitions: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        descriptor, _, definition = (part.strip() for part in line.partition("~"))
        if not descriptor or descriptor in descriptors:
            raise ValueError(f"{path}, line {number}: {'empty' if not descriptor else 'repeated'} descriptor {descriptor!r}")
        if definition:
            target = definition.removeprefix("-").strip()
            if target not in TEXT_MEASURES and target not in descriptors:
                raise ValueError(f"{path}, line {number}: {definition!r} is neither a text measure "
                                 f"({', '.join(TEXT_MEASURES)}) nor an earlier descriptor")
            definitions[descriptor] = ("-" if definition.startswith("-") else "") + target
        descriptors.append(descriptor)
    return descriptors, definitions


def descriptor_groups(descriptors: list[str], definitions: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Which descriptors name one direction: a group id and a sign (+1/-1) per descriptor.

    Descriptors defined by the same measure are one group (``long and detailed ~ words`` and
    ``short and concise ~ -words`` have signs +1 and -1); a descriptor defined as another's
    opposite joins that one's group. Every other descriptor is a group of its own.
    """
    group, sign = np.arange(len(descriptors)), np.ones(len(descriptors))
    column = {d: j for j, d in enumerate(descriptors)}
    first_of_measure: dict[str, int] = {}
    for j, d in enumerate(descriptors):
        definition = definitions.get(d)
        if definition is None:
            continue
        negative, target = definition.startswith("-"), definition.removeprefix("-")
        if target in column:
            group[j], sign[j] = group[column[target]], sign[column[target]] * (-1.0 if negative else 1.0)
        else:
            group[j] = first_of_measure.setdefault(target, j)
            sign[j] = -1.0 if negative else 1.0
    return group, sign


def frequent_tags(items: list[Item], min_share: float = 0.002, min_count: int = 5, limit: int = 400) -> list[str]:
    """Tags carried by enough items to be meaningful (case-folded), most frequent first."""
    counts = Counter(tag.lower() for item in items for tag in set(item.tags))
    threshold = max(min_count, int(min_share * len(items)))
    ranked = sorted((tag for tag, n in counts.items() if n >= threshold), key=lambda t: (-counts[t], t))
    return ranked[:limit]


def tag_matrix(items: Sequence[Item], descriptors: list[str]) -> np.ndarray:
    """(n_items, n_descriptors) 0/1 matrix: item i carries descriptor j (case-folded)."""
    column = {d: j for j, d in enumerate(descriptors)}
    matrix = np.zeros((len(items), len(descriptors)))
    for i, item in enumerate(items):
        for tag in item.tags:
            j = column.get(tag.lower())
            if j is not None:
                matrix[i, j] = 1.0
    return matrix


def descriptor_matrix(source: str | None, items: Sequence[Item], descriptors: list[str],
                      item_embeddings: np.ndarray, descriptor_embeddings: np.ndarray,
                      definitions: dict[str, str] | None = None) -> np.ndarray:
    """Association of every item with every descriptor (see the module docstring)."""
    if source == "tags":
        matrix = tag_matrix(items, descriptors)
    elif source == "vocabulary":
        matrix = np.asarray(item_embeddings, dtype=np.float64) @ np.asarray(descriptor_embeddings, dtype=np.float64).T
    else:
        raise ValueError(f"unknown descriptor source {source!r}; expected 'tags' or 'vocabulary'")
    texts = [item.text for item in items] if definitions else []  # read only where a definition measures them
    return define_columns(matrix, texts, descriptors, definitions or {})


def define_columns(matrix: np.ndarray, texts: list[str], descriptors: list[str], definitions: dict[str, str]) -> np.ndarray:
    """``matrix`` with the columns of defined descriptors replaced: a text measure of ``texts``, or
    (minus) another descriptor's column."""
    matrix = np.array(matrix, dtype=np.float64)
    column = {d: j for j, d in enumerate(descriptors)}
    for j, d in enumerate(descriptors):
        definition = definitions.get(d)
        if definition is None:
            continue
        sign, target = (-1.0 if definition.startswith("-") else 1.0), definition.removeprefix("-")
        if target in TEXT_MEASURES:
            measure = TEXT_MEASURES[target]
            matrix[:, j] = sign * np.array([measure(text) for text in texts], dtype=np.float64)
        else:
            matrix[:, j] = sign * matrix[:, column[target]]
    return matrix


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


MIN_FIT = 0.2
"""Least correlation of a descriptor with an axis end for the descriptor to name it; an axis no
descriptor fits this well is named by exemplar items instead (the vocabulary does not fit the
domain: styles words on a data set of jokes)."""
EXEMPLAR_LENGTH = 40
"""Characters of an exemplar item's title in an axis name."""


def name_axes(features: np.ndarray, matrix: np.ndarray, descriptors: list[str], per_end: int = 3,
              titles: list[str] | None = None, min_fit: float = MIN_FIT) -> list[Axis]:
    """Name each base by its most correlated descriptors at both ends, or by exemplar items.

    Axes come in order of population variance; each takes as its name the best descriptor at
    each end that no earlier axis's name uses, so no two axes read alike. When ``titles`` are
    given and no descriptor correlates with the axis by at least ``min_fit`` (either end), the
    axis is named by the items furthest along each end instead: 'like "A" vs like "B"'.

    Parameters
    ----------
    features : (n_items, K) learned bases (population coordinates excluded)
    matrix : (n_items, n_descriptors) descriptor matrix
    titles : the items' titles, for exemplar names
    """
    correlations = column_correlations(features, matrix) if len(descriptors) else np.zeros((features.shape[1], 0))
    named: set[str] = set()
    axes = []
    for k, row in enumerate(correlations):
        if titles is not None and (not row.size or np.abs(row).max() < min_fit):
            order = np.argsort(-features[:, k], kind="stable")
            top, bottom = (_short(titles[int(side[0])]) for side in (order, order[::-1]))
            axes.append(Axis(k, f'like "{top}" vs like "{bottom}"', (), ()))
            continue
        order = np.argsort(-row, kind="stable")
        positive = [descriptors[j] for j in order if row[j] > 0]
        negative = [descriptors[j] for j in order[::-1] if row[j] < 0]
        ends = [next((d for d in end if d not in named), end[0] if end else "?") for end in (positive, negative)]
        named.update(ends)
        axes.append(Axis(k, f"{ends[0]} vs {ends[1]}", tuple(positive[:per_end]), tuple(negative[:per_end])))
    return axes


def _short(title: str) -> str:
    return title if len(title) <= EXEMPLAR_LENGTH else title[: EXEMPLAR_LENGTH - 1].rstrip() + "…"
