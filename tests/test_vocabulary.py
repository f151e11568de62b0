"""The four answers (a, b, tie, skip) are defined once, in the posterior; every layer speaks them."""

import typing

from prefchat.elicitation.posterior import CHOICES
from prefchat.storage import PAIRWISE_CHOICES
from prefchat.ui.schemas import Choice


def test_the_four_answers_are_those_of_the_posterior_in_every_layer():
    assert CHOICES == ("a", "b", "tie", "skip")
    assert PAIRWISE_CHOICES == CHOICES  # storage cannot import elicitation: it checks the same four
    assert typing.get_args(Choice) == CHOICES  # the REST schema spells them as a Literal for OpenAPI
