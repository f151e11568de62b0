"""A pick says which of a user's tastes it serves: a horror pick is never said to serve the comedy side."""

import pytest

from prefchat.assistant.recommender import Recommender, Taste
from prefchat.assistant.summary import apply_correction, summarize, taste_names, tastes_of
from prefchat.elicitation.personas import Personas, PersonaSettings
from prefchat.elicitation.posterior import Comparison
from prefchat.reward.summary import STATED_WEIGHT, Summary

HORROR, COMEDY = [2, 8, 14, 20, 26], [0, 6, 12, 18]  # conftest.HORROR, conftest.COMEDY


def told(items):
    """Answers that show the user knows ``items``: each picked over the item after it in the catalog."""
    return tuple(Comparison(i, i + 1, "a") for i in items)


@pytest.fixture
def household(pack, household_pack):
    return household_pack(pack, PersonaSettings(max_personas=2, penalty=0.4, temperature=0.0))


def _taste(pack, answers):
    from prefchat.elicitation.onboarding import known_items
    return Taste(pack.prior_mean, pack.prior[1], objective="watch", known=known_items(answers), answers=answers)


def test_a_households_picks_name_the_taste_they_serve(household):
    answers = told(HORROR + COMEDY)
    picks = Recommender(household, beta=0.0).rank(_taste(household, answers), 10)
    assert all(pick.persona is not None for pick in picks)
    names = {pick.persona.name for pick in picks if pick.persona is not None}
    assert names == {"horror", "comedy"}
    for pick in picks:
        tags = set(household.items[pick.index].tags)
        assert pick.persona is not None and pick.reason is not None
        assert pick.reason.side == pick.persona.name and pick.why.startswith(f"for your {pick.persona.name} side: ")
        if "horror" in tags and "comedy" not in tags:  # a horror pick is never said to serve the comedy side
            assert pick.persona.name == "horror" and "comedy side" not in pick.why
        if "comedy" in tags and "horror" not in tags:
            assert pick.persona.name == "comedy" and "horror side" not in pick.why
        # the taste named is the one made of the known films of that genre
        named = {"horror": set(HORROR), "comedy": set(COMEDY)}[pick.persona.name]
        assert set(pick.persona.items) & named == named
    # both tastes get places in the top 10, in proportion to their shares
    counts = {name: sum(pick.persona is not None and pick.persona.name == name for pick in picks) for name in names}
    assert counts["horror"] >= 4 and counts["comedy"] >= 3


def test_the_summary_lists_several_tastes_and_one_taste_reads_as_before(household, pack, household_pack):
    answers = told(HORROR + COMEDY)
    assert tastes_of(household, answers) == ["horror", "comedy"]
    text = summarize(household, household.prior_mean, household.prior[1], len(answers), 0, answers=answers).text
    assert "Your answers show 2 tastes: a horror side and a comedy side." in text
    alone = told(HORROR)
    assert tastes_of(household, alone) == []
    single = household_pack(pack, PersonaSettings())
    assert (summarize(household, household.prior_mean, household.prior[1], 5, 0, answers=alone).text
            == summarize(single, single.prior_mean, single.prior[1], 5, 0, answers=alone).text)


def test_a_correction_and_a_stored_summary_keep_the_tastes(household):
    """What the user says changes what they said, not what their answers showed: the corrected text still
    names both sides, and so does the summary read back from storage's structured form."""
    answers = told(HORROR + COMEDY)
    summary = summarize(household, household.prior_mean, household.prior[1], len(answers), 0, answers=answers)
    corrected = apply_correction(summary, {"musical": -STATED_WEIGHT}, household)
    sides = "Your answers show 2 tastes: a horror side and a comedy side."
    assert sides in corrected.text and "musical" in corrected.text and corrected.tastes == ("horror", "comedy")
    stored = Summary.from_structured(corrected.text, corrected.structured())
    assert stored == corrected
    before_tastes = corrected.structured()
    del before_tastes["_meta"]["tastes"]  # a summary stored before tastes were recorded reads as none
    assert Summary.from_structured(corrected.text, before_tastes).tastes == ()


def test_one_taste_gets_todays_list_and_words(household, pack, household_pack):
    answers = told(HORROR)
    single = household_pack(pack, PersonaSettings())
    picks = Recommender(household, beta=0.0).rank(_taste(household, answers), 10)
    before = Recommender(single, beta=0.0).rank(_taste(single, answers), 10)
    assert [(p.index, p.score, p.why) for p in picks] == [(p.index, p.score, p.why) for p in before]
    assert all(pick.persona is None and "side" not in pick.why for pick in picks)


def test_a_taste_is_named_by_what_singles_it_out(household):
    horror, comedy = tuple(HORROR), tuple(COMEDY)
    assert taste_names(household, Personas((horror, comedy))) == ["horror", "comedy"]
    # two tastes of the same genre: the second is not named the same
    names = taste_names(household, Personas((horror[:3], horror[3:])))
    assert names[0] != names[1] or names[1] is None


def test_a_check_ins_summary_names_the_tastes_of_every_item_known(household):
    """Check-in answers that show only the horror side do not erase the comedy side the profile knows."""
    from prefchat.assistant.returning import checkin_summary

    recent = told(HORROR)
    summary = summarize(household, household.prior_mean, household.prior[1], len(recent), 0, answers=recent)
    assert summary.tastes == ()  # the check-in's own answers show one taste
    every = tastes_of(household, told(HORROR + COMEDY))
    checked = checkin_summary(summary, {"answer": 13}, "", every)
    assert checked.tastes == ("horror", "comedy")
    assert "Your answers show 2 tastes: a horror side and a comedy side." in checked.text and "(13 answers" in checked.text
    assert Summary.from_structured(checked.text, checked.structured()) == checked
