import csv
import io
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prefchat.reward.data import (
    AFTER_THE_CUT,
    FEWER_THAN_TWO,
    DataError,
    first_invisible,
    load_dataset,
    load_items,
    load_pairs,
    load_ratings,
    opening,
    read_table,
    train_val_test_users,
    visible_id,
)

ITEMS = """item_id,text,tags
m1,A heist goes wrong,Crime|heist
m2,Two friends sing,Musical
m3,A dark comedy,Comedy| dark |
"""


@contextmanager
def data_error(name, line=None, column=None, says=""):
    """Expect a DataError located at ``name``, ``line``, ``column`` whose message contains ``says``."""
    with pytest.raises(DataError) as info:
        yield
    error = info.value
    assert Path(error.path).name == name
    assert (error.line, error.column) == (line, column), str(error)
    assert says in str(error)


@pytest.fixture
def items(write):
    return load_items(write("items.csv", ITEMS))


def test_load_items_reads_ids_texts_tags_and_default_titles(write):
    long_text = "x" * 70
    catalog = load_items(write("items.csv", ITEMS + f"m4,{long_text},\n"))
    assert catalog.n_items == 4
    assert catalog.item_ids.tolist() == ["m1", "m2", "m3", "m4"]
    assert catalog.titles.tolist() == ["A heist goes wrong", "Two friends sing", "A dark comedy", "x" * 60]
    assert catalog.tags == (("Crime", "heist"), ("Musical",), ("Comedy", "dark"), ())
    assert catalog.groups is None
    assert catalog.index == {"m1": 0, "m2": 1, "m3": 2, "m4": 3}


def test_load_items_handles_bom_quotes_newlines_and_column_order(write):
    content = 'title,text,item_id\r\n"Heat, 1995","Line one,\nline ""two""",7\r\n,plain,8\r\n'
    catalog = load_items(write("items.csv", b"\xef\xbb\xbf" + content.encode()))
    assert catalog.item_ids.tolist() == ["7", "8"]
    assert catalog.texts.tolist() == ['Line one,\nline "two"', "plain"]
    assert catalog.titles.tolist() == ["Heat, 1995", "plain"]


def test_groups_are_coded_in_order_of_first_appearance(write):
    catalog = load_items(write("items.csv", "item_id,text,group\na,x,p2\nb,y,p1\nc,z,p2\n"))
    assert catalog.groups.tolist() == [0, 1, 0]


def test_missing_file_is_named(tmp_path):
    with data_error("items.csv", says="no such file"):
        load_items(tmp_path / "items.csv")


def test_load_ratings_known_answer(write, items):
    path = write("ratings.csv", "user_id,item_id,rating,timestamp\nu1,m1,4,10\nu2,m3,1.5,11\nu1,m2,2,12\nu2,m1,5,13\n")
    ratings = load_ratings(path, items)
    assert ratings.user_ids.tolist() == ["u1", "u2"]
    assert ratings.user.tolist() == [0, 1, 0, 1]
    assert ratings.item.tolist() == [0, 2, 1, 0]
    assert ratings.rating.tolist() == [4.0, 1.5, 2.0, 5.0]
    assert ratings.timestamp.tolist() == [10.0, 11.0, 12.0, 13.0]
    assert ratings.skipped == {FEWER_THAN_TWO: 0}


def test_users_with_fewer_than_two_ratings_are_skipped_and_counted(write, items):
    rows = ["a,m1,1", "b,m1,2", "a,m2,3", "c,m3,4", "d,m2,5", "d,m3,1"]
    ratings = load_ratings(write("ratings.csv", "user_id,item_id,rating\n" + "\n".join(rows)), items)
    assert ratings.skipped == {FEWER_THAN_TWO: 2}
    assert ratings.user_ids.tolist() == ["a", "d"]
    assert ratings.user.tolist() == [0, 0, 1, 1]
    assert ratings.rating.tolist() == [1.0, 3.0, 5.0, 1.0]
    assert ratings.timestamp is None


