import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefchat.assistant.intents import (
    EXAMPLES,
    INTENTS,
    Intent,
    IntentRecognizer,
    match_item,
    nearest_example,
    title_key,
)
from prefchat.assistant.turns import ReplyTurn, ResultTurn

PHRASINGS = [
    ("why Heat?", "why", "Heat"),
    ('Why did you recommend "Toy Story"?', "why", "Toy Story"),
    ("why is The Matrix", "why", "The Matrix"),
    ("more like Heat", "more_like", "Heat"),
    ("Something similar to Alien, please", "more_like", "Alien"),
    ("show me more movies like Amelie", "more_like", "Amelie"),
    ("less like Titanic", "less_like", "Titanic"),
    ("show me less obvious picks", "less_obvious", ""),
    ("something less mainstream please", "less_obvious", ""),
    ("any hidden gems?", "less_obvious", ""),
    ("no more like Titanic!", "less_like", "Titanic"),
    ("👍 Heat", "thumbs_up", "Heat"),
    ("Heat 👍", "thumbs_up", "Heat"),
    ("thumbs up for Heat", "thumbs_up", "Heat"),
    ("+1 Heat", "thumbs_up", "Heat"),
    ("👎 Cats", "thumbs_down", "Cats"),
    ("thumbs down: Cats", "thumbs_down", "Cats"),
    ("What do you know about me?", "profile", ""),
    ("show my profile", "profile", ""),
    ("what have you learned", "profile", ""),
    ("actually I love musicals", "correct", "actually I love musicals"),
    ("no horror please", "correct", "no horror please"),
    ("I really don't like slapstick", "correct", "I really don't like slapstick"),
    ("I'm not into romance", "correct", "I'm not into romance"),
    ("would I like Heat?", "help", ""),  # a question, not a correction
    ("recommend something", "recommend", ""),
    ("what should I watch tonight?", "recommend", ""),
    ("undo", "undo", ""),
    ("go back", "undo", ""),
    ("Done!", "finish", ""),
    ("start over", "start_over", ""),
    ("Can we start again?", "start_over", ""),
    ("forget me", "forget", ""),
    ("please delete my data", "forget", ""),
    ("yes, forget me", "confirm_forget", ""),
    ("YES forget me!!", "confirm_forget", ""),
    ("yes", "confirm_forget", ""),
    ("Yes please, delete everything", "confirm_forget", ""),
    ("yes but wait", "help", ""),
    ("hello", "help", ""),
    ("", "help", ""),
]


@pytest.mark.parametrize("text, name, argument", PHRASINGS)
def test_patterns_recognise_the_phrasings(text, name, argument):
    assert IntentRecognizer()(text) == Intent(name, argument)


def test_every_intent_but_help_has_a_phrasing_in_the_table():
    assert {name for _, name, _ in PHRASINGS} == set(INTENTS)


@pytest.mark.parametrize(
    "text, name",
    [
        ("tell me what you learned about my taste", "profile"),
        ("give me some suggestions for me", "recommend"),
        ("erase everything you know about me", "forget"),
        ("how does this work", "help"),
    ],
)
def test_similarity_to_examples_decides_when_no_pattern_matches(text, name, embed):
    recognise = IntentRecognizer(embed, threshold=0.5)
    assert recognise(text).name == name


def test_dissimilar_text_falls_back_to_help(embed):
    assert IntentRecognizer(embed, threshold=0.5)("purple elephants juggle marmalade") == Intent("help")


def test_examples_are_embedded_once(embed):
    calls = []
    recognise = IntentRecognizer(lambda texts: calls.append(list(texts)) or embed(texts))
    recognise("zebra")
    recognise("giraffe")
    assert len(calls) == 3 and len(calls[0]) == sum(len(p) for p in EXAMPLES.values())


