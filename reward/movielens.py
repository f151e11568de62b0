"""Convert a MovieLens download to prefchat's generic input files.

Reads the layout of the CSV releases (ml-latest-small, ml-latest, ml-25m, ...)::

    movies.csv   movieId,title,genres          genres |-separated
    ratings.csv  userId,movieId,rating,timestamp
    tags.csv     userId,movieId,tag,timestamp

and writes ``items.csv`` and ``ratings.csv`` in the format of :mod:`prefchat.reward.data`.
An item's text is its title, genres and most common user tags, e.g.
``Toy Story (1995). Genres: Adventure, Animation. Tags: pixar, fun``.

MovieLens is licensed for research only: the converted files carry the same licence and are
not to be committed or redistributed.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from .data import DataError, read_table

MOVIELENS_FILES = ("movies.csv", "ratings.csv", "tags.csv")
MAX_TAGS = 8
NO_GENRES = "(no genres listed)"


def top_tags(tags: Iterable[str], limit: int = MAX_TAGS) -> list[str]:
    """The ``limit`` most common tags, lower-cased and deduplicated, by count then alphabetically.

    ``|`` (the tags separator of ``items.csv``) and runs of white space become one space.
    """
    counts = Counter(" ".join(tag.replace("|", " ").lower().split()) for tag in tags)
    counts.pop("", None)
    return sorted(counts, key=lambda tag: (-counts[tag], tag))[:limit]


def movie_text(title: str, genres: Iterable[str], tags: Iterable[str]) -> str:
    """``"<title>. Genres: <g1>, <g2>. Tags: <t1>, <t2>"``, leaving out an empty part."""
    parts = [title]
    for label, values in (("Genres", list(genres)), ("Tags", list(tags))):
        if values:
            parts.append(f"{label}: {', '.join(values)}")
    return ". ".join(parts)


def convert_movielens(src_dir: str | Path, out_dir: str | Path) -> dict:
    """Write ``out_dir/items.csv`` and ``out_dir/ratings.csv`` from the MovieLens files in ``src_dir``.

    Items: ``item_id`` = movieId, ``title``, ``text`` (:func:`movie_text` of the genres and
    :func:`top_tags`), ``tags`` = the genres followed by those tags that are not already a
    genre; "(no genres listed)" is dropped. Ratings are copied with the columns renamed.

    Returns
    -------
    dict with the written paths ``items`` and ``ratings`` and the counts ``n_items``,
    ``n_ratings``, ``n_users`` and ``n_tagged_items``

    Raises
    ------
    DataError
        if a MovieLens file is missing or malformed, or a rating or tag names an unknown movie
    ValueError
        if ``out_dir`` is ``src_dir`` (the MovieLens ratings.csv would be overwritten)
    """
    src, out = Path(src_dir), Path(out_dir)
    missing = [name for name in MOVIELENS_FILES if not (src / name).is_file()]
    if missing:
        expected = ", ".join(MOVIELENS_FILES)
        raise DataError(src, f"not a MovieLens directory: missing {', '.join(missing)} (expected {expected})")
    if out.resolve() == src.resolve():
        raise ValueError(f"out_dir {str(out)!r} is the MovieLens directory; writing there would overwrite ratings.csv")
    movies = read_table(src / "movies.csv", ("movieId", "title", "genres"))
    ratings = read_table(src / "ratings.csv", ("userId", "movieId", "rating", "timestamp"))
    tags = read_table(src / "tags.csv", ("userId", "movieId", "tag"))
    known = dict.fromkeys(movies.nonempty("movieId"), True)
    ratings.lookup("movieId", known, f"a movieId of {src / 'movies.csv'}")
    tags.lookup("movieId", known, f"a movieId of {src / 'movies.csv'}")

    tags_of = defaultdict(list)
    for movie, tag in zip(tags["movieId"], tags["tag"]):
        tags_of[movie].append(tag)

    out.mkdir(parents=True, exist_ok=True)
    items_path, ratings_path = out / "items.csv", out / "ratings.csv"
    n_tagged = 0
    with open(items_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("item_id", "title", "text", "tags"))
        for movie, title, genre_cell in zip(movies["movieId"], movies["title"], movies["genres"]):
            genres = [genre for genre in genre_cell.split("|") if genre and genre != NO_GENRES]
            common = top_tags(tags_of.get(movie, ()))
            n_tagged += bool(common)
            lowered = {genre.lower() for genre in genres}
            descriptors = genres + [tag for tag in common if tag not in lowered]
            writer.writerow((movie, title, movie_text(title, genres, common), "|".join(descriptors)))
    with open(ratings_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("user_id", "item_id", "rating", "timestamp"))
        writer.writerows(zip(ratings["userId"], ratings["movieId"], ratings["rating"], ratings["timestamp"]))
    return {
        "items": items_path,
        "ratings": ratings_path,
        "n_items": movies.n_rows,
        "n_ratings": ratings.n_rows,
        "n_users": len(set(ratings["userId"])),
        "n_tagged_items": n_tagged,
    }
