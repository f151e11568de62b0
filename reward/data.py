"""Input files for training: a catalog of items and users' ratings and/or pairwise choices.

The format
----------
A data set is an ``items.csv`` plus a ``ratings.csv`` and/or a ``pairs.csv``. Each is a UTF-8
CSV file (a byte-order mark is tolerated) whose first line names the columns; column order does
not matter and other columns are ignored. A field holding a comma, a quote or a line break is
quoted as spreadsheets do, ``"Heat, 1995"``, with a quote inside doubled. Surrounding spaces are
stripped from every field.

``items.csv``, one line per item:

=========== ========= ==================================================================
column      required  meaning
=========== ========= ==================================================================
``item_id`` yes       unique identifier (visible text: see :data:`VISIBLE_ID`)
``text``    yes       the text that is embedded: a description, an answer, a joke
``title``   no        short display name; default: the first 60 characters of ``text``
``tags``    no        ``|``-separated descriptors (genres, topics), used to name axes
``group``   no        items that may be compared share a group (e.g. the answers to one
                      prompt); without the column, every item may be compared with any
=========== ========= ==================================================================

``ratings.csv``, one line per (user, item), at most one rating each:

=============== ========= ==============================================================
column          required  meaning
=============== ========= ==============================================================
``user_id``     yes       visible text (:data:`VISIBLE_ID`)
``item_id``     yes       an ``item_id`` of ``items.csv``
``rating``      yes       a finite number on any scale; higher is better
``timestamp``   no        a number, e.g. seconds since 1970
=============== ========= ==============================================================

A user with fewer than two ratings says nothing about preference: such users are skipped and
counted in :attr:`Dataset.skipped` (``{"users_with_fewer_than_two_ratings": n}``).

Training before a cut in time (``prefchat train --before DATE``, to measure on what came after it
without leakage, see ``prefchat eval --split time --cut``): ratings dated at or after the cut are
left out first and counted (``{"ratings_at_or_after_the_cut": n}``), then users with fewer than
two of the rest are skipped. It needs the ``timestamp`` column, and no pairs (``pairs.csv`` has no dates).

``pairs.csv``, one line per question answered:

=============== ========= ==============================================================
column          required  meaning
=============== ========= ==============================================================
``user_id``     yes       visible text; a user in both ratings and pairs is one user
``item_a``      yes       an ``item_id`` of ``items.csv``
``item_b``      yes       another ``item_id``, of the same group if there are groups
``choice``      yes       ``a`` (item_a preferred), ``b`` or ``tie``
=============== ========= ==============================================================

Example::

    item_id,title,text,tags
    1,Toy Story (1995),"Toy Story (1995). Genres: Animation, Comedy",Animation|Comedy|pixar

Any problem raises :class:`DataError` naming the file, the line and the column, e.g.
``ratings.csv, line 17, column rating: 'abc' is not a number``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

TITLE_LENGTH = 60
CHOICES = {"a": 1.0, "b": 0.0, "tie": 0.5}
FEWER_THAN_TWO = "users_with_fewer_than_two_ratings"
AFTER_THE_CUT = "ratings_at_or_after_the_cut"
STRING = np.dtypes.StringDType()
_KNOWN_ITEM = "an item id of the items file"
VISIBLE_ID = "visible text: printable characters, no blank-looking ones, no space at either end"
"""What every id (of an item or a user) is, in words."""
BLANK_LOOKING = "\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0"
"""Characters that Python counts printable but that show as nothing: a combining grapheme joiner,
Hangul fillers, Khmer inherent vowels, the blank Braille pattern. (Every other blank one, U+00A0
and the other spaces, zero-width and format characters, is not printable.)"""
_BLANK = re.compile(f"[{BLANK_LOOKING}]")


def visible_id(text: str) -> bool:
    """Whether ``text`` is an id a person can see and tell apart: :data:`VISIBLE_ID`."""
    return bool(text) and text.isprintable() and text.strip() == text and _BLANK.search(text) is None


def first_invisible(ids: Sequence[str] | np.ndarray) -> int | None:
    """The position of the first id of ``ids`` that is not :func:`visible_id`, else None.

    One pass over all of them joined (a million ids in about 0.2 s), then one id at a time only
    when that pass finds something.
    """
    texts = ids.tolist() if isinstance(ids, np.ndarray) else [str(text) for text in ids]  # (numpy keeps no trailing NUL)
    joined = "\x1f".join(texts)  # a separator no visible id holds (it is not printable)
    suspect = (
        joined.count("\x1f") != max(len(texts) - 1, 0)  # an id holds the separator itself
        or (texts and not joined)
        or joined.startswith((" ", "\x1f")) or joined.endswith((" ", "\x1f"))
        or any(edge in joined for edge in ("\x1f ", " \x1f", "\x1f\x1f"))
        or not joined.replace("\x1f", "").isprintable()
        or _BLANK.search(joined)
    )
    if suspect:
        return next((n for n, text in enumerate(texts) if not visible_id(text)), None)
    return None


class DataError(ValueError):
    """A problem in an input file, located by file, line and column where they are known."""

    def __init__(self, path: str | Path, message: str, line: int | None = None, column: str | None = None):
        self.path, self.line, self.column = str(path), line, column
        where = [self.path]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass(frozen=True, eq=False)
class Table:
    """A CSV file read whole: stripped cells by column, and the line each row starts on.

    Attributes
    ----------
    path : the file
    columns : column name -> cells, one per row (only the columns asked for)
    lines : (n_rows,) the physical line each row starts on (the header is line 1)
    """

    path: Path
    columns: dict[str, list[str]]
    lines: list[int]

    def __getitem__(self, column: str) -> list[str]:
        return self.columns[column]

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    @property
    def n_rows(self) -> int:
        return len(self.lines)

    def error(self, row: int, column: str, message: str) -> DataError:
        return DataError(self.path, message, line=self.lines[row], column=column)

    def nonempty(self, column: str) -> list[str]:
        """The cells of ``column``; raises on the first empty one."""
        cells = self.columns[column]
        if not all(cells):
            raise self.error(cells.index(""), column, f"empty {column}")
        return cells

    def ids(self, column: str) -> list[str]:
        """The cells of ``column``, ids; raises on the first empty one, or the first that is not :data:`VISIBLE_ID`."""
        cells = self.nonempty(column)
        bad = first_invisible(cells)
        if bad is not None:
            raise self.error(bad, column, f"{cells[bad]!r} is not {VISIBLE_ID}")
        return cells

    def numbers(self, column: str) -> np.ndarray:
        """The cells of ``column`` as finite float64; raises on the first that is not."""
        cells = self.columns[column]
        try:
            values = np.array(cells, dtype=np.float64)
        except ValueError:
            for row, cell in enumerate(cells):
                try:
                    float(cell)
                except ValueError:
                    raise self.error(row, column, f"{cell!r} is not a number") from None
            raise  # numpy and float() parse the same strings; not reached
        not_finite = np.flatnonzero(~np.isfinite(values))
        if not_finite.size:
            row = int(not_finite[0])
            raise self.error(row, column, f"{cells[row]!r} is not a finite number")
        return values

    def lookup(self, column: str, mapping: Mapping[str, object], expected: str) -> list:
        """``mapping[cell]`` for every cell of ``column``; raises ``'x' is not {expected}``."""
        get, cells = mapping.get, self.columns[column]
        values = [get(cell) for cell in cells]
        if None in values:
            row = values.index(None)
            raise self.error(row, column, f"{cells[row]!r} is not {expected}")
        return values


def read_table(path: str | Path, required: Sequence[str], optional: Sequence[str] = ()) -> Table:
    """Read a UTF-8 CSV file with a header line, keeping the ``required`` and ``optional`` columns.

    Raises
    ------
    DataError
        if the file is missing, not UTF-8, empty, malformed, lacks a required column, has a
        row with the wrong number of fields, or has no rows after the header.
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(_decode(path), newline=""), strict=True)
    header, header_line, rows, lines = None, 1, [], []
    start = 1
    try:
        for row in reader:
            if len(row) > 1 or (row and row[0].strip()):  # not a blank line
                if header is None:
                    header, header_line = [name.strip() for name in row], start
                else:
                    rows.append(row)
                    lines.append(start)
            start = reader.line_num + 1
    except csv.Error as error:
        raise DataError(path, f"malformed CSV ({error})", line=start) from None
    if header is None:
        raise DataError(path, f"empty file; expected a header line such as {','.join(required)}")

    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DataError(path, f"column {', '.join(duplicated)} appears twice in the header", line=header_line)
    missing = [name for name in required if name not in header]
    if missing:
        message = f"missing required column {', '.join(missing)} (found: {', '.join(header)})"
        raise DataError(path, message, line=header_line)
    if not rows:
        raise DataError(path, "no rows after the header")
    wrong = next((i for i, row in enumerate(rows) if len(row) != len(header)), None)
    if wrong is not None:
        raise DataError(path, f"{len(rows[wrong])} fields, the header has {len(header)}", line=lines[wrong])

    wanted = set(required) | set(optional)
    columns = {name: [row[j].strip() for row in rows] for j, name in enumerate(header) if name in wanted}
    return Table(path, columns, lines)


