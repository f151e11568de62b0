"""Calibrated lists: Steck's greedy step against the measure it optimises, known answers, and what λ = 0 keeps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.elicitation.calibrated import calibrated_order, calibrated_scores, kept_likes, standardised
from prefchat.elicitation.metrics import top_k
from prefchat.elicitation.person import CALIBRATION_MIX, genre_mix, miscalibration

# Four items best first: 0 and 1 horror, 2 comedy, 3 horror and comedy.
GENRES = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=bool)


def test_weight_zero_is_the_ranking_by_relevance():
    relevance = np.array([0.5, 2.0, 2.0, -1.0])
    assert calibrated_order(relevance, GENRES, np.array([0.0, 1.0]), 0.0).tolist() == [1, 2, 0, 3]
    scores = np.array([3.0, 2.0, 1.0, 0.0, 5.0])
    assert calibrated_scores(scores, np.vstack([GENRES, [0, 0]]), np.ones(5), 0.0) is scores


def test_the_popularity_term_alone_puts_the_less_popular_of_two_equal_scores_first():
    scores, popularity = np.array([1.0, 1.0, 0.0]), np.array([100.0, 10.0, 1.0])
    served = calibrated_scores(scores, np.ones((3, 1), dtype=bool), popularity, 0.0, popularity_weight=0.5)
    assert top_k(served, 3).tolist() == [1, 0, 2]


def test_a_user_of_two_genres_gets_both_early():
    """Half horror, half comedy: the comedy comes second at weight 0.5, third by relevance."""
    relevance = np.array([3.0, 2.0, 1.0, 0.0])
    target = np.array([0.5, 0.5])
    assert calibrated_order(relevance, GENRES, target, 0.0).tolist() == [0, 1, 2, 3]
    assert calibrated_order(relevance, GENRES, target, 0.5).tolist()[:2] == [0, 2]
    # Stronger still, the one item of both genres first: a list of it alone has the user's mix.
    assert calibrated_order(relevance, GENRES, target, 0.9).tolist()[0] == 3
    # No mix known: the order is relevance whatever the weight.
    assert calibrated_order(relevance, GENRES, np.zeros(2), 0.9).tolist() == [0, 1, 2, 3]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="weight"):
        calibrated_order(np.zeros(4), GENRES, np.array([0.5, 0.5]), 1.5)
    with pytest.raises(ValueError, match="one row per candidate"):
        calibrated_order(np.zeros(3), GENRES, np.array([0.5, 0.5]), 0.5)


instances = st.integers(2, 9).flatmap(lambda n: st.tuples(
    st.lists(st.floats(-3, 3, allow_subnormal=False), min_size=n, max_size=n),
    st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=n, max_size=n),
    st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3),
    st.floats(0.0, 1.0),
))


@settings(max_examples=60, deadline=None)
@given(instances)
def test_each_step_maximises_relevance_less_the_measured_miscalibration(instance):
    """Every greedy step against the objective computed by the very measures the benchmark reports."""
    relevance, genres, target, weight = instance
    relevance, genres = np.array(relevance), np.array(genres)
    p = np.array(target) / np.sum(target)
    order = calibrated_order(relevance, genres, p, weight)
    assert sorted(order.tolist()) == list(range(len(relevance)))
    for step in range(len(order)):
        chosen = order[:step].tolist()

        def value(i, chosen=chosen):
            return (1 - weight) * relevance[i] - weight * miscalibration(p, genre_mix(np.array([*chosen, i]), genres))

        rest = [i for i in range(len(relevance)) if i not in chosen]
        assert value(order[step]) >= max(value(i) for i in rest) - 1e-9


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.05, 1.0), st.floats(0.0, 1.0))
def test_any_top_k_of_the_calibrated_scores_is_the_calibrated_lists_first_k(seed, weight, popularity_weight):
    rng = np.random.default_rng(seed)
    scores, popularity = rng.normal(size=40), rng.integers(1, 100, size=40).astype(float)
    genres = rng.random((40, 4)) < 0.3
    exclude = rng.choice(40, size=5, replace=False)
    served = calibrated_scores(scores, genres, popularity, weight, popularity_weight, horizon=15, exclude=exclude, depth=12)
    candidates = top_k(scores, 12, exclude)
    target = genre_mix(top_k(scores, 15, exclude), genres)  # the mix of the horizon's best, what the user knows left out
    relevance = standardised(scores[candidates]) - popularity_weight * standardised(np.log1p(popularity[candidates]))
    order = candidates[calibrated_order(relevance, genres[candidates], target, weight)]
    for k in (1, 5, 12):
        assert top_k(served, k, exclude).tolist() == order[:k].tolist()
    assert np.allclose(np.sort(served), np.sort(scores))  # the candidates' scores dealt out again, the rest as they were
    rest = np.setdiff1d(np.arange(40), candidates)
    assert np.array_equal(served[rest], scores[rest])


def test_a_like_no_pick_carries_takes_the_last_place_of_the_first_screen():
    # Items best first 0..7; "horror" (column 0) is carried by 6 and 7 only, "comedy" (column 1) by 2 only.
    scores = np.array([8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    carriers = np.zeros((8, 2), dtype=bool)
    carriers[[6, 7], 0] = True
    carriers[2, 1] = True
    served = kept_likes(scores, carriers, within=4)
    assert top_k(served, 8).tolist() == [0, 1, 2, 6, 3, 4, 5, 7]  # 6, horror's best, in 3's place; 3 just below
    # Comedy's only carrier (2) is not given up for horror: the place is the last one that keeps it.
    carriers[:, 1] = False
    carriers[3, 1] = True
    served = kept_likes(scores, carriers[:, ::-1], within=4)  # comedy first (kept by 3), then horror
    assert top_k(served, 8).tolist() == [0, 1, 3, 6, 2, 4, 5, 7]
    # Horror's best carrier left out (known, or said no to): the next, 7, in 2's place; 3 holds comedy already.
    assert top_k(kept_likes(scores, carriers, within=4, exclude=np.array([6])), 4, np.array([6])).tolist() == [0, 1, 3, 7]
    # No carrier of horror left: the list keeps what it can (comedy's 3 was there already) and moves nothing.
    assert kept_likes(scores, carriers, within=4, exclude=np.array([6, 7])) is scores


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.integers(1, 4))
def test_kept_likes_carries_every_like_it_can_and_moves_nothing_else(seed, within, n_likes):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=30)
    carriers = rng.random((30, n_likes)) < 0.15
    exclude = rng.choice(30, size=4, replace=False)
    served = kept_likes(scores, carriers, within=within, exclude=exclude)
    before, after = top_k(scores, 26, exclude).tolist(), top_k(served, 26, exclude).tolist()
    first = after[:within]
    free = np.setdiff1d(np.arange(30), exclude)
    kept = [like for like in range(n_likes) if carriers[first, like].any()]
    if carriers[before[:within]].any(axis=0).all() or served is scores:
        assert after == before  # a list that keeps its word is left as it is
    # The likes kept: at least as many as before, and every one whose carriers the first screen can hold.
    assert len(kept) >= int(carriers[before[:within]].any(axis=0).sum())
    if n_likes <= within:
        assert len(kept) == int(carriers[free].any(axis=0).sum())
    # The screen holds its own items and carriers of likes; those it gave up come before every item that was on
    # no screen; the items never moved (off the old screen, carrying no like) keep their order.
    moved_in = [i for i in first if i not in before[:within]]
    assert all(carriers[i].any() for i in moved_in)
    never = [i for i in before if i not in before[:within] and not carriers[i].any()]
    assert [i for i in after if i in never] == never
    given_up = [after.index(i) for i in before[:within] if i not in first]
    assert all(p < after.index(j) for p in given_up for j in never)
    rest = np.setdiff1d(np.arange(30), np.union1d(first, exclude))
    assert np.all(served[first].min() > served[rest])


def straightforward_order(relevance, genres, p, weight, a=CALIBRATION_MIX):
    """Steck's greedy step as written: the miscalibration of L + {i} for every candidate i at every step."""
    rows = np.asarray(genres, dtype=float)
    counts = rows.sum(axis=1)
    carries = counts > 0
    rows = np.divide(rows, counts[:, None], out=np.zeros_like(rows), where=carries[:, None])
    held = p > 0
    if weight == 0.0 or not held.any():
        return np.argsort(-relevance, kind="stable")
    p, rows = p[held], rows[:, held]
    total, n_carrying, value = np.zeros(len(p)), 0, (1.0 - weight) * relevance
    free, order = np.ones(len(relevance), dtype=bool), []
    for _ in range(len(relevance)):
        size = n_carrying + carries
        q = np.divide(total + rows, size[:, None], out=np.zeros_like(rows), where=size[:, None] > 0)
        kl = np.sum(p * np.log(p / ((1.0 - a) * q + a * p)), axis=1)
        best = int(np.argmax(np.where(free, value - weight * kl, -np.inf)))
        order.append(best)
        free[best] = False
        total += rows[best]
        n_carrying += int(carries[best])
    return np.array(order)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(1, 6), st.sampled_from([0.0, 0.3, 0.5, 0.9, 0.95, 1.0]),
       st.booleans(), st.booleans())
