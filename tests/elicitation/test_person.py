"""The measures that see a person: known answers, Steck's definition, and properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.elicitation.person import (
    genre_mix,
    head_share,
    miscalibration,
    person_report,
    personalisation,
    popularity_lift,
)
from prefchat.elicitation.respondents import RatingsRespondent, SharedAccount, SharedAccountTargets, most_popular
from prefchat.elicitation.selection import Question

# Five items, three genres: 0 horror, 1 comedy, 2 horror and comedy, 3 drama, 4 none.
GENRES = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=bool)
POPULARITY = np.array([50.0, 40.0, 30.0, 20.0, 10.0])


def test_an_items_genres_share_its_weight_and_an_item_without_genre_tells_nothing():
    assert genre_mix(np.array([0, 2]), GENRES) == pytest.approx([0.75, 0.25, 0.0])
    assert genre_mix(np.array([0, 4, -1]), GENRES) == pytest.approx([1.0, 0.0, 0.0])
    assert genre_mix(np.array([4]), GENRES) == pytest.approx([0.0, 0.0, 0.0])


def test_miscalibration_is_steck_kl_with_the_smoothed_list_mix():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([1.0, 0.0, 0.0])
    # half the user's mix is missing from the list: 0.5 log(0.5 / (0.99 + 0.005)) + 0.5 log(0.5 / 0.005)
    expected = 0.5 * math.log(0.5 / 0.995) + 0.5 * math.log(0.5 / 0.005)
    assert miscalibration(p, q) == pytest.approx(expected)
    assert miscalibration(p, p) == pytest.approx(0.0, abs=1e-12)
    assert miscalibration(np.array([1.0, 0, 0]), np.array([0.0, 1, 0])) == pytest.approx(math.log(100))


def test_miscalibration_names_what_is_wrong():
    with pytest.raises(ValueError, match="smoothing"):
        miscalibration(np.ones(2) / 2, np.ones(2) / 2, a=0.0)
    with pytest.raises(ValueError, match="shape"):
        miscalibration(np.ones(2) / 2, np.ones(3) / 3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0, allow_subnormal=False), min_size=2, max_size=6),
       st.lists(st.floats(0.0, 1.0, allow_subnormal=False), min_size=2, max_size=6))
def test_miscalibration_is_between_zero_and_log_one_over_a(p, q):
    n = min(len(p), len(q))
    p, q = np.array(p[:n]), np.array(q[:n])
    if p.sum() == 0 or q.sum() == 0:
        return
    value = miscalibration(p / p.sum(), q / q.sum())
    assert -1e-12 <= value <= math.log(1 / 0.01) + 1e-9


def test_popularity_lift_and_head_share_known_answers():
    assert popularity_lift(np.array([0, 1]), np.array([3, 4]), POPULARITY) == pytest.approx(45 / 15 - 1)
    assert popularity_lift(np.array([3, 4, -1]), np.array([3, 4]), POPULARITY) == pytest.approx(0.0)
    assert math.isnan(popularity_lift(np.array([0]), np.array([4]), np.zeros(5)))
    head = most_popular(POPULARITY, 2)
    assert head.tolist() == [True, True, False, False, False]
    assert head_share(np.array([0, 3, 4, 1]), head) == pytest.approx(0.5)
    assert math.isnan(head_share(np.array([-1, -1]), head))


def test_personalisation_is_one_minus_the_mean_jaccard_of_pairs():
    assert personalisation(np.array([[0, 1], [0, 1], [0, 1]])) == pytest.approx(0.0)
    assert personalisation(np.array([[0, 1], [2, 3]])) == pytest.approx(1.0)
    # pairs: {0,1}-{1,2} 1/3, {0,1}-{3,4} 0, {1,2}-{3,4} 0
    assert personalisation(np.array([[0, 1], [1, 2], [3, 4]])) == pytest.approx(1 - (1 / 3) / 3)
    assert math.isnan(personalisation(np.array([[0, 1]])))


def test_the_report_counts_a_user_once_and_takes_personalisation_within_a_seed():
    """Two users, two seeds each: one strategy serves both the same list, the other each their own."""
    user_ids = np.array(["u", "v", "u", "v"])
    own = [np.array([0]), np.array([3]), np.array([0]), np.array([3])]
    same = np.array([[0, 1], [0, 1], [0, 1], [0, 1]])
    own_lists = np.array([[0, 2], [3, 4], [0, 2], [3, 4]])
    top = np.stack([same, own_lists])[:, None]  # (2 strategies, 1 answer count, 4 tasks, k=2)
    rows = person_report(top, ("popularity", "active"), (10,), user_ids, own, GENRES, POPULARITY, n_head=2)
    popular, active = rows
    assert popular["users"] == 2 and popular["personalisation"] == pytest.approx(0.0)
    assert active["personalisation"] == pytest.approx(1.0)  # u's two seeds share a list: they are not two users
    # u: horror own, list {0: horror, 2: horror+comedy} -> mix (0.75, 0.25, 0) against (1, 0, 0)
    u_cal = miscalibration(np.array([1.0, 0, 0]), np.array([0.75, 0.25, 0]))
    assert active["miscalibration"] == pytest.approx(round((u_cal + 0.0) / 2, 4), abs=1e-4)
    assert active["head_share"] == pytest.approx(round((0.5 + 0.0) / 2, 4), abs=1e-4)


def test_a_shared_account_hears_one_member_per_question_and_is_judged_for_each():
    """The member drawn depends on the question alone; the list is judged against each member's own
    items: the weaker and the stronger member's recall, and whether both get a hit."""
    horror = RatingsRespondent(np.array([0, 2]), np.array([5.0, 4.0]), "watch")
    comedy = RatingsRespondent(np.array([1, 3]), np.array([5.0, 4.0]), "watch")
    account = SharedAccount((horror, comedy), seed=7)
    questions = [Question((a, b)) for a in range(4) for b in range(4) if a != b]
    drawn = [account.member(q) for q in questions]
    assert set(drawn) == {0, 1}
    assert drawn == [account.member(q) for q in reversed(questions)][::-1]  # order-free
    for q, m in zip(questions, drawn):
        assert account.answer(q) == (horror, comedy)[m].answer(q)
    targets = SharedAccountTargets(np.array([5, 6, 7]), np.array([0, 1, 2, 3]), np.zeros(10, dtype=bool), k=2,
                                   members=(np.array([5, 6]), np.array([7])))
    scores = -np.arange(10.0)  # ranked 4, 5 once 0..3 are out
    judged = targets(scores)
    assert judged["weaker_recall@2"] == 0.0 and judged["stronger_recall@2"] == 0.5 and judged["both_hit@2"] == 0.0
    scores[7] = 10.0  # 7, 4
    judged = targets(scores)
    assert judged["weaker_recall@2"] == 0.0 and judged["both_hit@2"] == 0.0
    scores[5] = 11.0  # 5, 7: a hit each
    judged = targets(scores)
    assert (judged["weaker_recall@2"], judged["stronger_recall@2"], judged["both_hit@2"]) == (0.5, 1.0, 1.0)
    assert judged["recall@2"] == 1.0
    with pytest.raises(ValueError, match="at least two members"):
        SharedAccountTargets(np.array([5]), np.array([0]), np.zeros(10, dtype=bool), members=(np.array([5]),))