def _decode(path: Path) -> str:
    """The text of ``path``, UTF-8 with an optional byte-order mark."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except OSError as error:
        raise DataError(path, f"cannot read ({error.strerror})") from None
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        line = raw.count(b"\n", 0, offset) + 1
        message = f"not UTF-8: byte 0x{raw[offset]:02x} at byte offset {offset}; save the file as UTF-8"
        raise DataError(path, message, line=line) from None


def _factorize(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of ``values`` and the distinct values, in order of first appearance.

    ``uniques[codes] == values``.
    """
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(value, len(index)) for value in values), dtype=np.int64, count=len(values))
    return codes, np.array(list(index), dtype=STRING)


def _first_repeat(keys: np.ndarray) -> tuple[int, int] | None:
    """``(i, j)``, ``i < j``, with ``keys[i] == keys[j]`` and ``j`` the first row repeating a key."""
    order = np.argsort(keys, kind="stable")
    same = keys[order[1:]] == keys[order[:-1]]
    if not same.any():
        return None
    earlier, later = order[:-1][same], order[1:][same]
    first = np.argmin(later)
    return int(earlier[first]), int(later[first])


@dataclass(frozen=True, eq=False)
class Items:
    """A catalog of ``n_items`` items.

    Attributes
    ----------
    item_ids, texts, titles : (n_items,) StringDType arrays
    tags : n_items tuples of descriptors
    groups : (n_items,) int64 group codes, or None when all items may be compared
    group_names : the group value of each code (shown as the question both items answer)
    """

    item_ids: np.ndarray
    texts: np.ndarray
    titles: np.ndarray
    tags: tuple[tuple[str, ...], ...]
    groups: np.ndarray | None = None
    group_names: tuple[str, ...] = ()

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @cached_property
    def index(self) -> dict[str, int]:
        """item_id -> position in the catalog."""
        return {item_id: i for i, item_id in enumerate(self.item_ids.tolist())}


