import dataclasses
import re

import numpy as np
import pytest

from prefchat.assistant.api import Assistant
from prefchat.assistant.errors import NoProfile, SessionClosed, WrongPack
from prefchat.assistant.history import reference_features, session_seed, stored_answers
from prefchat.assistant.turns import QuestionTurn, ReaskTurn, ReplyTurn, ResultTurn, SessionOptions
from prefchat.elicitation import Comparison, KWayChoice, laplace_posterior
from prefchat.elicitation.onboarding import next_question
from prefchat.reward.featurize import EmbeddingError, RecentEmbeddings, pack_embedder
from prefchat.storage import NotFound, open_store


def run(conversation, turn, answer):
    """Answer questions with ``answer(turn)`` until the result; return the question turns and the result."""
    questions = []
    while isinstance(turn, QuestionTurn):
        questions.append(turn)
        turn = conversation.answer(turn.session_id, answer(turn))
    return questions, turn


def pair(turn):
    return frozenset((turn.item_a.item_id, turn.item_b.item_id))


# --------------------------------------------------------------------------- a whole session


def test_scripted_session_of_ten_questions_stores_profile_and_summary(conversation, store, pack, planted, choose):
    questions, result = run(conversation, conversation.start("alice"), lambda t: choose(planted, t))

    assert [q.position for q in questions] == list(range(1, 11))
    assert questions[2].progress == "3 of about 10"
    assert len({pair(q) for q in questions}) == 10, "a pair was asked twice"
    assert isinstance(result, ResultTurn) and result.user_id == "alice"
    assert sum(result.counts.values()) == 10 and set(result.counts) <= {"a", "b"}
    assert len(result.recommendations) == 10
    state = conversation.state(result.session_id)
    chosen = {(q.item_a if kind == "a" else q.item_b).item_id for q, kind in zip(questions, state.kinds)}
    assert not chosen & {r.item_id for r in result.recommendations}, "recommended an item the user picked"

    profile = store.get_profile("alice", "tiny", "1")
    assert profile.n_answers == 10 and profile.counts == result.counts
    assert profile.mean[0] > 0 > profile.mean[1], "the planted taste was not learned"
    summary = store.current_summary("alice", "tiny")
    assert summary.source == "generated" and summary.text == result.summary_text
    assert store.get_session(result.session_id).state == "finished"


def test_the_stored_posterior_is_the_laplace_posterior_of_the_stored_answers(conversation, store, pack, planted, choose):
    _, result = run(conversation, conversation.start("alice"), lambda t: choose(planted, t))
    history = store.session_history(result.session_id)
    answers = [Comparison(pack.index_of(t.question.item_ids[0]), pack.index_of(t.question.item_ids[1]), t.answer.choice)
               for t in history]
    expected = laplace_posterior(*pack.prior, pack.features, answers)
    np.testing.assert_allclose(store.get_profile("alice").mean, expected.mean, atol=1e-9)
    np.testing.assert_allclose(store.get_profile("alice").cov, expected.cov, atol=1e-9)


def test_anonymous_users_get_an_opaque_id(conversation, store):
    turn = conversation.start()
    assert len(turn.user_id) == 32 and store.get_user(turn.user_id).id == turn.user_id


def test_stops_early_when_no_question_is_informative_but_not_before_the_minimum(pack, store, planted, choose):
    options = SessionOptions(min_questions=3, max_questions=10, threshold=1e6)  # every question is "uninformative"
    questions, result = run(Assistant(pack, store, options=options), Assistant(pack, store, options=options)
                            .start("alice"), lambda t: choose(planted, t))
    assert len(questions) == 3 and sum(result.counts.values()) == 3


# --------------------------------------------------------------------------- undo, finish early, re-ask, skip


