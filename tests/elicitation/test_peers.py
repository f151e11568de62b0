"""EASE and iALS peers: known answers on small data, and the behaviour their papers describe."""

import numpy as np
import pytest

from prefchat.elicitation.peers import Ease, Ials, choose_peer, implicit_matrix


def _blocks(rng, n_users=60, n_items=12):
    """Two communities: users of the first like items 0-5, of the second 6-11 (a few strays)."""
    x = np.zeros((n_users, n_items))
    for u in range(n_users):
        block = np.arange(6) if u % 2 == 0 else np.arange(6, 12)
        x[u, rng.choice(block, 4, replace=False)] = 1
        if rng.random() < 0.2:
            x[u, rng.integers(n_items)] = 1
    return x


def test_ease_equals_the_closed_form_of_steck_2019():
    rng = np.random.default_rng(0)
    x = (rng.random((15, 25)) < 0.3).astype(float)  # fewer users than items: the Woodbury route
    l2 = 3.0
    p = np.linalg.inv(x.T @ x + l2 * np.eye(25))
    b = np.eye(25) - p / np.diag(p)[None, :]
    ease = Ease.fit(x, l2)
    assert np.allclose(np.diag(ease.weights()), 0.0)
    assert np.allclose(ease.weights(), b, atol=1e-10)
    known = [1, 4, 7]
    assert np.allclose(ease.scores(known)[np.setdiff1d(np.arange(25), known)],
                       (b[known].sum(0))[np.setdiff1d(np.arange(25), known)], atol=1e-10)


def test_ease_recommends_the_users_community_and_a_known_item_never_explains_itself():
    ease = Ease.fit(_blocks(np.random.default_rng(1)), 5.0)
    scores = ease.scores([0, 1])
    others = np.setdiff1d(np.arange(12), [0, 1])
    assert set(others[np.argsort(-scores[others])[:4]]) <= set(range(2, 6))
    # diag B = 0: a known item never explains itself, it scores by the other known items only
    assert ease.scores([3])[3] == pytest.approx(0.0, abs=1e-9)


def test_ials_fold_in_recommends_the_users_community():
    x = _blocks(np.random.default_rng(2))
    ials = Ials.fit(implicit_matrix(*np.nonzero(x), *x.shape), factors=4, alpha=10.0, l2=1.0)
    scores = ials.scores([6, 7])
    others = np.setdiff1d(np.arange(12), [6, 7])
    assert set(others[np.argsort(-scores[others])[:4]]) <= set(range(8, 12))


def test_ials_fold_in_is_the_user_step_of_hu_2008_with_the_item_factors_fixed():
    x = _blocks(np.random.default_rng(4))
    alpha, l2, known = 10.0, 1.0, [1, 6, 7]
    ials = Ials.fit(implicit_matrix(*np.nonzero(x), *x.shape), factors=4, alpha=alpha, l2=l2)
    v = ials.model.item_factors
    seen = v[known]
    user = np.linalg.solve(v.T @ v + alpha * seen.T @ seen + l2 * np.eye(4), (1 + alpha) * seen.sum(0))  # eq. 4
    np.testing.assert_allclose(ials.scores(known), v @ user, atol=1e-10)
    with pytest.raises(ValueError, match="outside 0..11: 12"):
        ials.scores([12])


def test_choose_peer_picks_the_better_l2_and_reports_every_setting():
    x = _blocks(np.random.default_rng(3))
    users = [(np.array([0, 1]), np.array([2, 3])), (np.array([6, 7]), np.array([8, 9]))]
    candidates = [(l2, Ease.fit(x, l2)) for l2 in (1.0, 10.0)]
    best, table = choose_peer(candidates, users, k=4)
    assert [row["setting"] for row in table] == [1.0, 10.0]
    assert table[best]["recall@4"] == max(row["recall@4"] for row in table)
    with pytest.raises(ValueError):
        choose_peer([], users)