@dataclass(frozen=True, eq=False)
class Ratings:
    """``n_ratings`` ratings; ``user`` indexes ``user_ids``, ``item`` indexes the catalog.

    Attributes
    ----------
    user, item : (n_ratings,) int64
    rating : (n_ratings,) float64
    user_ids : (n_users,) StringDType
    timestamp : (n_ratings,) float64, or None
    skipped : what was left out, e.g. ``{"users_with_fewer_than_two_ratings": 3}``
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    user_ids: np.ndarray
    timestamp: np.ndarray | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_ratings(self) -> int:
        return len(self.rating)


@dataclass(frozen=True, eq=False)
class Pairs:
    """``n_pairs`` answered comparisons of ``item_a`` with ``item_b``.

    Attributes
    ----------
    user, item_a, item_b : (n_pairs,) int64
    label : (n_pairs,) float64, 1.0 when item_a was preferred, 0.0 for item_b, 0.5 for a tie
    user_ids : (n_users,) StringDType
    """

    user: np.ndarray
    item_a: np.ndarray
    item_b: np.ndarray
    label: np.ndarray
    user_ids: np.ndarray

    @property
    def n_pairs(self) -> int:
        return len(self.label)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Items plus ratings and/or pairs whose ``user`` indices share ``user_ids``."""

    items: Items
    user_ids: np.ndarray
    ratings: Ratings | None = None
    pairs: Pairs | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)


