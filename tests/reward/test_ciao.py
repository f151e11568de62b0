"""The Ciao adapter: products kept by their raters, repeats by their latest, one category each, trust as friends."""

import csv

import numpy as np
import pytest

from prefchat.reward.ciao import convert_ciao, latest_per_pair, main_category
from prefchat.reward.data import DataError, load_dataset
from prefchat.reward.friends import load_friends

RATINGS = """user_id,item_id,rating,timestamp,category_id,helpfulness
1,10,3,100,7,1
1,10,5,200,7,1
1,11,4,100,8,1
2,10,2,100,7,1
2,11,4,100,9,1
2,12,5,100,7,1
3,10,4,100,7,1
3,11,1,100,8,1
"""
TRUST = "user_id,trusted_user_id\n1,2\n2,1\n3,9\n"


def _rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_products_rated_by_enough_users_are_kept_with_the_latest_rating_and_their_main_category(write, tmp_path):
    write("ciao/ratings.csv", RATINGS)
    write("ciao/trust.csv", TRUST)
    written = convert_ciao(tmp_path / "ciao", tmp_path / "out", min_ratings=2)
    assert (written["n_items"], written["n_items_dropped"], written["n_repeats_dropped"]) == (2, 1, 1)
    items = {row["item_id"]: row for row in _rows(written["items"])}
    assert set(items) == {"10", "11"}  # 12 was rated once
    assert items["10"]["text"] == "category 7" and items["11"]["tags"] == "category 8"  # 8 twice, 9 once
    ratings = {(row["user_id"], row["item_id"]): row["rating"] for row in _rows(written["ratings"])}
    assert ratings[("1", "10")] == "5" and len(ratings) == 6  # the later of user 1's two ratings of 10
    friends = load_friends(written["friends"])
    assert friends.of("1") == {"2": 1.0} and friends.of("2") == {"1": 1.0} and friends.of("3") == {"9": 1.0}
    dataset = load_dataset(written["items"], written["ratings"])  # prefchat reads what it wrote
    assert dataset.n_users == 3


def test_a_repeat_keeps_its_latest_row_and_ties_the_last():
    users, items, timestamps = np.array(["a", "a", "a", "b"]), np.array(["x", "x", "y", "x"]), np.array([5.0, 5.0, 1.0, 2.0])
    assert latest_per_pair(users, items, timestamps).tolist() == [1, 2, 3]
    assert main_category(["p", "p", "p", "q"], ["2", "1", "1", "3"]) == {"p": "1", "q": "3"}
    assert main_category(["p", "p"], ["2", "1"]) == {"p": "2"}  # equals: the first met


def test_bad_directories_are_refused(write, tmp_path):
    write("ciao/ratings.csv", RATINGS)
    with pytest.raises(DataError, match="missing trust.csv"):
        convert_ciao(tmp_path / "ciao", tmp_path / "out")
    write("ciao/trust.csv", TRUST)
    with pytest.raises(ValueError, match="overwrite"):
        convert_ciao(tmp_path / "ciao", tmp_path / "ciao")
    with pytest.raises(ValueError, match="min_ratings"):
        convert_ciao(tmp_path / "ciao", tmp_path / "out", min_ratings=0)
