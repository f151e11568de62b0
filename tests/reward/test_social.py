"""Choosing the social prior on validation users with friends, and reading a friends graph."""

import numpy as np
import pytest

from prefchat.elicitation.evaluate import rating_tasks
from prefchat.elicitation.known import KnownModel, components, population, spectral_bases
from prefchat.elicitation.onboarding import Session
from prefchat.elicitation.posterior import Posterior
from prefchat.reward.data import DataError
from prefchat.reward.friends import Friends, load_friends
from prefchat.reward.social import choose_social_prior

N_ITEMS, PER_COMMUNITY = 40, 20


def _communities(seed=0, n_users=60):
    """Users in two communities of items (0-19, 20-39), each rating 8 of their own community's."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = PER_COMMUNITY * (u % 2)
        rows.append(start + rng.choice(PER_COMMUNITY, 8, replace=False))
    return rows


def _matrix(rows):
    x = np.zeros((len(rows), N_ITEMS))
    for u, items in enumerate(rows):
        x[u, items] = 1.0
    return x


def _no_answers(model: KnownModel) -> Session:
    return Session((), (Posterior.from_prior(np.zeros(2), np.eye(2)),), ())


def _following_their_community():
    """Two communities of training users; 20 validation users, each following three training users of
    their own community. Returns the model, the training matrix, member ids, friends and sessions."""
    train_rows, validation_rows = _communities(0), _communities(1, 20)
    x = _matrix(train_rows)
    emission, features = spectral_bases(*components(x), 2.0)
    model = KnownModel(features, emission, *population(x, emission), tau=1.0)
    members = [f"t{u}" for u in range(len(train_rows))]
    friends = Friends({f"v{u}": {f"t{(u % 2) + 2 * j}": 1.0 for j in range(3)} for u in range(len(validation_rows))})
    users = {f"v{u}": (items, np.ones(len(items))) for u, items in enumerate(validation_rows)}
    tasks = rating_tasks(users, "watch", [0], np.asarray(x.sum(0)))
    return model, x, members, friends, [(task, _no_answers(model)) for task in tasks]


def test_friends_of_the_same_community_earn_trust():
    model, x, members, friends, sessions = _following_their_community()
    social, chosen, table = choose_social_prior(model, x, members, friends, sessions)
    assert chosen["social_trust"] > 0 and social.trust == chosen["social_trust"]
    assert table["validation_users"] == len(sessions)
    scores = {(row["trust"], row["spread"]): row["recall@20"] for row in table["grid"] if not row["item_weight"]}
    assert max(scores.values()) > scores[0.0, 0.0]
    assert social.coefficients.shape == (len(members), model.n_bases)


def test_the_prior_is_chosen_against_the_served_score():
    """The served score without friends is what every setting adds to: a served term that already
    ranks each validation user's held-out items first leaves friends nothing to add, so no trust is
    served; and the setting without friends scores exactly the served ranking."""
    model, x, members, friends, sessions = _following_their_community()

    def served(task, posterior):  # the known-items score, and a term that knows the held-out items
        bonus = np.zeros(N_ITEMS)
        bonus[task.targets.relevant] = 100.0
        return model.scores(()) + bonus

    _, chosen, table = choose_social_prior(model, x, members, friends, sessions, served)
    assert chosen["social_trust"] == 0.0 and chosen["social_item_weight"] == 0.0 and table["served"]
    direct = np.mean([task.targets(served(task, None))["recall@20"] for task, _ in sessions])
    none = next(row for row in table["grid"] if not row["trust"] and not row["item_weight"])
    assert none["recall@20"] == pytest.approx(direct) == 1.0
    _, unserved, _ = choose_social_prior(model, x, members, friends, sessions)
    assert unserved["social_trust"] > 0  # the same users, judged on the known-items model alone


def test_friends_whose_items_are_the_held_out_ones_earn_an_item_weight():
    """Validation users in one community each follow three training users who rated the very items
    they hold out: the friends' mean says the community, their items say which items of it."""
    train_rows = _communities(3)
    x = _matrix(train_rows)
    emission, features = spectral_bases(*components(x), 2.0)
    model = KnownModel(features, emission, *population(x, emission), tau=1.0)
    members = [f"t{u}" for u in range(len(train_rows))]
    rng = np.random.default_rng(4)
    users, links = {}, {}
    for v in range(16):
        followed = rng.choice(np.arange(v % 2, len(train_rows), 2), 3, replace=False)
        their = np.unique(np.concatenate([train_rows[f] for f in followed]))
        users[f"v{v}"] = (their, np.ones(len(their)))  # what their friends rated, no more
        links[f"v{v}"] = {f"t{f}": 1.0 for f in followed}
    tasks = rating_tasks(users, "watch", [0], np.asarray(x.sum(0)))
    sessions = [(task, _no_answers(model)) for task in tasks]
    social, chosen, table = choose_social_prior(model, x, members, Friends(links), sessions)
    assert chosen["social_item_weight"] > 0 and social.item_weight == chosen["social_item_weight"]
    grid = {(row["trust"], row["spread"], row["item_weight"], row["item_spread"]): row["recall@20"] for row in table["grid"]}
    assert grid[social.trust, social.spread, social.item_weight, social.item_spread] > grid[social.trust, social.spread, 0.0, 0.0]
    np.testing.assert_array_equal(social.items_of(5), np.flatnonzero(x[5]))


def test_without_validation_users_with_friends_there_is_no_trust():
    x = _matrix(_communities(2))
    emission, features = spectral_bases(*components(x), 2.0)
    model = KnownModel(features, emission, *population(x, emission), tau=1.0)
    users = {"v0": (np.arange(6), np.ones(6))}
    tasks = rating_tasks(users, "watch", [0], np.asarray(x.sum(0)))
    social, chosen, table = choose_social_prior(model, x, [f"t{u}" for u in range(len(x))], Friends({}),
                                                [(tasks[0], _no_answers(model))])
    assert chosen == {"social_trust": 0.0, "social_spread": 0.0, "social_item_weight": 0.0, "social_item_spread": 0.0,
                      "social_discovery_slot": 0} and table["validation_users"] == 0
    assert social.item_weight == 0.0 and social.item_indptr is not None


def test_a_friends_file_is_directed_weighted_and_checked_by_line(write):
    path = write("friends.csv", "user_id,friend_id,weight\na,b,2\nb,a,1\na,c,0.5\n")
    friends = load_friends(path)
    assert friends.of("a") == {"b": 2.0, "c": 0.5} and friends.of("b") == {"a": 1.0} and friends.of("c") == {}
    assert friends.among(["b"]).of("a") == {"b": 2.0} and friends.n_links == 3
    for body, message in (("a,a,1", "own friend"), ("a,b,0", "positive weight"), ("a,b,1\na,b,2", "listed twice"),
                          ("a,b,x", "not a number")):
        with pytest.raises(DataError, match=message) as error:
            load_friends(write("bad.csv", f"user_id,friend_id,weight\n{body}\n"))
        assert "line" in str(error.value)
