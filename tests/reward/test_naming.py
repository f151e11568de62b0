"""Text measures of the styles vocabulary: what an answer has is counted, how it sounds is a rate."""

from prefchat.reward.naming import TEXT_MEASURES

SHORT = "Usually yes."
LONG = ("It depends. Check the label first: it might say otherwise, and the rules often change, so it is "
        "probably wise to consult someone who knows. Be careful with the last step.")


def test_caveats_are_counted_not_diluted():
    """Five caveats in a long answer make it more cautious than one in a two-word answer (as a rate
    per 100 words the short one read as the most cautious)."""
    assert TEXT_MEASURES["hedges"](LONG) > TEXT_MEASURES["hedges"](SHORT) > TEXT_MEASURES["hedges"]("Yes.") == 0.0


def test_code_and_figures_are_counted():
    detailed = "Run `git reset --soft HEAD~1`, then `git log -3`; it keeps 100% of the 2 files you staged."
    assert TEXT_MEASURES["code and numbers"](detailed) > TEXT_MEASURES["code and numbers"]("Run `git revert`.") > 0.0


def test_tone_is_a_rate_whatever_the_length():
    once, twice = "You can do it.", "You can do it. You can do it."
    assert TEXT_MEASURES["second person"](once) == TEXT_MEASURES["second person"](twice)