def test_undo_asks_the_same_question_again_and_the_new_answer_counts(conversation, store, pack):
    first = conversation.start("alice")
    second = conversation.answer(first.session_id, "a")
    conversation.answer(first.session_id, "a")
    again = conversation.undo(first.session_id)
    assert again.position == 2 and pair(again) == pair(second)
    before = conversation.state(first.session_id)
    assert before.kinds == ("a",)
    after_b = conversation.answer(first.session_id, "b")
    assert after_b.position == 3
    state = conversation.state(first.session_id)
    assert state.kinds == ("a", "b")
    assert not np.allclose(state.posterior.mean, before.posterior.mean)


def test_undo_after_the_last_answer_asks_it_again_and_a_new_answer_finishes_anew(conversation, store, onboarded):
    """The results are in, then "undo": the last question is asked again, and answering it gives a
    new result from the new answer."""
    state = conversation.state(onboarded.session_id)
    last = state.history[-1]
    again = conversation.say("alice", "undo")
    assert isinstance(again, QuestionTurn) and again.position == state.n_answered
    assert again.question_id == last.question.id
    assert store.get_session(onboarded.session_id).state == "active"
    flipped = "b" if last.answer.choice == "a" else "a"
    result = conversation.answer(onboarded.session_id, flipped, again.question_id)
    assert isinstance(result, ResultTurn) and result.session_id == onboarded.session_id
    assert conversation.state(onboarded.session_id).kinds[-1] == flipped
    assert store.get_session(onboarded.session_id).state == "finished"


def test_answered_lists_the_questions_answered_with_their_choices_undone_ones_left_out(conversation):
    first = conversation.start("alice")
    second = conversation.answer(first.session_id, "a")
    third = conversation.answer(first.session_id, "both")
    conversation.undo(first.session_id)
    conversation.answer(first.session_id, "skip")
    answered = conversation.answered(first.session_id)
    assert [(q.position, pair(q), choice) for q, choice in answered] == [(1, pair(first), "a"), (2, pair(second), "skip")]
    assert pair(third) != pair(second)


def test_undo_with_nothing_to_undo_keeps_the_first_question(conversation):
    first = conversation.start("alice")
    assert conversation.undo(first.session_id) == first


def test_finish_early_stores_a_profile_of_the_answers_so_far(conversation, store):
    turn = conversation.start("alice")
    for choice in ("a", "b", "tie"):
        turn = conversation.answer(turn.session_id, choice)
    result = conversation.finish(turn.session_id)
    assert result.counts == {"a": 1, "b": 1, "tie": 1}
    assert store.get_profile("alice").n_answers == 3
    assert conversation.finish(turn.session_id) == result, "finishing twice should give the same result"
    with pytest.raises(SessionClosed, match=turn.session_id):
        conversation.answer(turn.session_id, "a")


@pytest.mark.parametrize("text", ["what?", "🤷‍♂️", "a or b", "", "tell me more about the first"])
def test_gibberish_is_reasked_and_counts_as_nothing(conversation, store, text):
    first = conversation.start("alice")
    turn = conversation.answer(first.session_id, text)
    assert isinstance(turn, ReaskTurn) and turn.question == first and "didn't catch" in turn.text
    assert [t.answer for t in store.session_history(first.session_id)] == [None]


def test_free_text_answers_are_stored_with_what_was_typed(conversation, store):
    first = conversation.start("alice")
    conversation.answer(first.session_id, "The second one!")
    answer = store.session_history(first.session_id)[0].answer
    assert answer.choice == "b" and answer.raw_text == "The second one!" and answer.latency_ms >= 0


def test_skipped_items_are_never_asked_again(pack, store):
    conversation = Assistant(pack, store, options=SessionOptions(min_questions=25, max_questions=25))
    first = conversation.start("alice")
    questions, result = run(conversation, conversation.answer(first.session_id, "skip"), lambda t: "a")
    assert all(not pair(first) & pair(q) for q in questions), "an item the user did not know was asked again"
    assert result.counts == {"skip": 1, "a": 24}
    assert store.get_profile("alice").counts["skip"] == 1


