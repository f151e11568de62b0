"""What a question's card shows: known answers, and properties of the opening over any text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.assistant.cards import PREVIEW_WORDS, card_preview, card_view, readable_title
from prefchat.assistant.turns import QuestionTurn
from prefchat.reward.pack import Item


@pytest.mark.parametrize(("title", "expected"), [
    ("Godfather, The (1972)", ("The Godfather", "1972")),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)", ("The City of Lost Children (Cité des enfants perdus, La)", "1995")),
    ("American President, The (1995)", ("The American President", "1995")),
    ("Independence Day (a.k.a. ID4) (1996)", ("Independence Day (a.k.a. ID4)", "1996")),
    ("How do I boil an egg? (answer 2)", ("How do I boil an egg? (answer 2)", None)),
    ("Heat", ("Heat", None)),
])
def test_a_title_reads_as_people_say_it(title, expected):
    assert readable_title(title) == expected


def test_a_short_text_is_shown_whole_and_a_long_one_opens_at_a_sentence():
    assert card_preview("Rinse, simmer, rest.") == card_preview("Rinse, simmer, rest.", limit=3)
    short = card_preview("Rinse, simmer, rest.")
    assert (short.head, short.rest, short.n_words) == ("Rinse, simmer, rest.", "", 3)
    text = "Use the absorption method. Rinse the rice twice. Then simmer it covered for fifteen minutes and rest it."
    long = card_preview(text, limit=10)
    assert (long.head, long.rest, long.n_words) == ("Use the absorption method. Rinse the rice twice.", "Then simmer it covered for fifteen minutes and rest it.", 18)


def test_a_cut_inside_a_sentence_is_marked_and_never_splits_code_or_bold():
    cut = card_preview("One two three four five six seven eight nine ten eleven twelve thirteen", limit=5)
    assert (cut.head, cut.rest) == ("One two three four five…", "…six seven eight nine ten eleven twelve thirteen")
    code = card_preview("Run `git reset --soft HEAD~1` to undo it, keeping your changes staged", limit=3)
    assert code.head == "Run…"
    fence = card_preview("Like this:\n\n```\nimport csv\nrows = list(csv.reader(f))\n```\n\nand done", limit=6)
    assert fence.head == "Like this:" and fence.rest.startswith("```")
    assert card_preview("1. Rinse.\n2. Simmer it covered on low heat.", limit=5).head != "1."  # a list number ends no sentence


words = st.text(alphabet=st.sampled_from("ab*`.\n "), min_size=1, max_size=6).filter(str.strip)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=60).map(" ".join), st.integers(1, 20))
def test_an_opening_is_at_most_the_limit_balanced_and_the_rest_follows_it(text, limit):
    preview = card_preview(text, limit)
    head, rest = preview.head.removesuffix("…"), preview.rest.removeprefix("…")
    assert " ".join((head + " " + rest).split()) == " ".join(text.split()), "nothing is lost or repeated"
    if preview.rest:
        assert len(head.split()) <= limit
        assert head.count("```") % 2 == 0 and head.count("**") % 2 == 0 and head.replace("```", "").count("`") % 2 == 0


def test_the_words_of_a_question_are_those_its_cards_show_first():
    """The greeting's time estimate reads QuestionTurn.words: the prompt, and each card's opening with
    its "Read all" line; a film card's title and chips, without the text that restates them."""
    long = Item("r1", "Prompt? (answer 1)", "Short first sentence. " + "More words follow here. " * 20, ())
    short = Item("r2", "Prompt? (answer 2)", "Just three words.", ())
    turn = QuestionTurn("s", "u", 1, 10, long, short, prompt="Which is better here?")
    assert turn.words == 4 + (11 + 5) + 3  # the prompt; an opening of 11 words and "Read all · 83 words"; the short card
    film = Item("858", "Godfather, The (1972)", "Godfather, The (1972). Genres: Crime, Drama.", ("Crime", "Drama"))
    assert card_view(film, grouped=False).words == ["The", "Godfather", "1972", "Crime", "Drama"]
    assert QuestionTurn("s", "u", 1, 10, film, film).words == 10
    assert PREVIEW_WORDS == 12
