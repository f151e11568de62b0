"""The analyst's profile page shows a user's several tastes, by the answers they gave."""

from prefchat.elicitation.personas import PersonaSettings
from prefchat.ui.analyst import _tastes_note

HORROR, COMEDY = [2, 8, 14, 20, 26], [0, 6, 12, 18]  # conftest.HORROR, conftest.COMEDY


def _exported(pack, picked, undone=()):
    """Answers that picked each of ``picked`` over the next film (those in ``undone`` undone)."""
    ids = [item.item_id for item in pack.items]
    questions = [{"id": n, "item_ids": [ids[i], ids[i + 1]]} for n, i in enumerate(picked)]
    answers = [{"question_id": n, "choice": "a", "undone": i in undone} for n, i in enumerate(picked)]
    return {"questions": questions, "answers": answers}


def test_the_profile_page_names_each_taste_with_its_share_and_films(small_pack, household_pack):
    pack = household_pack(small_pack(), PersonaSettings(2, 0.4, 0.0))
    note = _tastes_note(pack, _exported(pack, HORROR + COMEDY))
    assert note.startswith("\n\n**Tastes:** horror (56%: ") and "; comedy (44%: " in note
    horror_part = note.split("; comedy")[0]
    assert all(pack.items[i].title in horror_part for i in HORROR[:3])
    assert not any(pack.items[i].title in horror_part for i in COMEDY)
    assert _tastes_note(pack, _exported(pack, HORROR)) == ""  # one taste: nothing more to say
    assert _tastes_note(pack, _exported(pack, HORROR + COMEDY, undone=set(COMEDY))) == ""  # undone answers are not evidence