# --------------------------------------------------------------------------- sessions are kept apart, resumed


def test_interleaved_sessions_never_cross(conversation, store, pack, choose):
    tastes = {"alice": np.eye(pack.n_bases)[0] * 3, "bob": -np.eye(pack.n_bases)[0] * 3}
    turns = {user: conversation.start(user) for user in tastes}
    while any(isinstance(t, QuestionTurn) for t in turns.values()):
        for user, turn in turns.items():
            if isinstance(turn, QuestionTurn):
                turns[user] = conversation.answer(turn.session_id, choose(tastes[user], turn))
    for user, result in turns.items():
        history = store.session_history(result.session_id)
        assert len(history) == 10
        for turn in history:  # every stored answer is the one this user gives
            a, b = (pack.features[pack.index_of(item)] for item in turn.question.item_ids)
            assert turn.answer.choice == ("a" if tastes[user] @ (a - b) > 0 else "b")
    assert store.get_profile("alice").mean[0] > store.get_profile("bob").mean[0]


def test_a_reopened_store_resumes_the_session_where_it_was(pack, db_url, choose, planted):
    with open_store(db_url) as store:
        conversation = Assistant(pack, store)
        turn = conversation.start("alice")
        for _ in range(4):
            turn = conversation.answer(turn.session_id, choose(planted, turn))
        before = conversation.state(turn.session_id).posterior
    with open_store(db_url) as store:
        resumed = Assistant(pack, store)
        assert resumed.resume(turn.session_id) == turn
        after = resumed.state(turn.session_id).posterior
        np.testing.assert_array_equal(after.mean, before.mean)
        np.testing.assert_array_equal(after.cov, before.cov)


def test_question_choice_is_a_function_of_the_session(pack, store, planted, choose):
    """A fresh engine picks, from the stored answers alone, the question the first one recorded."""
    conversation = Assistant(pack, store)
    turn = conversation.start("alice")
    for _ in range(5):
        turn = conversation.answer(turn.session_id, choose(planted, turn))
    state = conversation.state(turn.session_id)
    without_pending = dataclasses.replace(state, history=state.history[:-1], pending=None)
    fresh = Assistant(pack, store)
    question = next_question(fresh.features, without_pending.posterior, fresh.policy(state.options),
                             without_pending.n_answered, state.seed)
    assert tuple(pack.items[i].item_id for i in question.items) == (turn.item_a.item_id, turn.item_b.item_id)


def test_session_seed_is_stable_and_differs_between_sessions():
    assert session_seed("abc") == session_seed("abc") != session_seed("abd")
    assert 0 <= session_seed("abc") < 2**64


def test_a_session_of_another_pack_is_refused(conversation, store):
    session = store.start_session(store.create_user("carol").id, "other-pack", "1")
    with pytest.raises(WrongPack, match="other-pack"):
        conversation.answer(session.id, "a")


def test_unknown_session_is_not_found(conversation):
    with pytest.raises(NotFound, match="nope"):
        conversation.answer("nope", "a")


# --------------------------------------------------------------------------- grouped items