def test_nearest_example_known_answer():
    examples = np.array([[1.0, 0.0], [0.6, 0.8]])
    assert nearest_example(np.array([0.0, 1.0]), examples, threshold=0.5) == 1
    assert nearest_example(np.array([0.0, 1.0]), examples, threshold=0.9) is None


@given(st.text(max_size=60))
def test_any_message_gets_a_known_intent(text):
    assert IntentRecognizer()(text).name in INTENTS


def test_an_unknown_intent_name_is_a_value_error():
    with pytest.raises(ValueError, match="teleport"):
        Intent("teleport")


TITLES = ["Toy Story 2 (1999)", "Toy Story (1995)", "Heat (1995)", "Matrix, The (1999)", "Heat and Dust (1983)"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("toy story", 1),  # exact on the title key beats the longer title containing it
        ("TOY STORY 2", 0),
        ("heat", 2),
        ("Heat (1995)", 2),
        ("the matrix", 3),  # "Matrix, The" is said "the matrix"
        ("'Heet'?", 2),  # a typo: difflib
        ("dust", 4),  # contained
        ("zzzz", None),
        ("", None),
    ],
)
def test_match_item(query, expected):
    assert match_item(query, TITLES) == expected


def test_title_key():
    assert title_key("Matrix, The (1999)") == "the matrix"
    assert title_key("How do I cook rice? (answer 3)") == "how do i cook rice?"


@pytest.mark.slow
@pytest.mark.parametrize(
    "text, name",
    [
        ("tell me about my tastes", "profile"),
        ("what are you able to do", "help"),
        ("give me ideas", "recommend"),
        ("wipe all my info", "forget"),
        ("the weather is nice today", "help"),
        ("ok", "help"),
    ],
)
def test_the_real_embedding_model_and_default_threshold(text, name, embedding_model):
    from prefchat.reward.featurize import embed_texts

    assert IntentRecognizer(lambda texts: embed_texts(list(texts), embedding_model))(text).name == name


# Messages that held the old patterns for seconds to minutes: a lazy item followed by a run the
# engine rescanned from every position, and "is it a question?" rescanned after every "?".
HOSTILE = [
    "a" + " " * 45_000 + "x",
    "a" + "." * 45_000 + "x",
    "a" + ". " * 22_500 + "x",
    "?" * 45_000 + "x",
    "i" + " " * 45_000 + "x",
    "more like " + "a" * 45_000 + " x",
    "i " + "really " * 6_000 + "x",
    "-1" * 22_500,
    "no " * 15_000,
    "yes" + "!" * 45_000 + "x",
    "Heat" + " " * 45_000 + "👍",
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda text: f"{text[:8]!r}..{len(text)}")
def test_a_45000_character_message_is_recognised(text):
    # How long it takes, and how that grows with the message: bench/bench_inputs.py.
    assert IntentRecognizer()(text).name in INTENTS


@pytest.mark.parametrize(
    "text, name, argument",
    [
        ("why\nHeat?", "why", "Heat"),  # a line break is a space
        ("more like   Heat ,  please", "more_like", "Heat"),
        ("why is", "why", "is"),  # the optional words are the item when nothing follows
        ("thumbs up to", "thumbs_up", "to"),
        ("more like ?!", "help", ""),  # punctuation is no item
        ("I love musicals?!", "help", ""),  # a question is no correction
    ],
)
def test_whitespace_and_punctuation_around_items(text, name, argument):
    assert IntentRecognizer()(text) == Intent(name, argument)


@pytest.mark.parametrize("text", HOSTILE[:5], ids=lambda text: f"{text[:8]!r}..{len(text)}")
def test_the_engine_answers_a_45000_character_message(conversation, text):
    first = conversation.start("alice")
    conversation.say(first.session_id, text)  # onboarding: parsed as an answer, or re-asked
    conversation.finish(first.session_id)
    assert isinstance(conversation.say("alice", text), ReplyTurn | ResultTurn)  # after onboarding: an intent
