import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefchat.assistant.parsing import CHOICES, normalise, parse_answer, parse_choice

KNOWN = {
    "a": ["A", "a", "1", "one", "the first one", "First", "left", "the left one", "option A", "I'd pick A", "1st"],
    "b": ["B", "b", "2", "second", "right", "right one", "the second one please", "B is better", "latter"],
    "tie": ["both", "both are fine", "either", "same", "they're the same", "no preference", "doesn't matter", "tie"],
    "skip": ["skip", "neither", "don't know", "I don't know either", "dunno", "no idea", "idk", "not sure", "pass"],
}
NOT_ANSWERS = ["", "   ", "hello", "a or b", "why?", "what is this", "the one", "🤷", "3", "first or second"]


@pytest.mark.parametrize("choice, text", [(c, t) for c, texts in KNOWN.items() for t in texts])
def test_known_answers(choice, text):
    assert parse_answer(text) == choice


@pytest.mark.parametrize("text", NOT_ANSWERS)
def test_not_an_answer_is_none(text):
    assert parse_answer(text) is None


def test_normalise_drops_apostrophes_punctuation_and_emoji():
    assert normalise("  Don’t KNOW!!! 🤷‍♀️ ") == "dont know"


def test_a_non_str_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="42"):
        parse_answer(42)


ANSWER_TEXTS = [t for texts in KNOWN.values() for t in texts]
DECORATION = st.text(alphabet=" \t\n.,!?;:()*\"'-~👍🙂🤔✨", max_size=6)


@given(
    st.sampled_from(ANSWER_TEXTS),
    st.lists(st.booleans(), min_size=40, max_size=40),
    DECORATION,
    DECORATION,
)
def test_case_and_surrounding_punctuation_do_not_matter(text, upper, before, after):
    shouted = "".join(c.upper() if up else c.lower() for c, up in zip(text, upper + [False] * len(text)))
    assert parse_answer(before + shouted + after) == parse_answer(text)


@given(st.text())
def test_any_text_parses_to_a_choice_or_none(text):
    assert parse_answer(text) in (*CHOICES, None)


@given(st.permutations(["1", "2", "3", "4"]), st.sampled_from(["{n}", "the {word} one", "{letter}"]))
def test_a_typed_position_picks_that_option_whatever_the_ids_look_like(ids, form):
    # MovieLens's ids 1 to 4 are films: "1" typed picks the first option shown, not Toy Story wherever it is.
    words = ["first", "second", "third", "fourth"]
    for n in range(4):
        text = form.format(n=n + 1, word=words[n], letter="ABCD"[n])
        assert parse_choice(text, ids) == ids[n]


def test_an_item_id_is_read_where_it_is_no_position_and_a_picked_card_by_its_id_only():
    ids = ["1", "m7", "33", "2"]
    assert parse_choice("m7", ids) == "m7" and parse_choice("33", ids) == "33"  # typed ids that are no position
    assert parse_choice("2", ids) == "m7"  # a position first
    assert parse_choice("2", ids, by_id=True) == "2" and parse_choice("1", ids, by_id=True) == "1"  # a card's id
    assert parse_choice("none of these", ids, by_id=True) is None  # an id, or no answer
    assert parse_choice("m8", ids, by_id=True) is None
    assert parse_choice("a", ["x", "y"], by_id=True) is None  # a pair is answered by its choices
    assert parse_choice("a", ["x", "y"]) == "a"
