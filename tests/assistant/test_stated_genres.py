"""A stated genre moves MovieLens picks its way, through the public API (bench/stated_genres.py)."""


import pytest

from prefchat.reward.pack import load_pack


@pytest.mark.slow
@pytest.mark.parametrize("answers", ["first", "alternate", "skip"])
def test_no_genre_halves_its_share_and_love_genre_raises_it(movielens_pack, answers, load_bench):
    """Whatever the onboarding answers: "I love documentary movies" from a profile that ranks no
    documentary near the top still brings one in."""
    bench = load_bench("stated_genres")
    report = bench.run(str(movielens_pack), answers)
    # What a user states is weighed by its own validated weight (the generated summary's, watch_beta,
    # may well be 0: validation decides whether it helps the ranking at all).
    assert load_pack(movielens_pack).beta("watch", stated=True) > 0
    for row in report["genres"]:
        assert row["after_no"] <= row["before"] / 2, row
        assert row["after_love"] > row["before"], row
        # the reply says the picks it shows changed exactly when they did
        for label in ("no", "love"):
            assert ("stay as they were" not in row[f"reply_{label}"]) == row[f"moved_{label}"], row


@pytest.mark.slow
def test_the_chat_suggests_a_genre_the_film_pack_acts_on(movielens_pack, embedding_model):
    """The invitation's example is the film pack's own ("no drama please", never "shorter answers"),
    and typed as suggested it is read as the dislike it states."""
    from prefchat.assistant.corrections import example_correction, parse_correction
    from prefchat.reward.featurize import embed_texts

    pack = load_pack(movielens_pack)
    example = example_correction(pack)
    genre = example.removeprefix("no ").removesuffix(" please")
    assert example == f"no {genre} please" and genre in pack.descriptors
    assert any(genre in (*axis.positive, *axis.negative) for axis in pack.axes)  # a taste, not "in netflix queue"
    weights = parse_correction(pack, example, lambda texts: embed_texts(texts, embedding_model))
    assert weights is not None and weights.get(genre, 0.0) < 0 and all(w < 0 for w in weights.values())