def test_grouped_packs_ask_within_a_group_and_show_its_prompt(pack, store):
    groups = [i // 6 for i in range(pack.n_items)]
    grouped = dataclasses.replace(pack, manifest={**pack.manifest, "groups": groups})
    conversation = Assistant(grouped, store)
    questions, _ = run(conversation, conversation.start("alice"), lambda t: "a")
    for q in questions:
        a, b = (grouped.index_of(card.item_id) for card in (q.item_a, q.item_b))
        assert groups[a] == groups[b]
        assert q.prompt == q.item_a.title


# --------------------------------------------------------------------------- chat after onboarding


@pytest.fixture
def onboarded(conversation, planted, choose):
    """alice, after ten answers."""
    return run(conversation, conversation.start("alice"), lambda t: choose(planted, t))[1]


def test_say_during_onboarding_answers_undoes_and_reasks(conversation, store):
    first = conversation.start("alice")
    second = conversation.say(first.session_id, "the first one")
    assert second.position == 2
    assert conversation.say("alice", "undo") == first
    assert isinstance(conversation.say("alice", "more like Golden Garden"), ReaskTurn)
    assert isinstance(conversation.say("alice", "done"), ResultTurn)


def test_feedback_is_stored_as_evidence_and_moves_the_profile(conversation, store, pack, onboarded):
    before = store.get_profile("alice")
    item = pack.index_of("m020")
    reference = pack.features.mean(axis=0)
    reply = conversation.say("alice", f"more like {pack.items[item].title}")
    assert isinstance(reply, ReplyTurn) and reply.intent == "more_like" and len(reply.recommendations) == 10
    after = store.get_profile("alice")
    assert after.version == before.version + 1 and after.counts["more_like"] == 1
    margin = pack.features[item] - reference
    assert after.mean @ margin > before.mean @ margin, "'more like' did not raise the item against the average"
    feedback = store.session_history(onboarded.session_id)[-1]
    assert feedback.question.item_ids == ("m020",) and feedback.answer.kind == "more_like"

    conversation.say("alice", f"👎 {pack.items[item].title}")
    assert store.get_profile("alice").mean @ margin < after.mean @ margin


def test_why_names_the_item_and_its_reasons(conversation, onboarded):
    reply = conversation.say("alice", "why Crimson Garden?")
    assert reply.intent == "why" and reply.recommendations[0].title == "Crimson Garden"
    assert reply.text.startswith("Crimson Garden: ")
    assert "could not find" in conversation.say("alice", "why Zzyzx Qwerty?").text


def test_why_of_an_item_never_picked_says_why_it_is_left_out(conversation, pack, onboarded):
    """An item the user told about (its feedback, say), or one carrying what they said no to, is never
    a pick: a why says so rather than give reasons for it."""
    from prefchat.assistant import wording

    title = "Crimson Garden"
    conversation.say("alice", f"more like {title}")
    assert conversation.say("alice", f"why {title}?").text == wording.left_out_known(title)
    conversation.say("alice", "no musicals please")
    musical = next(item for item in pack.items if "musical" in item.tags and item.title != title)
    assert conversation.say("alice", f"why {musical.title}?").text == wording.left_out_said(musical.title, ["musical"])


def test_profile_question_returns_the_summary(conversation, store, onboarded):
    reply = conversation.say("alice", "What do you know about me?")
    assert reply.intent == "profile" and reply.text == store.current_summary("alice", "tiny").text


def test_correction_creates_a_new_summary_version_and_changes_the_ranking(conversation, store, pack, onboarded):
    musicals = {item.item_id for item in pack.items if "musical" in item.tags}

    def musical_places(ranked):
        return np.mean([place for place, r in enumerate(ranked) if r.item_id in musicals])

    before = conversation.recommend("alice", k=pack.n_items)
    reply = conversation.say("alice", "actually I love musicals")
    assert reply.intent == "correct" and "musical" in reply.text
    history = store.summary_history("alice", "tiny")
    assert [s.source for s in history] == ["generated", "edited"]
    assert history[0].superseded_at is not None and history[1].superseded_at is None
    after = conversation.recommend("alice", k=pack.n_items)
    assert [r.item_id for r in after[:10]] != [r.item_id for r in before[:10]]
    assert musical_places(after) < musical_places(before), "musicals did not move up"


def test_a_correction_naming_no_known_taste_changes_nothing(conversation, store, onboarded):
    reply = conversation.say("alice", "actually I love quantum chromodynamics")
    assert "could not tell" in reply.text
    assert len(store.summary_history("alice", "tiny")) == 1


def test_start_over_begins_a_new_session(conversation, store, onboarded):
    turn = conversation.say("alice", "start over")
    assert isinstance(turn, QuestionTurn) and turn.position == 1 and turn.session_id != onboarded.session_id


def test_forget_me_needs_confirmation_then_deletes_everything(conversation, store, onboarded):
    """"forget me" asks; "yes" deletes; anything else deletes nothing and says so; a "yes" with no
    request before it is no confirmation."""
    from prefchat.assistant import wording

    assert conversation.say("alice", "forget me").text == wording.FORGET_ASK
    kept = conversation.say("alice", "recommend")
    assert (kept.intent, kept.text) == ("keep", wording.FORGET_KEPT), "confirmation must follow at once"
    assert kept.text.startswith("Nothing deleted")
    assert store.export_user("alice")["user"]["id"] == "alice"
    assert conversation.say("alice", "yes").intent == "help", "no request is pending: nothing happens"
    assert conversation.say("alice", "yes, forget me").text == wording.FORGET_UNASKED
    conversation.say("alice", "please forget me")
    reply = conversation.say("alice", "yes")
    assert (reply.intent, reply.text) == ("confirm_forget", wording.FORGOTTEN)
    with pytest.raises(NotFound):
        store.export_user("alice")


def test_an_answer_typed_while_a_forget_me_waits_deletes_nothing(conversation, store):
    turn = conversation.start("dora")
    conversation.say("dora", "forget me")
    kept = conversation.say("dora", "A")
    assert kept.intent == "keep" and store.export_user("dora")["user"]["id"] == "dora"
    assert conversation.resume(turn.session_id).position == 1


def test_forget_me_clears_the_embedders_recent_texts(conversation, store, onboarded, embed):
    """The served embedder keeps recent texts' vectors in memory, not per user: a deletion clears them."""
    conversation.embed = recent = RecentEmbeddings(embed)
    conversation.rank("alice", ["a text alice sent", "another one"])
    assert len(recent) >= 2
    conversation.forget("alice")
    assert len(recent) == 0
    with pytest.raises(NotFound):
        store.export_user("alice")


def test_unrecognised_messages_get_help(conversation, onboarded):
    reply = conversation.say("alice", "hello there")
    assert reply.intent == "help" and "why <title>" in reply.text


def test_a_user_without_a_profile_is_told_to_start(conversation, store):
    assert "start over" in conversation.say("newcomer", "recommend").text
    with pytest.raises(NotFound, match="newcomer"):
        conversation.recommend("newcomer")
    store.create_user("newcomer")
    with pytest.raises(NoProfile, match="newcomer"):
        conversation.recommend("newcomer")


# --------------------------------------------------------------------------- pure parts


def test_reference_features_append_the_catalog_mean():
    features = np.array([[1.0, 0.0], [3.0, 2.0]])
    np.testing.assert_array_equal(reference_features(features), [[1, 0], [3, 2], [2, 1]])


def test_replay_maps_answers_and_feedback_and_drops_unknown_items(conversation, store):
    session = store.start_session(store.create_user("dora").id, "tiny", "1")
    store.record_answer(store.record_question(session.id, ["m001", "m002"]).id, "tie")
    store.record_answer(store.record_question(session.id, ["m003", "gone"]).id, "a")
    store.record_feedback(session.id, "m004", "thumbs_down")
    store.record_question(session.id, ["m005", "m006"])
    answers, kinds, unknown, pending = stored_answers(store.session_history(session.id), conversation.index, 60)
    assert answers == (Comparison(1, 2, "tie"), Comparison(4, 60, "b"))
    assert kinds == ("tie", "thumbs_down") and unknown == frozenset()
    assert pending.question.item_ids == ("m005", "m006")


def test_replay_maps_kway_picks_and_none_of_these(conversation, store):
    session = store.start_session(store.create_user("kim").id, "tiny", "1")
    store.record_answer(store.record_question(session.id, ["m001", "m002", "m003"]).id, "m002")
    store.record_answer(store.record_question(session.id, ["m004", "m005", "m006", "m007"]).id, "skip")
    store.record_question(session.id, ["m008", "m009", "m010"])
    answers, kinds, unknown, pending = stored_answers(store.session_history(session.id), conversation.index, 60)
    assert answers == (KWayChoice((1, 2, 3), 2),)
    assert kinds == ("pick", "skip") and unknown == {4, 5, 6, 7}
    assert pending.question.item_ids == ("m008", "m009", "m010")


def test_a_typed_position_picks_the_option_shown_there_when_ids_look_like_positions(small_pack, store, embed):
    # MovieLens's ids: "1" is Toy Story. A person typing "1" means the first option, wherever Toy Story is shown.
    options = SessionOptions(question_size=4, min_questions=3, max_questions=3)
    plain = small_pack(manifest={"name": "numbered"})
    first = Assistant(plain, store, embed, options).start("kim", seed=0)
    shown = [plain.index_of(card.item_id) for card in first.items]
    ids = {index: str(4 - n) for n, index in enumerate(shown)}  # shown first: "4", ..., shown last: "1"
    films = [dataclasses.replace(item, item_id=ids.get(n, f"x{n}")) for n, item in enumerate(plain.items)]
    pack = small_pack(films, manifest={"name": "numbered"})
    turn = Assistant(pack, store, embed, options).start("lee", seed=0)
    assert [card.item_id for card in turn.items] == ["4", "3", "2", "1"]  # the same question, its ids reversed
    app = Assistant(pack, store, embed, options)
    for typed, meant in (("1", "4"), ("the second one", "3"), ("D", "1")):
        turn = app.start(f"lee-{typed}", seed=0)
        after = app.answer(turn.session_id, typed, turn.question_id)
        assert app.answered(after.session_id)[-1][1] == meant, typed


@pytest.mark.parametrize(
    "options, name",
    [
        (dict(strategy="psychic"), "psychic"),
        (dict(min_questions=5, max_questions=3), "3"),
        (dict(threshold=-1.0), "-1.0"),
        (dict(pool_size=0), "pool_size"),
        (dict(strategy="bald", question_size=4), "'bald'"),  # bald asks pairs only
    ],
)
def test_session_options_name_the_bad_value(options, name):
    with pytest.raises(ValueError, match=name):
        SessionOptions(**options)


def test_random_and_active_strategies_ask_k_way_questions():
    assert SessionOptions(strategy="random", question_size=6).question_size == 6
    assert SessionOptions(strategy="active", question_size=4).question_size == 4


def test_session_options_round_trip_through_stored_settings():
    options = SessionOptions(min_questions=2, max_questions=4, strategy="bald")
    stored = {**dataclasses.asdict(options), "migrated_from": "abc"}
    assert SessionOptions.from_settings(stored) == options


def test_pack_embedder_refuses_a_model_other_than_the_packs(pack, tmp_path):
    model = tmp_path / "other-model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"not the pack's weights")
    declared = {"name": "m", "path": str(tmp_path / "gone"), "checksum": "0" * 64}
    embed = pack_embedder(dataclasses.replace(pack, manifest={**pack.manifest, "embedding_model": declared}), str(model))
    with pytest.raises(EmbeddingError, match="other-model"):
        embed(["hello"])


def test_a_racing_call_that_recorded_the_next_question_first_wins(pack, tmp_path, embed, monkeypatch):
    """Two calls on one session both choose a next question; the one that records it first wins
    and the other shows that same question (storage refuses a second unanswered question)."""
    from prefchat.assistant.api import Assistant
    from prefchat.storage import open_store

    with open_store(f"sqlite:///{tmp_path / 'race.sqlite'}") as store:
        conversation = Assistant(pack, store, embed)
        first = conversation.start("racer")
        record = store.record_question
        rival = [pack.items[0].item_id, pack.items[1].item_id]

        def concurrent_caller_first(session_id, item_ids):
            record(session_id, rival)  # the other call got there first
            return record(session_id, item_ids)

        monkeypatch.setattr(store, "record_question", concurrent_caller_first)
        turn = conversation.answer(first.session_id, "a")
        monkeypatch.undo()
        assert [turn.item_a.item_id, turn.item_b.item_id] == rival
        history = store.session_history(first.session_id)
        assert len(history) == 2 and history[-1].answer is None


# --------------------------------------------------------------------------- the summary follows the profile


def onboarded_answers(store) -> int:
    return store.summary_history("alice", "tiny")[0].structured["_meta"]["n_answers"]


def test_feedback_regenerates_the_summary_and_keeps_what_was_stated(conversation, store, pack, onboarded):
    conversation.say("alice", "actually I love musicals")
    versions = len(store.summary_history("alice", "tiny"))
    conversation.say("alice", f"more like {pack.items[pack.index_of('m020')].title}")
    history = store.summary_history("alice", "tiny")
    assert len(history) == versions + 1 and history[-1].source == "generated"
    summary = conversation.summary("alice")
    assert summary.n_answers == onboarded_answers(store)  # answers to questions; the feedback is evidence, not an answer
    assert [(w.descriptor, w.weight > 0) for w in summary.stated] == [("musical", True)]


def test_start_over_keeps_stated_corrections_unless_asked_to_forget_them(conversation, store, planted, choose, onboarded):
    conversation.say("alice", "no horror please")
    turn = conversation.say("alice", "start over")
    run(conversation, turn, lambda t: choose(planted, t))
    assert [(w.descriptor, w.weight < 0) for w in conversation.summary("alice").stated] == [("horror", True)]
    assert "Stated by you: not keen on horror." in conversation.summary("alice").text
    turn = conversation.say("alice", "start over and forget what I said")
    run(conversation, turn, lambda t: choose(planted, t))
    assert conversation.summary("alice").stated == ()


def test_replies_claim_a_rerank_only_when_the_picks_moved(conversation, pack, onboarded, count_said):
    """How many picks are new, and how many are musicals before and now, as the reply says."""
    reply = conversation.say("alice", "actually I love musicals")
    before, after = ([r.index for r in picks] for picks in (onboarded.recommendations, reply.recommendations))
    new, k = len(set(after) - set(before)), len(after)
    assert before != after
    said = re.search(r"(\d+|All) of your top (\d+) changed" if new else rf"Your top {k} are the same {k}, in a new order",
                     reply.text)
    assert said is not None, reply.text
    if new:
        assert (k if said[1] == "All" else int(said[1]), int(said[2])) == (new, k), reply.text
    musical = re.search(r"\(musical: (none|all \d+|\d+ of \d+) before, (none|all \d+|\d+ of \d+) now\)\.$", reply.text)
    assert musical is not None, reply.text
    assert [count_said(musical[1]), count_said(musical[2])] == [sum("musical" in pack.items[i].tags for i in picks)
                                                        for picks in (before, after)]
    again = conversation.say("alice", "actually I love musicals")  # the same statement again moves nothing
    assert [r.index for r in again.recommendations] == after
    assert again.text.endswith(f"Your top {k} stay as they were: you had told me so already."), again.text


def test_a_stated_dislike_leaves_its_tag_out_of_the_picks(conversation, pack, planted, choose):
    """"no horror please" is an instruction: no pick carries the tag, however well it scores."""
    _, result = run(conversation, conversation.start("hana"), lambda t: choose(planted, t))
    reply = conversation.say("hana", "no horror please")
    assert "not keen on horror" in conversation.summary("hana").text
    picks = conversation.recommend("hana", k=30)
    assert len(picks) == 30 and not any("horror" in pack.items[p.index].tags for p in picks)
    assert not any("horror" in pack.items[p.index].tags for p in reply.recommendations)
