"""The repository API on SQLite and PostgreSQL: round trips, versioning, undo, export, delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sqlalchemy import delete, or_, select
from sqlalchemy.engine import Engine

from prefchat.reward.data import visible_id
from prefchat.storage import Conflict, NotFound, Store, check_user_id
from prefchat.storage.models import Base, UserRow

PACK = ("movies", "1")


def with_store(max_examples: int) -> settings:
    """Hypothesis settings for tests using the ``store`` fixture; each example uses new ids."""
    return settings(
        max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )


def ask_and_answer(store: Store, session_id: str, choices: list[str]) -> None:
    for k, choice in enumerate(choices):
        question = store.record_question(session_id, [f"item{2 * k}", f"item{2 * k + 1}"])
        store.record_answer(question.id, choice, raw_text=f"answer {k}", latency_ms=100 * k)


def live_choices(store: Store, session_id: str) -> list[str | None]:
    return [turn.answer.choice if turn.answer else None for turn in store.session_history(session_id)]


def populate(store: Store, user_id: str) -> None:
    """A user with a row in every table: answers (one undone), feedback, profile, summaries, ranking."""
    store.create_user(user_id)
    session = store.start_session(user_id, *PACK, {"max_questions": 10})
    ask_and_answer(store, session.id, ["a", "b", "tie"])
    store.undo_last_answer(session.id)
    store.finish_session(session.id)
    store.record_feedback(session.id, "item7", "thumbs_down", raw_text="not for me")
    store.save_profile(user_id, *PACK, np.array([0.5, -1.0]), np.eye(2), {"a": 1, "b": 1})
    store.add_summary(user_id, *PACK, "Enjoys: heists.", {"heist": {"weight": 0.9, "sign": 1, "confidence": "low"}})
    store.add_summary(user_id, *PACK, "Enjoys: heists, musicals.", {}, source="edited")
    store.record_ranking(user_id, *PACK, ["item3", "item1"], [2.5, 1.0])
    store.ask_forget(user_id, timedelta(minutes=10))
    store.set_friends(user_id, {"a training user": 1.0, "another": 0.5})


def rows_referring_to(engine: Engine, user_id: str) -> dict[str, set]:
    """Primary keys, per table, of the rows that refer to ``user_id``: the user row itself,
    and every row whose foreign key points at such a row, transitively (from metadata)."""
    owned: dict[str, set] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:  # parents before children
            (key,) = table.primary_key.columns
            refers = [table.c.id == user_id] if table.name == "users" else []
            refers += [fk.parent.in_(owned[fk.column.table.name]) for fk in table.foreign_keys]
            owned[table.name] = set(connection.scalars(select(key).where(or_(*refers))))
    return owned


def rows_mentioning(engine: Engine, text: str) -> list[tuple[str, tuple]]:
    """Every row, in any table, with ``text`` anywhere in its values (denormalised copies too)."""
    with engine.connect() as connection:
        return [
            (table.name, tuple(row))
            for table in Base.metadata.sorted_tables
            for row in connection.execute(select(table))
            if text in repr(tuple(row))
        ]


# -- users ---------------------------------------------------------------------------------


def test_anonymous_user_gets_an_opaque_uuid_hex(store):
    first, second = store.create_user(), store.create_user()
    assert len(first.id) == 32 and int(first.id, 16) >= 0
    assert first.id != second.id
    assert store.get_user(first.id) == first
    assert first.created_at.tzinfo is UTC


def test_creating_a_taken_user_id_conflicts(store):
    store.create_user("alice@example.org")
    with pytest.raises(Conflict, match="alice@example.org"):
        store.create_user("alice@example.org")


@pytest.mark.parametrize("bad", ["", "x" * 129, "a\nb", "nul\x00", "tab\there", "\x7f", 42, b"bytes"])
def test_bad_user_ids_are_rejected_naming_them(store, bad):
    with pytest.raises(ValueError, match="user id") as info:
        store.create_user(bad)
    assert repr(bad) in str(info.value)
    with pytest.raises(ValueError, match="user id"):
        store.get_user(bad)


@with_store(max_examples=30)
@given(user_id=st.text(min_size=1, max_size=128).filter(visible_id))
def test_any_visible_user_id_round_trips(store, user_id):
    assert store.create_user(user_id).id == user_id
    assert store.get_user(user_id).id == user_id
    store.delete_user(user_id)


@given(
    user_id=st.tuples(st.text(max_size=60), st.characters(categories=["Cc"]), st.text(max_size=60)).map("".join)
)
def test_user_ids_with_control_characters_are_rejected(user_id):
    with pytest.raises(ValueError):
        check_user_id(user_id)


@pytest.mark.parametrize("user_id", [" ", "\u00a0", "\u3164", "\u2800", "\u115f\u1160", "\uffa0", " alice", "alice ",
                                     "a\u3000b", "\u200b", "a\u0000b"])
def test_user_ids_that_show_as_blank_or_padded_are_rejected(store, user_id):
    """Issue 24, finding 9: ids that display as blank (space, U+00A0, U+3164, U+2800) were accepted."""
    with pytest.raises(ValueError, match="visible text"):
        store.create_user(user_id)


def test_unknown_ids_raise_not_found_naming_the_id(store):
    for call in (
        lambda: store.get_user("ghost"),
        lambda: store.start_session("ghost", *PACK),
        lambda: store.save_profile("ghost", *PACK, [0.0], [[1.0]], {}),
        lambda: store.current_summary("ghost", "movies"),
        lambda: store.export_user("ghost"),
        lambda: store.delete_user("ghost"),
    ):
        with pytest.raises(NotFound, match="user 'ghost' not found"):
            call()
    for call in (
        lambda: store.get_session("nosuchsession"),
        lambda: store.record_question("nosuchsession", ["a", "b"]),
        lambda: store.session_history("nosuchsession"),
        lambda: store.undo_last_answer("nosuchsession"),
        lambda: store.finish_session("nosuchsession"),
    ):
        with pytest.raises(NotFound, match="session 'nosuchsession' not found"):
            call()
    with pytest.raises(NotFound, match="question 987654 not found"):
        store.record_answer(987654, "a")


# -- sessions, questions, answers ----------------------------------------------------------


def test_session_round_trip(store):
    user = store.create_user()
    settings = {"min_questions": 6, "max_questions": 10, "strategy": "infogain"}
    session = store.start_session(user.id, *PACK, settings)
    assert store.get_session(session.id) == session
    assert (session.state, session.settings, session.pack_name, session.pack_version) == ("active", settings, *PACK)
    assert session.created_at.tzinfo is UTC
    finished = store.finish_session(session.id)
    assert finished.state == "finished" and finished.updated_at >= session.updated_at
    assert store.get_session(session.id) == finished


def test_a_new_session_abandons_the_active_one_for_the_same_pack_only(store):
    user = store.create_user()
    old = store.start_session(user.id, *PACK)
    other_pack = store.start_session(user.id, "jokes", "3")
    new = store.start_session(user.id, *PACK)
    assert store.get_session(old.id).state == "abandoned"
    assert store.get_session(other_pack.id).state == "active"
    assert store.latest_session(user.id, "movies") == new
    assert store.latest_session(user.id, "jokes") == other_pack
    store.finish_session(new.id, state="abandoned")
    store.finish_session(other_pack.id)
    assert store.latest_session(user.id) is None


def test_questions_are_numbered_from_one_and_answers_come_back_in_order(store):
    user = store.create_user()
    session = store.start_session(user.id, *PACK)
    ask_and_answer(store, session.id, ["a", "b", "tie", "skip"])
    history = store.session_history(session.id)
    assert [turn.question.position for turn in history] == [1, 2, 3, 4]
    assert [turn.question.item_ids for turn in history][1] == ("item2", "item3")
    assert [(t.answer.choice, t.answer.raw_text, t.answer.latency_ms) for t in history] == [
        ("a", "answer 0", 0),
        ("b", "answer 1", 100),
        ("tie", "answer 2", 200),
        ("skip", "answer 3", 300),
    ]
    assert all(t.answer.kind == "choice" and not t.answer.undone for t in history)


def test_kway_questions_take_an_item_id_tie_or_skip(store):
    session = store.start_session(store.create_user().id, *PACK)
    question = store.record_question(session.id, ["x", "y", "z"])
    with pytest.raises(ValueError, match="'a'"):
        store.record_answer(question.id, "a")
    assert store.record_answer(question.id, "y").choice == "y"
    store.undo_last_answer(session.id)
    assert store.record_answer(question.id, "skip").choice == "skip"


@pytest.mark.parametrize("items", [["only"], ["same", "same"], "ab", ["ok", ""], ["ok", 3], ["ok", "x" * 257]])
def test_malformed_questions_are_rejected(store, items):
    session = store.start_session(store.create_user().id, *PACK)
    with pytest.raises(ValueError, match="item id"):
        store.record_question(session.id, items)


@pytest.mark.parametrize(
    ("choice", "raw_text", "latency_ms", "names"),
    [("A", "", None, "'A'"), ("left", "", None, "'left'"), ("a", None, None, "raw_text"), ("a", "", -1, "-1")],
)
def test_malformed_answers_are_rejected_naming_the_value(store, choice, raw_text, latency_ms, names):
    session = store.start_session(store.create_user().id, *PACK)
    question = store.record_question(session.id, ["x", "y"])
    with pytest.raises(ValueError, match=names):
        store.record_answer(question.id, choice, raw_text=raw_text, latency_ms=latency_ms)
    assert store.session_history(session.id)[0].answer is None


def test_a_question_is_answered_once_until_undone(store):
    session = store.start_session(store.create_user().id, *PACK)
    question = store.record_question(session.id, ["x", "y"])
    store.record_answer(question.id, "a")
    with pytest.raises(Conflict, match=f"question {question.id} is already answered"):
        store.record_answer(question.id, "b")
    store.undo_last_answer(session.id)
    store.record_answer(question.id, "b")
    assert live_choices(store, session.id) == ["b"]


def test_undo_keeps_history_and_hides_the_answer(store):
    user = store.create_user()
    session = store.start_session(user.id, *PACK)
    ask_and_answer(store, session.id, ["a", "b", "tie"])
    undone = store.undo_last_answer(session.id)
    assert (undone.choice, undone.undone) == ("tie", True)
    assert live_choices(store, session.id) == ["a", "b", None]
    store.undo_last_answer(session.id)
    assert live_choices(store, session.id) == ["a", None, None]
    exported = store.export_user(user.id)["answers"]
    assert [(a["choice"], a["undone"]) for a in exported] == [("a", False), ("b", True), ("tie", True)]


def test_undo_with_nothing_to_undo_returns_none(store):
    session = store.start_session(store.create_user().id, *PACK)
    assert store.undo_last_answer(session.id) is None
    store.record_question(session.id, ["x", "y"])
    assert store.undo_last_answer(session.id) is None


@with_store(max_examples=15)
@given(ops=st.lists(st.sampled_from(["a", "b", "tie", "skip", "undo"]), max_size=12))
def test_history_matches_a_stack_of_answers_under_any_answer_undo_sequence(store, ops):
    session = store.start_session(store.create_user().id, *PACK)
    expected: list[str | None] = []  # the model: one slot per question, None when unanswered
    for op in ops:
        if op == "undo":
            answered = [k for k, choice in enumerate(expected) if choice is not None]
            if answered:
                expected[answered[-1]] = None
            store.undo_last_answer(session.id)
            continue
        history = store.session_history(session.id)
        open_turns = [turn for turn in history if turn.answer is None]
        if open_turns:
            question = open_turns[0].question
        else:
            question = store.record_question(session.id, ["x", f"y{len(history)}"])
        store.record_answer(question.id, op)
        if question.position > len(expected):
            expected.append(op)
        else:
            expected[question.position - 1] = op
        assert live_choices(store, session.id) == expected
    assert live_choices(store, session.id) == expected


def test_closed_sessions_refuse_questions_answers_and_undo_but_take_feedback(store):
    session = store.start_session(store.create_user().id, *PACK)
    question = store.record_question(session.id, ["x", "y"])
    store.finish_session(session.id)
    for call in (
        lambda: store.record_question(session.id, ["x", "z"]),
        lambda: store.record_answer(question.id, "a"),
        lambda: store.undo_last_answer(session.id),
        lambda: store.finish_session(session.id),
    ):
        with pytest.raises(Conflict, match="is finished, not active"):
            call()
    feedback = store.record_feedback(session.id, "z", "more_like", raw_text="more like this")
    assert (feedback.kind, feedback.choice, feedback.raw_text) == ("more_like", None, "more like this")
    last = store.session_history(session.id)[-1]
    assert (last.question.position, last.question.item_ids, last.answer) == (2, ("z",), feedback)


def test_only_a_finished_session_reopens_and_then_takes_an_undo(store):
    session = store.start_session(store.create_user().id, *PACK)
    ask_and_answer(store, session.id, ["a", "b"])
    with pytest.raises(Conflict, match="is active, not finished"):
        store.reopen_session(session.id)
    store.finish_session(session.id)
    assert store.reopen_session(session.id).state == "active"
    store.undo_last_answer(session.id)
    assert live_choices(store, session.id) == ["a", None]
    store.finish_session(session.id, "abandoned")
    with pytest.raises(Conflict, match="is abandoned, not finished"):
        store.reopen_session(session.id)


def test_a_note_on_a_session_adds_to_its_settings_and_touches_nothing_else(store):
    session = store.start_session(store.create_user().id, *PACK, settings={"max_questions": 10})
    ask_and_answer(store, session.id, ["a", "b"])
    store.finish_session(session.id)
    noted = store.note_on_session(session.id, {"checkin_declined": "2026-12-07T06:00:00+00:00"})
    assert noted.settings == {"max_questions": 10, "checkin_declined": "2026-12-07T06:00:00+00:00"}
    again = store.note_on_session(session.id, {"checkin_declined": "2027-01-07T06:00:00+00:00"})
    assert store.get_session(session.id).settings == again.settings == {"max_questions": 10,
                                                                        "checkin_declined": "2027-01-07T06:00:00+00:00"}
    assert again.state == "finished" and live_choices(store, session.id) == ["a", "b"]
    with pytest.raises(ValueError, match="notes"):
        store.note_on_session(session.id, ["not", "an", "object"])
    with pytest.raises(NotFound):
        store.note_on_session("no-such-session", {"x": 1})


def test_bad_feedback_and_session_states_are_rejected(store):
    session = store.start_session(store.create_user().id, *PACK)
    with pytest.raises(ValueError, match="'love'"):
        store.record_feedback(session.id, "x", "love")
    with pytest.raises(ValueError, match="'done'"):
        store.finish_session(session.id, state="done")
    with pytest.raises(ValueError, match="settings"):
        store.start_session(store.create_user().id, *PACK, {"bad": float("nan")})
    assert store.session_history(session.id) == []


# -- profiles ------------------------------------------------------------------------------


def test_profile_versions_count_saves_per_pack_version(store):
    user = store.create_user()
    first = store.save_profile(user.id, *PACK, [0.0, 0.0], np.eye(2), {"a": 0})
    second = store.save_profile(user.id, *PACK, [1.5, -2.0], 2 * np.eye(2), {"a": 3, "b": 4, "skip": 2})
    other = store.save_profile(user.id, "movies", "2", [9.0], [[1.0]], {})
    assert (first.version, second.version, other.version) == (1, 2, 1)
    loaded = store.get_profile(user.id, *PACK)
    np.testing.assert_array_equal(loaded.mean, [1.5, -2.0])
    np.testing.assert_array_equal(loaded.cov, 2 * np.eye(2))
    assert (loaded.counts, loaded.n_answers, loaded.version) == ({"a": 3, "b": 4, "skip": 2}, 9, 2)
    assert store.get_profile(user.id).pack_version == "2"  # the most recent save
    assert store.get_profile(user.id, "jokes") is None
    with pytest.raises(ValueError):
        loaded.mean[0] = 0.0  # records are read-only


def test_a_saved_profile_is_never_lost_its_versions_stay_readable_and_go_with_the_user(store):
    user = store.create_user()
    store.save_profile(user.id, *PACK, [0.0, 1.0], np.eye(2), {"a": 2})
    store.save_profile(user.id, *PACK, [3.0, -1.0], 0.5 * np.eye(2), {"a": 2, "b": 3})
    store.save_profile(user.id, "jokes", "2", [9.0], [[1.0]], {})
    history = store.profile_history(user.id, PACK[0])
    assert [(p.version, p.n_answers) for p in history] == [(1, 2), (2, 5)]
    np.testing.assert_array_equal(history[0].mean, [0.0, 1.0])  # the first profile, as it was saved
    assert len(store.profile_history(user.id)) == 3
    assert [p["version"] for p in store.export_user(user.id)["profile_history"]] == [1, 2, 1]
    store.delete_user(user.id)
    with pytest.raises(NotFound):
        store.profile_history(user.id)


@pytest.mark.parametrize(
    ("mean", "cov", "counts", "names"),
    [
        ([0.0, 0.0], np.eye(3), {}, "shape"),
        ([], np.zeros((0, 0)), {}, "shape"),
        ([np.nan, 0.0], np.eye(2), {}, "finite"),
        ([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]], {}, "symmetric"),
        ([0.0], [[1.0]], {"a": -1}, "-1"),
        ([0.0], [[1.0]], {"a": 1.5}, "1.5"),
    ],
)
def test_malformed_profiles_are_rejected(store, mean, cov, counts, names):
    user = store.create_user()
    with pytest.raises(ValueError, match=names):
        store.save_profile(user.id, *PACK, mean, cov, counts)
    assert store.get_profile(user.id) is None


@with_store(max_examples=20)
@given(
    matrix=hnp.arrays(
        np.float64,
        st.integers(1, 6).map(lambda k: (k + 1, k)),
        elements=st.floats(-1e150, 1e150, allow_nan=False, allow_subnormal=True),
    )
)
def test_profile_arrays_round_trip_exactly(store, matrix):
    mean, half = matrix[0], matrix[1:]
    cov = half + half.T  # exactly symmetric
    user = store.create_user()
    store.save_profile(user.id, *PACK, mean, cov, {"a": 1})
    loaded = store.get_profile(user.id)
    assert loaded.mean.tobytes() == mean.tobytes() and loaded.cov.tobytes() == cov.tobytes()


def test_list_profiles_filters_for_the_analyst(store):
    alice, bob, carol = (store.create_user(name).id for name in ("alice", "bob", "carol_100%"))
    store.save_profile(alice, *PACK, [1.0], [[1.0]], {"a": 6, "b": 4})
    store.save_profile(bob, *PACK, [2.0], [[1.0]], {"a": 2})
    store.save_profile(carol, "jokes", "1", [3.0], [[1.0]], {"skip": 12})
    store.add_summary(bob, *PACK, "Enjoys: Musicals.", {})
    store.add_summary(alice, *PACK, "Enjoys: musicals.", {})
    store.add_summary(alice, *PACK, "Enjoys: westerns.", {})  # supersedes: no longer matches

    def users(**filters):
        return [profile.user_id for profile in store.list_profiles(**filters)]

    assert users() == [carol, bob, alice]  # most recent first
    assert users(pack_name="movies") == [bob, alice]
    assert users(pack_name="movies", pack_version="2") == []
    assert users(min_answers=10) == [carol, alice]
    assert users(search="MUSICAL") == [bob]
    assert users(search="100%") == [carol] and users(search="%") == [carol]
    assert users(since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert users(since=datetime.now(UTC) - timedelta(hours=1)) == [carol, bob, alice]
    with pytest.raises(ValueError, match="since"):
        users(since=datetime.now())
    with pytest.raises(ValueError, match="min_answers"):
        users(min_answers=-1)


# -- summaries and rankings ----------------------------------------------------------------


def test_a_new_summary_supersedes_and_never_deletes(store):
    user = store.create_user()
    assert store.current_summary(user.id, "movies") is None
    structured = {"dark comedy": {"weight": 1.2, "sign": 1, "confidence": "medium"}}
    first = store.add_summary(user.id, *PACK, "Enjoys: dark comedy.", structured)
    second = store.add_summary(user.id, "movies", "2", "Enjoys: dark comedy, musicals.", {}, source="edited")
    jokes = store.add_summary(user.id, "jokes", "1", "Enjoys: puns.", {})
    history = store.summary_history(user.id, "movies")
    assert [s.id for s in history] == [first.id, second.id]
    assert history[0].superseded_at is not None and history[0].superseded_at >= first.created_at
    assert (history[0].text, history[0].structured, history[0].source) == (first.text, structured, "generated")
    assert store.current_summary(user.id, "movies") == second
    assert (second.superseded_at, second.source, second.pack_version) == (None, "edited", "2")
    assert store.current_summary(user.id, "jokes") == jokes


@pytest.mark.parametrize(
    ("text", "structured", "source", "names"),
    [
        ("ok", {"x": {"weight": float("inf")}}, "generated", "structured"),
        ("ok", {"x": {1, 2}}, "generated", "structured"),
        ("ok", {1: {}}, "generated", "str keys"),
        ("ok", [], "generated", "structured"),
        ("ok", {}, "llm", "'llm'"),
        (None, {}, "generated", "text"),
    ],
)
def test_malformed_summaries_are_rejected(store, text, structured, source, names):
    user = store.create_user()
    with pytest.raises(ValueError, match=names):
        store.add_summary(user.id, *PACK, text, structured, source)
    assert store.summary_history(user.id, "movies") == []


def test_ranking_round_trip_and_validation(store):
    user = store.create_user()
    ranking = store.record_ranking(user.id, *PACK, ["i3", "i1", "i2"], np.array([2.5, 1.0, -0.25]))
    assert (ranking.item_ids, ranking.scores) == (("i3", "i1", "i2"), (2.5, 1.0, -0.25))
    assert store.export_user(user.id)["rankings"][0]["scores"] == [2.5, 1.0, -0.25]
    with pytest.raises(ValueError, match="scores"):
        store.record_ranking(user.id, *PACK, ["i1", "i2"], [1.0])
    with pytest.raises(ValueError, match="scores"):
        store.record_ranking(user.id, *PACK, ["i1"], [np.nan])


# -- confirmations -------------------------------------------------------------------------


def test_a_forget_request_is_taken_once_and_only_before_it_expires(store):
    store.create_user("alice")
    assert store.take_forget("alice") is False
    store.ask_forget("alice", timedelta(minutes=10))
    store.ask_forget("alice", timedelta(minutes=10))  # asked twice: one request
    assert store.take_forget("alice") is True
    assert store.take_forget("alice") is False, "taken once"
    store.ask_forget("alice", timedelta(seconds=-1))
    assert store.take_forget("alice") is False, "expired"
    assert store.take_forget("nobody") is False
    with pytest.raises(NotFound, match="nobody"):
        store.ask_forget("nobody", timedelta(minutes=10))


def test_reachable_says_whether_the_database_answers(store):
    assert store.reachable()


# -- the user's data as a whole ------------------------------------------------------------


def test_export_is_json_and_holds_everything_about_the_user_only(store):
    populate(store, "alice")
    populate(store, "bob")
    exported = store.export_user("alice")
    assert json.loads(json.dumps(exported, allow_nan=False)) == exported
    expected = {"sessions": 1, "questions": 4, "answers": 4, "profiles": 1, "summaries": 2, "rankings": 1}
    assert {table: len(exported[table]) for table in expected} == expected
    assert exported["user"]["id"] == "alice"
    assert [a["undone"] for a in exported["answers"]] == [False, False, True, False]
    assert exported["summaries"][0]["superseded_at"] is not None
    assert exported["profiles"][0]["mean"] == [0.5, -1.0]
    assert "bob" not in json.dumps(exported)
    assert datetime.fromisoformat(exported["sessions"][0]["created_at"]).utcoffset() == timedelta(0)


def test_delete_user_leaves_no_row_referring_to_the_user_in_any_table(store):
    populate(store, "alice")
    populate(store, "bob")
    before = rows_referring_to(store.engine, "alice")
    bob_before = rows_referring_to(store.engine, "bob")
    assert all(before.values()), f"the fixture must fill every table: {before}"
    store.delete_user("alice")
    assert not any(rows_referring_to(store.engine, "alice").values())
    assert rows_mentioning(store.engine, "alice") == []
    assert rows_referring_to(store.engine, "bob") == bob_before
    with pytest.raises(NotFound, match="alice"):
        store.get_user("alice")
    store.create_user("alice")  # the id is free again, with nothing attached
    assert store.export_user("alice")["sessions"] == []


def test_a_deleted_user_leaves_every_friend_list(store):
    for user in ("alice", "bob", "carol"):
        store.create_user(user)
    store.set_friends("bob", {"alice": 2.0, "carol": 1.0})
    store.set_friends("carol", {"alice": 1.0})
    assert store.friends_of("bob") == {"alice": 2.0, "carol": 1.0}
    store.delete_user("alice")
    assert store.friends_of("bob") == {"carol": 1.0} and store.friends_of("carol") == {}
    assert rows_mentioning(store.engine, "alice") == []
    store.set_friends("bob", {})  # replaced, not added to
    assert store.friends_of("bob") == {}
    for bad in ({"x": 0.0}, {"x": float("nan")}, {" x": 1.0}, {"bob": 1.0}):
        with pytest.raises(ValueError):
            store.set_friends("bob", bad)


def test_the_schema_itself_cascades_deletes_from_users(store):
    populate(store, "alice")
    with store.engine.begin() as connection:
        connection.execute(delete(UserRow.__table__).where(UserRow.__table__.c.id == "alice"))
    assert not any(rows_referring_to(store.engine, "alice").values())


def test_a_second_unanswered_question_is_refused(store):
    session = store.start_session(store.create_user().id, *PACK)
    first = store.record_question(session.id, ["x", "y"])
    with pytest.raises(Conflict, match="question 1 unanswered"):
        store.record_question(session.id, ["z", "w"])
    store.record_answer(first.id, "a")
    assert store.record_question(session.id, ["z", "w"]).position == 2
    store.undo_last_answer(session.id)  # the second is unanswered; undo reopens the first too
    with pytest.raises(Conflict):
        store.record_question(session.id, ["u", "v"])


def test_latest_session_in_given_states(store):
    user = store.create_user()
    first = store.start_session(user.id, *PACK)
    store.finish_session(first.id)
    second = store.start_session(user.id, *PACK)
    assert store.latest_session(user.id, PACK[0], ("finished",)) == store.get_session(first.id)
    assert store.latest_session(user.id, PACK[0], ("active", "finished")) == store.get_session(second.id)
    with pytest.raises(ValueError, match="paused"):
        store.latest_session(user.id, states=("paused",))
    with pytest.raises(NotFound):
        store.latest_session("nobody")