_MARKUP = re.compile(r"\*+|`+|(?<!\w)_+|_+(?!\w)|^\s*(?:#+|[-•>]|\d+[.)])\s+", re.MULTILINE)


def opening(text: str, n_words: int) -> str:
    """The first ``n_words`` words of ``text`` as plain words, "…" after a cut: Markdown's emphasis,
    code marks, headings, quotes and list markers at a line's start taken out ("The short version:\n-
    **Sun:** the sunniest spot" -> "The short version: Sun: the…" for 5 words). How a headline or a
    reason names an item by its text."""
    words = _MARKUP.sub(" ", text).split()
    return " ".join(words[:n_words]) + ("…" if len(words) > n_words else "")


def load_items(path: str | Path) -> Items:
    """Read ``items.csv`` (see the module docstring)."""
    table = read_table(path, ("item_id", "text"), ("title", "tags", "group"))
    item_ids = np.array(table.ids("item_id"), dtype=STRING)
    repeat = _first_repeat(item_ids)
    if repeat is not None:
        first, again = repeat
        message = f"duplicate item id {table['item_id'][again]!r}, first on line {table.lines[first]}"
        raise table.error(again, "item_id", message)
    texts = table.nonempty("text")
    titles = table["title"] if "title" in table else [""] * table.n_rows
    titles = [title or text[:TITLE_LENGTH] for title, text in zip(titles, texts)]
    tags = tuple(_split_tags(cell) for cell in table.columns.get("tags", [""] * table.n_rows))
    groups, group_names = _factorize(table.nonempty("group")) if "group" in table else (None, np.array([], dtype=str))
    return Items(item_ids, np.array(texts, dtype=STRING), np.array(titles, dtype=STRING), tags, groups, tuple(str(g) for g in group_names))


def _split_tags(cell: str) -> tuple[str, ...]:
    """``"Comedy| heist |"`` -> ``("Comedy", "heist")``."""
    return tuple(tag for tag in (part.strip() for part in cell.split("|")) if tag)


def load_ratings(path: str | Path, items: Items, before: float | None = None) -> Ratings:
    """Read ``ratings.csv`` against the catalog ``items``; skip users with fewer than two ratings.

    ``before``: keep only the ratings dated before it (module docstring), counted as skipped.
    """
    table = read_table(path, ("user_id", "item_id", "rating"), ("timestamp",))
    if before is not None and "timestamp" not in table:
        raise DataError(path, "training before a cut in time needs the ratings' dates: there is no 'timestamp' column")
    user, user_ids = _factorize(table.ids("user_id"))
    item = np.array(table.lookup("item_id", items.index, _KNOWN_ITEM), dtype=np.int64)
    rating = table.numbers("rating")
    timestamp = table.numbers("timestamp") if "timestamp" in table else None
    repeat = _first_repeat(user * items.n_items + item)
    if repeat is not None:
        first, again = repeat
        who, what = user_ids[user[again]], items.item_ids[item[again]]
        message = f"user {who!r} rated item {what!r} twice, first on line {table.lines[first]}"
        raise table.error(again, "item_id", message)

    dated = np.ones(len(user), dtype=bool) if before is None or timestamp is None else timestamp < before
    counts = np.bincount(user[dated], minlength=len(user_ids))
    kept_users = np.flatnonzero(counts >= 2)
    keep = dated & (counts[user] >= 2)
    recode = np.full(len(user_ids), -1, dtype=np.int64)
    recode[kept_users] = np.arange(len(kept_users))
    return Ratings(
        user=recode[user[keep]],
        item=item[keep],
        rating=rating[keep],
        user_ids=user_ids[kept_users],
        timestamp=None if timestamp is None else timestamp[keep],
        skipped={FEWER_THAN_TWO: len(user_ids) - len(kept_users),
                 **({} if before is None else {AFTER_THE_CUT: int((~dated).sum())})},
    )


