import csv

import pytest

from prefchat.reward.data import DataError, load_dataset
from prefchat.reward.movielens import convert_movielens, movie_text, top_tags

MOVIES = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Comedy
2,"American President, The (1995)",Comedy|Drama|Romance
3,Obscure (2001),(no genres listed)
"""
RATINGS = """userId,movieId,rating,timestamp
1,1,4.0,964982703
1,2,3.5,964981247
2,1,5.0,964982224
2,3,0.5,964983815
"""
TAGS = """userId,movieId,tag,timestamp
1,1,Pixar,1
2,1,pixar,2
3,1,fun,3
3,1,  Fun ,4
4,1,animation,5
4,2,politics,6
1,2,a|b,7
"""


@pytest.fixture
def movielens(write):
    files = {"movies.csv": MOVIES, "ratings.csv": RATINGS, "tags.csv": TAGS}
    return [write(f"ml/{name}", content) for name, content in files.items()][0].parent


def rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_top_tags_by_count_then_alphabetically():
    tags = ["Zany", "zany", "heist", "Heist", "  dark   comedy ", "Dark comedy", "art", "b|c", ""]
    assert top_tags(tags) == ["dark comedy", "heist", "zany", "art", "b c"]
    assert top_tags(tags, limit=2) == ["dark comedy", "heist"]


def test_top_tags_keeps_eight():
    assert top_tags(f"tag{i}" for i in range(12)) == [f"tag{i}" for i in (0, 1, 10, 11, 2, 3, 4, 5)]


def test_movie_text_leaves_out_empty_parts():
    expected = "Heat (1995). Genres: Action, Crime. Tags: heist"
    assert movie_text("Heat (1995)", ["Action", "Crime"], ["heist"]) == expected
    assert movie_text("Heat (1995)", ["Action"], []) == "Heat (1995). Genres: Action"
    assert movie_text("Heat (1995)", [], []) == "Heat (1995)"


def test_convert_writes_generic_items_and_ratings(movielens, tmp_path):
    out = tmp_path / "out"
    written = convert_movielens(movielens, out)
    assert written == {
        "items": out / "items.csv",
        "ratings": out / "ratings.csv",
        "n_items": 3,
        "n_ratings": 4,
        "n_users": 2,
        "n_tagged_items": 2,
    }
    items = rows(out / "items.csv")
    assert items[0] == {
        "item_id": "1",
        "title": "Toy Story (1995)",
        "text": "Toy Story (1995). Genres: Adventure, Animation, Comedy. Tags: fun, pixar, animation",
        "tags": "Adventure|Animation|Comedy|fun|pixar",
    }
    assert items[1]["title"] == "American President, The (1995)"
    assert items[1]["text"] == "American President, The (1995). Genres: Comedy, Drama, Romance. Tags: a b, politics"
    assert items[1]["tags"] == "Comedy|Drama|Romance|a b|politics"
    assert items[2] == {"item_id": "3", "title": "Obscure (2001)", "text": "Obscure (2001)", "tags": ""}
    assert rows(out / "ratings.csv")[1] == {"user_id": "1", "item_id": "2", "rating": "3.5", "timestamp": "964981247"}


def test_converted_files_load_as_a_dataset(movielens, tmp_path):
    written = convert_movielens(movielens, tmp_path / "out")
    dataset = load_dataset(written["items"], written["ratings"])
    assert dataset.items.tags[0] == ("Adventure", "Animation", "Comedy", "fun", "pixar")
    assert dataset.user_ids.tolist() == ["1", "2"]
    assert dataset.ratings.rating.tolist() == [4.0, 3.5, 5.0, 0.5]
    assert dataset.ratings.timestamp[0] == 964982703


def test_missing_movielens_file_is_named(movielens, tmp_path):
    (movielens / "tags.csv").unlink()
    with pytest.raises(DataError, match="missing tags.csv"):
        convert_movielens(movielens, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_rating_of_an_unknown_movie(movielens, write, tmp_path):
    write("ml/ratings.csv", RATINGS + "2,99,3.0,1\n")
    with pytest.raises(DataError, match=r"ratings.csv, line 6, column movieId: '99' is not a movieId"):
        convert_movielens(movielens, tmp_path / "out")


def test_refuses_to_write_over_the_source(movielens):
    with pytest.raises(ValueError, match="would overwrite"):
        convert_movielens(movielens, movielens / ".")
    assert (movielens / "ratings.csv").read_text() == RATINGS


def test_real_movielens(tmp_path, movielens_dir):
    written = convert_movielens(movielens_dir, tmp_path)
    assert (written["n_items"], written["n_ratings"], written["n_users"]) == (9742, 100836, 610)
    dataset = load_dataset(written["items"], written["ratings"])
    assert (dataset.items.n_items, dataset.ratings.n_ratings, dataset.n_users) == (9742, 100836, 610)
    assert dataset.skipped == {"users_with_fewer_than_two_ratings": 0}
    toy_story = dataset.items.index["1"]
    assert dataset.items.texts[toy_story].startswith("Toy Story (1995). Genres: Adventure, Animation, Children")
