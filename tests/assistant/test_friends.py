"""Friends at serving time: stored with the user, read as the social prior, forgotten with "forget me"."""

from dataclasses import replace

import numpy as np
import pytest

from prefchat.assistant import wording
from prefchat.assistant.api import Assistant
from prefchat.assistant.friends import MAX_FRIENDS
from prefchat.assistant.turns import AnyTurn, QuestionTurn, SessionOptions
from prefchat.elicitation.known import KnownModel, components, population, spectral_bases, user_coefficients
from prefchat.elicitation.social import SocialModel, item_lists
from prefchat.reward.pack import load_pack, save_pack
from prefchat.storage import open_store

N_MEMBERS = 80


def _social_pack(pack, trust=8.0, item_weight=0.0):
    """The pack as if trained on ratings of 80 users of two tastes (even: the first item's genre), with
    a known-items model and a social prior over those users (their item lists, and a friends' items
    term of weight ``item_weight``)."""
    rng = np.random.default_rng(8)
    taste = np.array([item.tags[0] == pack.items[0].tags[0] for item in pack.items])
    x = np.array([(rng.random(pack.n_items) < np.where(taste == (u % 2 == 0), 0.4, 0.05)) for u in range(N_MEMBERS)], float)
    emission, features = spectral_bases(*components(x), 5.0)
    members = [f"t{u}" for u in range(N_MEMBERS)]
    manifest = {**pack.manifest, "data": {"n_ratings": 100}, "split": {"train": members}}
    known = KnownModel(features, emission, *population(x, emission), tau=1.0)
    social = SocialModel(tuple(members), user_coefficients(x, emission), trust, 0.0, *item_lists(x), item_weight, 0.0)
    return replace(pack, manifest=manifest, known=known, social=social), taste


def _answered(app: Assistant, user: str, choose, planted, n: int, friends=None):
    """A session of ``n`` questions, each answered by the planted user; what the user is recommended."""
    options = SessionOptions(min_questions=n, max_questions=n, objective="watch")
    turn: AnyTurn = app.start(user, options=options, seed=7, friends=friends)
    while isinstance(turn, QuestionTurn):
        turn = app.answer(turn.session_id, choose(planted, turn), question_id=turn.question_id)
    return [(pick.item_id, pick.score) for pick in app.recommend(user, k=15)]


@pytest.mark.parametrize("n", [0, 3])
def test_users_without_friends_get_todays_lists(pack, embed, tmp_path, choose, planted, n):
    social_pack, _ = _social_pack(pack)
    plain_pack = replace(social_pack, social=None)
    with open_store(f"sqlite:///{tmp_path}/a.sqlite") as a, open_store(f"sqlite:///{tmp_path}/b.sqlite") as b:
        with_social, without = Assistant(social_pack, a, embed), Assistant(plain_pack, b, embed)
        assert _answered(with_social, "u", choose, planted, n) == _answered(without, "u", choose, planted, n)
        assert _answered(with_social, "v", choose, planted, n, friends=[]) == _answered(without, "v", choose, planted, n)


@pytest.mark.parametrize("n", [0, 3])
def test_users_without_friends_get_todays_lists_with_a_friends_items_term(pack, embed, tmp_path, choose, planted, n):
    social_pack, _ = _social_pack(pack, item_weight=2.0)
    plain_pack = replace(social_pack, social=None)
    with open_store(f"sqlite:///{tmp_path}/a.sqlite") as a, open_store(f"sqlite:///{tmp_path}/b.sqlite") as b:
        with_social, without = Assistant(social_pack, a, embed), Assistant(plain_pack, b, embed)
        assert _answered(with_social, "u", choose, planted, n) == _answered(without, "u", choose, planted, n)


def test_the_friends_items_term_puts_what_friends_rated_first_and_survives_the_pack_on_disk(pack, embed, store, tmp_path):
    social_pack, _ = _social_pack(pack, trust=0.0, item_weight=50.0)
    social = social_pack.social
    loaded = load_pack(save_pack(social_pack, tmp_path / "social"))
    assert loaded.social is not None and (loaded.social.item_weight, loaded.social.item_spread) == (50.0, 0.0)
    np.testing.assert_array_equal(loaded.social.item_indptr, social.item_indptr)
    np.testing.assert_array_equal(loaded.social.item_indices, social.item_indices)
    app = Assistant(loaded, store, embed)
    options = SessionOptions(min_questions=0, max_questions=0, objective="watch")
    app.start("me", options=options, friends=["t0", "t7"])
    rated = {loaded.items[j].item_id for j in np.union1d(social.items_of(0), social.items_of(7))}
    picks = [pick.item_id for pick in app.recommend("me", k=min(10, len(rated)))]
    assert set(picks) <= rated
    old = load_pack(save_pack(replace(social_pack, social=replace(social, item_indptr=None, item_indices=None, item_weight=0.0)),
                              tmp_path / "before"))
    assert old.social is not None and old.social.item_indptr is None and old.social.item_weight == 0.0