def test_training_before_a_cut_reads_no_rating_dated_at_or_after_it(write, items):
    """The cut first, then the two-ratings rule: "b" keeps one rating before the cut and is skipped."""
    rows = ["a,m1,1,5", "a,m2,3,9", "a,m3,4,10", "b,m1,2,1", "b,m2,5,12", "c,m3,1,11", "c,m2,2,20"]
    ratings = load_ratings(write("ratings.csv", "user_id,item_id,rating,timestamp\n" + "\n".join(rows)), items, before=10.0)
    assert ratings.user_ids.tolist() == ["a"]
    assert ratings.rating.tolist() == [1.0, 3.0] and ratings.timestamp.tolist() == [5.0, 9.0]
    assert ratings.skipped == {FEWER_THAN_TWO: 2, AFTER_THE_CUT: 4}
    undated = write("undated.csv", "user_id,item_id,rating\na,m1,1\na,m2,3\n")
    with pytest.raises(DataError, match="undated.csv: .*no 'timestamp' column"):
        load_ratings(undated, items, before=10.0)
    pairs = write("pairs.csv", "user_id,item_a,item_b,choice\na,m1,m2,a\n")
    with pytest.raises(ValueError, match="pairs.csv has no dates"):
        load_dataset(write("items.csv", ITEMS), pairs=pairs, before=10.0)


def test_rating_that_is_not_a_number(write, items):
    path = write("ratings.csv", "user_id,item_id,rating\nu,m1,4\nu,m2,abc\n")
    with pytest.raises(DataError) as info:
        load_ratings(path, items)
    assert str(info.value) == f"{path}, line 3, column rating: 'abc' is not a number"


def test_load_pairs_known_answer(write, items):
    pairs = load_pairs(write("pairs.csv", "user_id,item_a,item_b,choice\nx,m1,m2,a\ny,m2,m3,b\nx,m3,m1,tie\n"), items)
    assert pairs.user_ids.tolist() == ["x", "y"]
    assert pairs.user.tolist() == [0, 1, 0]
    assert pairs.item_a.tolist() == [0, 1, 2]
    assert pairs.item_b.tolist() == [1, 2, 0]
    assert pairs.label.tolist() == [1.0, 0.0, 0.5]
    assert pairs.n_pairs == 3


