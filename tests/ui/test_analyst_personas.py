"""The analyst's profile page shows a user's several tastes, by the answers they gave and did not undo."""

from prefchat.elicitation.personas import PersonaSettings
from prefchat.storage import open_store
from prefchat.ui.analyst import profile_view

HORROR, COMEDY = [2, 8, 14, 20, 26], [0, 6, 12, 18]  # conftest.HORROR, conftest.COMEDY


def _header(pack, store, user, picked, undone=()):
    """The profile page's header of ``user`` after a session that picked each of ``picked`` over the next film,
    the answers about ``undone`` films undone (the last ones, as undo takes them back)."""
    ids = [item.item_id for item in pack.items]
    session = store.start_session(store.create_user(user).id, pack.name, pack.version)
    for i in picked:
        store.record_answer(store.record_question(session.id, [ids[i], ids[i + 1]]).id, "a")
    for _ in undone:
        store.undo_last_answer(session.id)
    store.save_profile(user, pack.name, pack.version, pack.prior_mean, pack.prior_cov, {"a": len(picked)})
    return profile_view(store, pack, user).header


def test_the_profile_page_names_each_taste_with_its_share_and_films(small_pack, household_pack, tmp_path):
    pack = household_pack(small_pack(), PersonaSettings(2, 0.4, 0.0))
    with open_store(f"sqlite:///{tmp_path / 'tastes.sqlite'}") as store:
        header = _header(pack, store, "both", HORROR + COMEDY)
        note = header[header.index("**Tastes:**"):]
        assert note.startswith("**Tastes:** horror (56%: ") and "; comedy (44%: " in note
        horror_part = note.split("; comedy")[0]
        assert all(pack.items[i].title in horror_part for i in HORROR[:3])
        assert not any(pack.items[i].title in horror_part for i in COMEDY)
        assert "**Tastes:**" not in _header(pack, store, "horror", HORROR)  # one taste: nothing more to say
        undone = _header(pack, store, "undid", HORROR + COMEDY, undone=COMEDY)
        assert "**Tastes:**" not in undone  # undone answers are not evidence


def test_the_rest_summary_lists_the_tastes_its_text_names(small_pack, household_pack):
    from prefchat.assistant.summary import summarize
    from prefchat.elicitation.posterior import Comparison
    from prefchat.ui.schemas import SummaryOut

    pack = household_pack(small_pack(), PersonaSettings(2, 0.4, 0.0))
    answers = tuple(Comparison(i, i + 1, "a") for i in HORROR + COMEDY)
    summary = summarize(pack, pack.prior_mean, pack.prior[1], len(answers), 0, answers=answers)
    out = SummaryOut.of("both", summary)
    assert out.tastes == ["horror", "comedy"] and all(f"a {name} side" in out.text for name in out.tastes)
    alone = tuple(Comparison(i, i + 1, "a") for i in HORROR)
    assert SummaryOut.of("one", summarize(pack, pack.prior_mean, pack.prior[1], len(alone), 0, answers=alone)).tastes == []