def test_the_order_by_kinds_is_the_straightforward_greedy_order(seed, n, n_genres, weight, one_genre, coarse):
    """Same order, ties included: coarse relevance (few distinct values) and one genre per item make many
    candidates of one kind and many equal gains; some items carry no genre, some only genres p lacks."""
    rng = np.random.default_rng(seed)
    relevance = rng.integers(0, 3, n) / 2.0 if coarse else rng.normal(size=n)
    if one_genre:
        genres = np.zeros((n, n_genres), dtype=bool)
        genres[np.arange(n), rng.integers(0, n_genres, n)] = True
        genres[rng.random(n) < 0.1] = False
    else:
        genres = rng.random((n, n_genres)) < 0.4
    p = rng.dirichlet(np.ones(n_genres)) * (rng.random(n_genres) < 0.7)
    p = p / p.sum() if p.sum() > 0 else p
    expected = straightforward_order(relevance, genres, p, weight)
    assert calibrated_order(relevance, genres, p, weight).tolist() == expected.tolist()
    length = int(rng.integers(0, n + 1))
    assert calibrated_order(relevance, genres, p, weight, length=length).tolist() == expected[:length].tolist()


def test_a_kind_of_equal_relevance_gives_its_lower_position_first():
    """Known answer: 0 and 2 are one kind of equal relevance, 1 the other genre; the user is all of genre 0."""
    genres = np.array([[1, 0], [0, 1], [1, 0]], dtype=bool)
    assert calibrated_order(np.array([1.0, 1.0, 1.0]), genres, np.array([1.0, 0.0]), 0.5).tolist() == [0, 2, 1]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.05, 1.0), st.floats(0.0, 1.0), st.integers(0, 14))
def test_a_top_length_of_the_calibrated_scores_is_the_one_with_every_position(seed, weight, popularity_weight, length):
    rng = np.random.default_rng(seed)
    scores, popularity = rng.normal(size=40).round(1), rng.integers(1, 100, size=40).astype(float)
    genres = rng.random((40, 4)) < 0.3
    exclude = rng.choice(40, size=5, replace=False)
    whole = calibrated_scores(scores, genres, popularity, weight, popularity_weight, horizon=15, exclude=exclude, depth=12)
    short = calibrated_scores(scores, genres, popularity, weight, popularity_weight, horizon=15, exclude=exclude, depth=12,
                              length=length)
    assert top_k(short, length, exclude).tolist() == top_k(whole, length, exclude).tolist()
    assert np.allclose(np.sort(short), np.sort(scores))