R = "user_id,item_id,rating\n"
P = "user_id,item_a,item_b,choice\n"
LOADERS = {"ratings.csv": load_ratings, "pairs.csv": load_pairs}
BAD_FILES = [  # name, content, line, column, the message says
    ("items.csv", "", None, None, "empty file; expected a header line such as item_id,text"),
    ("items.csv", "\n\n", None, None, "empty file"),
    ("items.csv", "\ufeff", None, None, "empty file"),
    ("items.csv", "item_id,text\n", None, None, "no rows after the header"),
    ("items.csv", "item_id,text,text\n1,a,b\n", 1, None, "column text appears twice"),
    ("items.csv", "item_id,text\n1,a\n2,b,c\n", 3, None, "3 fields, the header has 2"),
    ("items.csv", 'item_id,text\n1,a\n2,"b\n', 3, None, "malformed CSV"),
    ("items.csv", "item_id,text\n1,caf\xe9\n".encode("latin-1"), 2, None, "byte 0xe9 at byte offset 18"),
    ("items.csv", b"\xef\xbb\xbfit\xffem_id,text\n1,a\n", 1, None, "byte 0xff at byte offset 5"),
    ("items.csv", "item_id,text\n1,a\n2,\n", 3, "text", "empty text"),
    ("items.csv", 'item_id,text\n1,"two\nlines"\n\n2,"   "\n', 5, "text", "empty text"),
    ("items.csv", "item_id,text\n1,a\n2,b\n1,c\n", 4, "item_id", "duplicate item id '1', first on line 2"),
    ("items.csv", 'item_id,text\n1,"a\nb"\n1,"c\nd"\n', 4, "item_id", "duplicate item id '1', first on line 2"),
    ("ratings.csv", "user_id,item,score\nu,m1,3\n", 1, None, "missing required column item_id, rating (found: user_id"),
    ("ratings.csv", R + "u,m1,4\nu,m2,inf\n", 3, "rating", "'inf' is not a finite number"),
    ("ratings.csv", R + "u,m1,4\nu,m2,-Infinity\n", 3, "rating", "'-Infinity' is not a finite number"),
    ("ratings.csv", R + "u,m1,nan\n", 2, "rating", "'nan' is not a finite number"),
    ("ratings.csv", R + "u,m1,1e999\n", 2, "rating", "'1e999' is not a finite number"),
    ("ratings.csv", R + "u,m1,\n", 2, "rating", "'' is not a number"),
    ("ratings.csv", R + "u,m1,4\nu,m9,2\n", 3, "item_id", "'m9' is not an item id of the items file"),
    ("ratings.csv", R + ",m1,4\n", 2, "user_id", "empty user_id"),
    ("ratings.csv", R + "u,m1,4\nv,m1,2\nu,m1,5\n", 4, "item_id", "user 'u' rated item 'm1' twice, first on line 2"),
    # issue 24, findings 7 and 9: ids are visible text (a NUL id trained, then every session on the pack was a 500)
    ("items.csv", "item_id,text\n1,a\nm\x002,b\n", 3, "item_id", "'m\\x002' is not visible text"),
    ("items.csv", "item_id,text\n1,a\n\u3164,b\n", 3, "item_id", "is not visible text"),
    ("items.csv", "item_id,text\n1,a\n\u2800,b\n", 3, "item_id", "is not visible text"),
    ("ratings.csv", R + "u,m1,4\n\u00a0,m1,2\n", 3, "user_id", "empty user_id"),  # cells are stripped
    ("ratings.csv", R + "u,m1,4\na\u00a0b,m1,2\n", 3, "user_id", "'a\\xa0b' is not visible text"),
    ("ratings.csv", R + "u\u200bv,m1,4\n", 2, "user_id", "is not visible text"),
    ("pairs.csv", P + "x,m1,m2,a\n\u3164,m1,m2,b\n", 3, "user_id", "is not visible text"),
    ("pairs.csv", P + "x,m1,m2,left\n", 2, "choice", "'left' is not one of a, b, tie"),
    ("pairs.csv", P + "x,m1,m2,A\n", 2, "choice", "'A' is not one of a, b, tie"),
    ("pairs.csv", P + "x,m1,zz,a\n", 2, "item_b", "'zz' is not an item id"),
    ("pairs.csv", P + "x,m1,m2,a\nx,m2,m2,b\n", 3, "item_b", "item 'm2' is compared with itself"),
    ("pairs.csv", P + "x,m1,m2,a\n\nx,m2,m2,b\n", 4, "item_b", "item 'm2' is compared with itself"),
]


@pytest.mark.parametrize(("name", "content", "line", "column", "says"), BAD_FILES)
def test_bad_file_is_located(write, items, name, content, line, column, says):
    path = write(name, content)
    with data_error(name, line, column, says):
        load_items(path) if name == "items.csv" else LOADERS[name](path, items)


def test_pair_across_groups(write):
    catalog = load_items(write("items.csv", "item_id,text,group\na,x,p1\nb,y,p1\nc,z,p2\n"))
    pairs = load_pairs(write("pairs.csv", "user_id,item_a,item_b,choice\nu,a,b,a\n"), catalog)
    assert pairs.n_pairs == 1
    with data_error("pairs.csv", 2, "item_b", "items 'b' and 'c' are in different groups"):
        load_pairs(write("pairs.csv", "user_id,item_a,item_b,choice\nu,b,c,a\n"), catalog)


