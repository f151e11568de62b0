"""Acceptance on real data: ten questions make recommendations personal.

Ten simulated users with distinct planted tastes (each far out along a different learned axis
of the MovieLens pack) onboard through the public API. Each completes ten questions, gets a
stored profile and summary, and a top-10 that differs from the population's top-10.
"""

import numpy as np
import pytest

from prefchat.api import Assistant, QuestionTurn, ResultTurn, SessionOptions
from prefchat.assistant.recommender import Recommender, Taste
from prefchat.elicitation.onboarding import known_items
from prefchat.elicitation.posterior import Comparison
from prefchat.reward.pack import load_pack


def planted_user(pack, axis: int):
    """Coefficients three prior standard deviations out along ``axis``; answers by their sign."""
    mean, cov = pack.prior
    coef = mean + 3 * np.sqrt(cov[axis, axis]) * np.eye(pack.n_bases)[axis]

    def choose(turn: QuestionTurn) -> str:
        a, b = (pack.features[pack.index_of(card.item_id)] @ coef for card in (turn.item_a, turn.item_b))
        return "a" if a > b else "b"

    return choose


@pytest.mark.slow
def test_ten_questions_personalise_the_top_ten(movielens_pack, tmp_path):
    pack = load_pack(movielens_pack)
    differing = 0
    options = SessionOptions(min_questions=10, max_questions=10)
    with Assistant.open(pack=pack, db=f"sqlite:///{tmp_path / 'db.sqlite'}", options=options) as assistant:
        for axis in range(10):
            choose, user = planted_user(pack, axis), f"planted-{axis}"
            turn = assistant.start(user)
            answers = []
            while isinstance(turn, QuestionTurn):
                choice = choose(turn)
                answers.append(Comparison(pack.index_of(turn.item_a.item_id), pack.index_of(turn.item_b.item_id), choice))
                turn = assistant.answer(turn.session_id, choice)
            assert isinstance(turn, ResultTurn) and len(answers) == 10
            profile = assistant.profile(user)
            assert sum(profile.counts.values()) == 10
            assert assistant.summary(user).text
            # "watch" ranks by what the answers show the user knows (the pack's known-items model
            # where it has one); the population's top 10 without the same items, for a fair comparison
            told, recommender = known_items(answers), Recommender(pack)
            population_top = {r.item_id for r in recommender.rank(Taste(pack.prior_mean, pack.prior[1], objective="watch"),
                                                                  10, exclude=sorted(told))}
            personal_top = {r.item_id for r in recommender.recommend(Taste(profile.mean, profile.cov, None, "watch", told), 10)}
            differing += personal_top != population_top
    assert differing >= 9


@pytest.mark.slow
def test_a_four_way_session_shows_four_cards_takes_1_and_recommends(movielens_pack, tmp_path):
    pack = load_pack(movielens_pack)
    options = SessionOptions(min_questions=10, max_questions=10, question_size=4)
    with Assistant.open(pack=pack, db=f"sqlite:///{tmp_path / 'db.sqlite'}", options=options) as assistant:
        turn, shown = assistant.start("four-way"), []
        while isinstance(turn, QuestionTurn):
            shown.append(len(turn.items))
            turn = assistant.answer(turn.session_id, "1", question_id=turn.question_id)
        assert shown == [4] * 10 and isinstance(turn, ResultTurn)
        assert assistant.profile("four-way").counts == {"pick": 10}
        picks = assistant.recommend("four-way", k=20)
        assert len(picks) == 20 and len({p.item_id for p in picks}) == 20
