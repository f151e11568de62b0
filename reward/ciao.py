"""Convert the Ciao release (Tang et al.) to prefchat's generic input files, with its trust graph.

Reads the CSV conversion of the release::

    ratings.csv  user_id,item_id,rating,timestamp,category_id,helpfulness
    trust.csv    user_id,trusted_user_id        "user_id trusts trusted_user_id", directed

and writes ``items.csv``, ``ratings.csv`` (the format of :mod:`prefchat.reward.data`) and
``friends.csv`` (the format of :mod:`prefchat.reward.friends`: a user's friends are the reviewers
they trust). Products have no names or texts in the release, only a category: an item's text is
``"category 12"``, so the sentence embedding carries only the category; the collaborative signal
is the known-items model's (:mod:`prefchat.elicitation.known`).

Kept: products rated by at least ``min_ratings`` distinct users (default :data:`MIN_RATINGS`:
105,114 products, most rated once, become about 11,000 with about 149,000 ratings, a pack that
builds in minutes on two cores), and one rating per user and product (the release repeats 1,436
pairs; the latest is kept, the last row among equal timestamps), and one category per product
(:func:`main_category`). Every trust link is written:
links of users the ratings lost are ignored and counted when friends are read.

Ciao is for research use only: the converted files carry the same terms and are not to be
committed or redistributed.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np

from .data import DataError, read_table

CIAO_FILES = ("ratings.csv", "trust.csv")
MIN_RATINGS = 5
"""Products rated by fewer distinct users are left out of the pack (see the module docstring)."""


def latest_per_pair(users: np.ndarray, items: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Row positions keeping one row per (user, item): the latest timestamp, the last row among ties; sorted."""
    order = np.lexsort((np.arange(len(users)), timestamps, items, users))  # last key sorts first
    pairs = np.stack([users[order], items[order]], axis=1)
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (pairs[1:] != pairs[:-1]).any(axis=1)
    return np.sort(order[last])


def main_category(items: list[str], categories: list[str]) -> dict[str, str]:
    """Each product's category: the one its rows give most often, the first met among equals
    (the release files 101 products under two categories)."""
    counts: dict[str, Counter[str]] = {}
    for item, category in zip(items, categories):
        counts.setdefault(item, Counter())[category] += 1
    return {item: count.most_common(1)[0][0] for item, count in counts.items()}


def convert_ciao(src_dir: str | Path, out_dir: str | Path, min_ratings: int = MIN_RATINGS) -> dict:
    """Write ``out_dir/{items,ratings,friends}.csv`` from the Ciao files in ``src_dir``.

    Items: ``item_id``, ``title`` (``"product <id>"``), ``text`` and ``tags`` (``"category <c>"``).
    Ratings: ``user_id,item_id,rating,timestamp`` of the kept products (module docstring). Friends:
    ``user_id,friend_id`` from ``trust.csv``.

    Returns
    -------
    dict with the written paths ``items``, ``ratings`` and ``friends`` and the counts ``n_items``,
    ``n_ratings``, ``n_users``, ``n_links``, ``n_items_dropped`` and ``n_repeats_dropped``

    Raises
    ------
    DataError
        if a Ciao file is missing or malformed
    ValueError
        if ``out_dir`` is ``src_dir`` (Ciao's ratings.csv would be overwritten) or ``min_ratings`` < 1
    """
    src, out = Path(src_dir), Path(out_dir)
    if min_ratings < 1:
        raise ValueError(f"min_ratings must be at least 1, got {min_ratings}")
    missing = [name for name in CIAO_FILES if not (src / name).is_file()]
    if missing:
        raise DataError(src, f"not a Ciao directory: missing {', '.join(missing)} (expected {', '.join(CIAO_FILES)})")
    if out.resolve() == src.resolve():
        raise ValueError(f"out_dir {str(out)!r} is the Ciao directory; writing there would overwrite ratings.csv")
    ratings = read_table(src / "ratings.csv", ("user_id", "item_id", "rating", "timestamp", "category_id"))
    trust = read_table(src / "trust.csv", ("user_id", "trusted_user_id"))
    users, items = np.array(ratings.ids("user_id")), np.array(ratings.ids("item_id"))
    values, timestamps = ratings.numbers("rating"), ratings.numbers("timestamp")
    category_of = main_category(items.tolist(), ratings.nonempty("category_id"))

    rows = latest_per_pair(users, items, timestamps)
    kept_items, counts = np.unique(items[rows], return_counts=True)
    kept_items = kept_items[counts >= min_ratings]
    rows = rows[np.isin(items[rows], kept_items)]

    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.csv" for name in ("items", "ratings", "friends")}
    with open(paths["items"], "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("item_id", "title", "text", "tags"))
        for item in sorted(kept_items.tolist(), key=lambda text: (len(text), text)):
            category = f"category {category_of[item]}"
            writer.writerow((item, f"product {item}", category, category))
    with open(paths["ratings"], "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("user_id", "item_id", "rating", "timestamp"))
        writer.writerows(zip(users[rows].tolist(), items[rows].tolist(), (f"{v:g}" for v in values[rows]),
                             (f"{t:.0f}" for t in timestamps[rows])))
    with open(paths["friends"], "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("user_id", "friend_id"))
        writer.writerows(zip(trust.ids("user_id"), trust.ids("trusted_user_id")))
    return {
        **paths,
        "n_items": len(kept_items),
        "n_ratings": len(rows),
        "n_users": len(np.unique(users[rows])),
        "n_links": trust.n_rows,
        "n_items_dropped": len(category_of) - len(kept_items),
        "n_repeats_dropped": ratings.n_rows - len(latest_per_pair(users, items, timestamps)),
    }