def test_dataset_shares_users_between_ratings_and_pairs(write):
    items = write("items.csv", ITEMS)
    ratings = write("ratings.csv", "user_id,item_id,rating\nr,m1,1\nboth,m1,5\nboth,m2,3\nr,m3,2\nlone,m1,4\n")
    pairs = write("pairs.csv", "user_id,item_a,item_b,choice\np,m1,m2,a\nboth,m2,m3,b\n")
    dataset = load_dataset(items, ratings, pairs)
    assert dataset.user_ids.tolist() == ["r", "both", "p"]
    assert dataset.n_users == 3
    assert dataset.ratings.user_ids is dataset.user_ids and dataset.pairs.user_ids is dataset.user_ids
    assert dataset.user_ids[dataset.ratings.user].tolist() == ["r", "both", "both", "r"]
    assert dataset.user_ids[dataset.pairs.user].tolist() == ["p", "both"]
    assert dataset.skipped == {FEWER_THAN_TWO: 1}


def test_dataset_from_pairs_only(write):
    pairs = write("pairs.csv", "user_id,item_a,item_b,choice\np,m1,m2,a\n")
    dataset = load_dataset(write("items.csv", ITEMS), pairs=pairs)
    assert dataset.ratings is None and dataset.skipped == {}
    assert dataset.user_ids.tolist() == ["p"]


def test_dataset_needs_ratings_or_pairs(write):
    with pytest.raises(ValueError, match="got neither"):
        load_dataset(write("items.csv", ITEMS))


def test_dataset_where_every_user_is_skipped(write):
    ratings = write("ratings.csv", "user_id,item_id,rating\na,m1,1\nb,m2,2\n")
    with data_error("ratings.csv", says="no user has two or more ratings"):
        load_dataset(write("items.csv", ITEMS), ratings)


def test_read_table_keeps_only_the_columns_asked_for(write):
    table = read_table(write("t.csv", "a, b ,c\n1, 2 ,3\n"), required=("a",), optional=("b", "z"))
    assert table.columns == {"a": ["1"], "b": ["2"]}
    assert table.lines == [2]


def _csv(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1).filter(str.strip)


@settings(max_examples=50, deadline=None)
@given(st.lists(texts, min_size=1, max_size=8))
def test_any_text_survives_a_csv_round_trip(item_texts):
    rows = [(str(i), text) for i, text in enumerate(item_texts)]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "items.csv"
        path.write_text(_csv(("item_id", "text"), rows), encoding="utf-8", newline="")
        catalog = load_items(path)
    assert catalog.texts.tolist() == [text.strip() for text in item_texts]


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.tuples(st.integers(0, 5), st.integers(0, 2)), st.floats(-5, 5, allow_nan=False), min_size=1))
def test_ratings_round_trip_and_skip_count(table):
    rows = [(f"u{user}", f"m{item + 1}", repr(rating)) for (user, item), rating in table.items()]
    counts = {user: sum(u == user for u, _, _ in rows) for user, _, _ in rows}
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        (directory / "items.csv").write_text(ITEMS, encoding="utf-8")
        (directory / "ratings.csv").write_text(_csv(("user_id", "item_id", "rating"), rows), encoding="utf-8")
        ratings = load_ratings(directory / "ratings.csv", load_items(directory / "items.csv"))
    kept = [row for row in rows if counts[row[0]] >= 2]
    assert ratings.skipped == {FEWER_THAN_TWO: sum(count < 2 for count in counts.values())}
    assert ratings.user_ids[ratings.user].tolist() == [user for user, _, _ in kept]
    assert ratings.item.tolist() == [int(item[1:]) - 1 for _, item, _ in kept]
    assert ratings.rating.tolist() == [float(rating) for _, _, rating in kept]