def load_pairs(path: str | Path, items: Items) -> Pairs:
    """Read ``pairs.csv`` against the catalog ``items``."""
    table = read_table(path, ("user_id", "item_a", "item_b", "choice"))
    user, user_ids = _factorize(table.ids("user_id"))
    item_a, item_b = (
        np.array(table.lookup(column, items.index, _KNOWN_ITEM), dtype=np.int64) for column in ("item_a", "item_b")
    )
    label = np.array(table.lookup("choice", CHOICES, f"one of {', '.join(CHOICES)}"), dtype=np.float64)
    itself = np.flatnonzero(item_a == item_b)
    if itself.size:
        row = int(itself[0])
        raise table.error(row, "item_b", f"item {table['item_b'][row]!r} is compared with itself")
    if items.groups is not None:
        apart = np.flatnonzero(items.groups[item_a] != items.groups[item_b])
        if apart.size:
            row = int(apart[0])
            message = f"items {table['item_a'][row]!r} and {table['item_b'][row]!r} are in different groups"
            raise table.error(row, "item_b", message)
    return Pairs(user, item_a, item_b, label, user_ids)


def load_dataset(
    items: str | Path, ratings: str | Path | None = None, pairs: str | Path | None = None,
    before: float | None = None,
) -> Dataset:
    """Read a data set: an items file plus a ratings file and/or a pairs file.

    A user id found in both ratings and pairs is one user: both ``ratings.user`` and
    ``pairs.user`` index the returned ``user_ids`` (ratings' users first, in order of
    first appearance). ``before``: only the ratings dated before it (module docstring).
    """
    if ratings is None and pairs is None:
        raise ValueError("a data set needs a ratings file and/or a pairs file besides the items; got neither")
    if before is not None and (pairs is not None or ratings is None):
        raise ValueError("training before a cut in time reads dated ratings only: pairs.csv has no dates")
    catalog = load_items(items)
    rated = None if ratings is None else load_ratings(ratings, catalog, before)
    paired = None if pairs is None else load_pairs(pairs, catalog)
    present = [part.user_ids for part in (rated, paired) if part is not None]
    codes, user_ids = _factorize(np.concatenate(present).tolist())
    if not len(user_ids):
        raise DataError(ratings or pairs or items, "no user has two or more ratings; there is nothing to learn from")
    skipped = {}
    if rated is not None:  # its users come first: their codes are unchanged
        rated = replace(rated, user_ids=user_ids)
        skipped = dict(rated.skipped)
    if paired is not None:
        paired = replace(paired, user=codes[len(codes) - len(paired.user_ids) :][paired.user], user_ids=user_ids)
    return Dataset(catalog, user_ids, ratings=rated, pairs=paired, skipped=skipped)


def train_val_test_users(
    user_ids: Sequence[str] | np.ndarray, holdout: float = 0.2, validation: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split users (not their ratings) into disjoint train, validation and test sets.

    ``round(holdout * n)`` users go to test, ``round(validation * n)`` to validation, the
    rest to train. The split depends only on the set of ids and ``seed``: ids are sorted
    before a seeded shuffle, so the order they come in does not matter.

    Returns
    -------
    train, val, test : arrays of ids, each in the order of ``user_ids``
    """
    for name, value in (("holdout", holdout), ("validation", validation)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    if holdout + validation >= 1:
        raise ValueError(f"holdout + validation must be below 1, got {holdout!r} + {validation!r}")
    ids = np.array(user_ids, dtype=STRING)
    if ids.ndim != 1:
        raise ValueError(f"user_ids must be one-dimensional, got shape {ids.shape}")
    repeat = _first_repeat(ids)
    if repeat is not None:
        raise ValueError(f"user id {ids[repeat[0]]!r} appears twice")
    n = len(ids)
    n_test, n_val = round(holdout * n), round(validation * n)
    if n and n_test + n_val >= n:
        raise ValueError(f"{n} users are too few for holdout={holdout!r} and validation={validation!r}: none left")
    shuffled = np.argsort(ids, kind="stable")[np.random.default_rng(seed).permutation(n)]
    part = np.zeros(n, dtype=np.int64)
    part[shuffled[:n_test]] = 2
    part[shuffled[n_test : n_test + n_val]] = 1
    return ids[part == 0], ids[part == 1], ids[part == 2]