def test_friends_of_one_taste_move_a_new_users_list_to_it_with_the_same_questions(pack, embed, store, choose, planted):
    social_pack, taste = _social_pack(pack)
    app = Assistant(social_pack, store, embed)
    alone = _answered(app, "alone", choose, planted, 0)
    even = [f"t{u}" for u in range(0, 20, 2)]
    followed = _answered(app, "follows", choose, planted, 0, friends=even)
    assert alone != followed
    share = np.mean([taste[social_pack.index_of(item)] for item, _ in followed[:10]])
    assert share > np.mean([taste[social_pack.index_of(item)] for item, _ in alone[:10]]) and share >= 0.8
    options = SessionOptions(min_questions=3, max_questions=3, objective="watch")
    first, second = app.start("q1", options=options, seed=3), app.start("q2", options=options, seed=3, friends=even)
    assert isinstance(first, QuestionTurn) and isinstance(second, QuestionTurn)
    assert [c.item_id for c in first.items] == [c.item_id for c in second.items]


def test_unknown_friends_are_left_out_and_counted_and_bad_ids_refused(pack, embed, store):
    social_pack, _ = _social_pack(pack)
    app = Assistant(social_pack, store, embed)
    app.start("stored")
    store.ensure_user("me")
    assert app.friends.follow("me", {"t1": 2.0, "stored": 1.0, "nobody": 1.0}) == 1
    assert store.friends_of("me") == {"stored": 1.0, "t1": 2.0}
    for bad, message in ((["ok", " spaced"], "user id"), ([f"t{i}" for i in range(MAX_FRIENDS + 1)], "at most"),
                         (["t1", "t1"], "twice"), ({"t1": -1.0}, "weight"), ("t1", "not one string")):
        with pytest.raises(ValueError, match=message):
            app.friends.follow("me", bad)
    with pytest.raises(ValueError, match="own friend"):
        app.friends.follow("me", ["me"])


def test_a_forgotten_user_is_in_no_friends_list_or_prior(pack, embed, store, choose, planted):
    social_pack, _ = _social_pack(pack)
    app = Assistant(social_pack, store, embed)
    _answered(app, "friend", choose, planted, 3)  # a stored user with a profile
    app.start("me", friends=["friend", "t0"])
    assert set(store.friends_of("me")) == {"friend", "t0"}
    with_friend = app.friends.evidence("me")
    assert with_friend is not None and with_friend.count == pytest.approx(8.0)
    app.forget("friend")
    assert store.friends_of("me") == {"t0": 1.0}
    after = app.friends.evidence("me")
    assert after is not None
    np.testing.assert_allclose(after.mean, social_pack.social.coefficients[0], rtol=1e-6)
    assert store.export_user("me")["friends"] == [{"friend_id": "t0", "weight": 1.0}]
    app.forget("me")
    assert store.friends_of("me") == {}


def test_the_discovery_slot_shows_a_friends_pick_without_naming_the_friend(pack, embed, store):
    social_pack, _ = _social_pack(pack)
    slotted = replace(social_pack, manifest={**social_pack.manifest, "hyperparameters": {
        **social_pack.manifest.get("hyperparameters", {}), "social_discovery_slot": 3}})
    app, plain = Assistant(slotted, store, embed), Assistant(social_pack, store, embed)
    friends = ["t0", "t1", "t3"]  # two tastes: the odd ones differ from the even one
    options = SessionOptions(min_questions=0, max_questions=0, objective="watch")
    app.start("me", options=options, friends=friends)
    picks, without = app.recommend("me", k=10), plain.recommend("me", k=10)
    assert len(picks) == 10
    assert picks[2].why == wording.DISCOVERY and picks[2].item_id not in {p.item_id for p in without}
    assert [p.item_id for p in picks[:2] + picks[3:]] == [p.item_id for p in without[:9]]
    assert not any(friend in pick.why for pick in picks for friend in friends)
    app.start("alone", options=options)
    assert [p.item_id for p in app.recommend("alone", k=10)] == [p.item_id for p in plain.recommend("alone", k=10)]