def test_split_sizes_and_disjointness():
    ids = [str(i) for i in range(610)]
    train, val, test = train_val_test_users(ids)
    assert (len(train), len(val), len(test)) == (427, 61, 122)
    assert sorted(np.concatenate([train, val, test]).tolist()) == sorted(ids)


def test_split_is_seeded_and_ignores_input_order():
    ids = [f"user{i}" for i in range(100)]
    first = train_val_test_users(ids, seed=3)
    again = train_val_test_users(ids[::-1], seed=3)
    other = train_val_test_users(ids, seed=4)
    assert all(sorted(a.tolist()) == sorted(b.tolist()) for a, b in zip(first, again))
    assert sorted(first[2].tolist()) != sorted(other[2].tolist())


def test_split_keeps_input_order_within_parts():
    ids = np.array(["d", "b", "a", "c", "e"])
    for part in train_val_test_users(ids, holdout=0.4, validation=0.2):
        positions = [ids.tolist().index(user) for user in part.tolist()]
        assert positions == sorted(positions)


@given(st.sets(st.text(min_size=1, max_size=4), max_size=60), st.floats(0, 0.45), st.floats(0, 0.45), st.integers(0, 5))
def test_split_property(ids, holdout, validation, seed):
    ids = sorted(ids)
    n_test, n_val = round(holdout * len(ids)), round(validation * len(ids))
    if ids and n_test + n_val >= len(ids):
        with pytest.raises(ValueError, match="too few"):
            train_val_test_users(ids, holdout, validation, seed)
        return
    train, val, test = train_val_test_users(ids, holdout, validation, seed)
    parts = [set(part.tolist()) for part in (train, val, test)]
    assert parts[0] | parts[1] | parts[2] == set(ids)
    assert sum(map(len, parts)) == len(ids)
    assert (len(test), len(val)) == (n_test, n_val)
    assert len(train) > 0 or not ids


@pytest.mark.parametrize(
    ("holdout", "validation", "says"),
    [
        (-0.1, 0.1, "holdout must be in [0, 1), got -0.1"),
        (0.2, 1.0, "validation must be in [0, 1), got 1.0"),
        (0.6, 0.4, "0.6 + 0.4"),
    ],
)
def test_split_rejects_bad_fractions(holdout, validation, says):
    with pytest.raises(ValueError) as info:
        train_val_test_users(["a", "b"], holdout, validation)
    assert says in str(info.value)


def test_split_rejects_repeated_ids_and_too_few_users():
    with pytest.raises(ValueError, match="'a' appears twice"):
        train_val_test_users(["a", "b", "a"])
    with pytest.raises(ValueError, match="3 users are too few"):
        train_val_test_users(["a", "b", "c"], holdout=0.5, validation=0.4)


@settings(max_examples=200)
@example(["a\x1fa"])  # the fast pass's own separator inside an id
@given(st.lists(st.text(alphabet=st.sampled_from("ab \x00\x1f\u00a0\u3164\u2800\u200bé"), max_size=4), max_size=6))
def test_first_invisible_is_the_first_id_that_is_not_visible(ids):
    """The fast pass over the joined ids finds the same id as checking them one by one."""
    expected = next((n for n, text in enumerate(ids) if not visible_id(text)), None)
    assert first_invisible(ids) == expected


@pytest.mark.parametrize("text, n, expected", [
    ("The short version:\n\n- **Sun:** the sunniest spot you have.", 5, "The short version: Sun: the…"),
    ("1. Rinse the rice and use a lid", 6, "Rinse the rice and use a…"),
    ("`pd.read_csv()` reads it, _quickly_", 6, "pd.read_csv() reads it, quickly"),
    ("# Heading\n> quoted text in C#", 9, "Heading quoted text in C#"),
    ("Rates rose 5.5% in 2023 - a lot", 8, "Rates rose 5.5% in 2023 - a lot"),
])
def test_an_opening_is_the_first_words_in_plain_words(text, n, expected):
    assert opening(text, n) == expected
