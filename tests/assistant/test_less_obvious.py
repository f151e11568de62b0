""""Show me less obvious picks" leaves the head, or says honestly that it cannot (issue 21)."""

import re
from dataclasses import replace

import numpy as np
import pytest

from prefchat.api import Assistant, QuestionTurn
from prefchat.assistant import wording
from prefchat.assistant.replies import LESS_OBVIOUS_HEAD_SHARE
from prefchat.elicitation.person import HEAD_ITEMS
from prefchat.reward.serving import strongest_discount


def rated(pack, grid):
    """``pack`` as if trained on ratings by 999 users (its base rates known), with an exposure ``grid``
    recorded by validation, the "less obvious" setting its weakest discount."""
    hyperparameters = {**pack.manifest["hyperparameters"], "less_obvious_discount": grid[0]["discount"]}
    return replace(pack, manifest={**pack.manifest, "data": {"n_ratings": 100}, "hyperparameters": hyperparameters,
                                   "split": {"train": [f"u{i}" for i in range(999)], "test": []},
                                   "selection": {"exposure_discount": {"grid": grid}}})


def grid_of(*rows):
    """Validation rows ``(discount, recall, long-tail share)``, the head share read as its complement."""
    return [{"discount": d, "recall@20": r, "long_tail_share@20": t, "head_share@20": 1.0 - t} for d, r, t in rows]


def count(phrase: str, k: int) -> int:
    return 0 if phrase == "none" else k if phrase == "all" else int(phrase)


def asked(pack, db_url, embed, user="u"):
    """The reply to "show me less obvious picks" after an onboarding (always the first option), and
    the plain picks before it; the API's (and REST's) less obvious picks are the reply's."""
    with Assistant.open(pack, db=db_url, embed=embed) as app:
        turn = app.start(user)
        while isinstance(turn, QuestionTurn):
            turn = app.answer(turn.session_id, "1" if turn.more_items else "a")
        before = app.say(user, "recommend").recommendations
        reply = app.say(user, "show me less obvious picks")
        assert [p.item_id for p in app.less_obvious(user, len(before))] == [p.item_id for p in reply.recommendations]
        return before, reply


def test_strongest_discount_keeps_the_recall_floor():
    grid = grid_of((0.0, 0.4, 0.0), (0.5, 0.35, 0.1), (1.0, 0.2, 0.9), (1.5, 0.01, 1.0))
    assert strongest_discount(grid, 0.3) == 0.5
    assert strongest_discount(grid, 0.2) == 1.0
    assert strongest_discount(grid, 0.9) == 0.0  # none qualifies: no discount


def test_the_discount_with_the_least_head_wins_even_where_the_long_tail_never_moves():
    """A catalog whose lists stay among its 20% most popular at every discount (long-tail share 0
    throughout) still has discounts that take the 100 most popular out of a list: the head share
    sees them; a grid recorded before it (no head share) is read by its long-tail share, as then."""
    grid = [{"discount": d, "recall@20": r, "long_tail_share@20": 0.0, "head_share@20": h}
            for d, r, h in ((0.0, 0.40, 0.9), (0.5, 0.395, 0.7), (1.0, 0.35, 0.4))]
    assert strongest_discount(grid, 0.39) == 0.5 and strongest_discount(grid, 0.3) == 1.0
    before = [{key: value for key, value in row.items() if key != "head_share@20"} for row in grid]
    assert strongest_discount(before, 0.3) == 0.0  # every long-tail share equal: the smaller discount


@pytest.mark.parametrize("limit", [3.0, 0.0])
def test_the_reply_counts_the_head_it_left_or_says_it_cannot(small_pack, db_url, embed, limit):
    """With strong discounts validated the list leaves the head (at most 3 of 10 among the 100
    most popular); with none, the reply says there are no good less-known picks yet. Every number
    it says is recounted on the picks."""
    steps = [d for d in np.arange(0.0, 3.01, 0.5) if d <= limit]
    pack = rated(small_pack(400, manifest={"name": "tail"}),
                 grid_of(*[(d, 0.4 if d <= limit else 0.0, d / 3) for d in steps] + [(3.5, 0.0, 1.0)]))
    assert pack.less_obvious_discounts == tuple(steps)
    head = pack.serving.head
    assert head.sum() == HEAD_ITEMS and pack.popularity[head].min() >= pack.popularity[~head].max()
    before, reply = asked(pack, db_url, embed)
    picks, k = reply.recommendations, len(reply.recommendations)
    inside = [sum(head[p.index] for p in ranked) for ranked in (before, picks)]
    moved = re.fullmatch(r"Here are less obvious picks: (none|all|\d+) of your top (\d+) are now outside "
                         r"the 100 most-rated titles \(before: (none|all|\d+)\)\.", reply.text)
    if limit:
        assert moved is not None, reply.text
        assert inside[1] <= LESS_OBVIOUS_HEAD_SHARE * k < inside[0]
        assert [count(moved[1], k), int(moved[2]), count(moved[3], k)] == [k - inside[1], k, k - inside[0]]
    else:
        assert reply.text.startswith("I have no good less-known picks for you yet"), reply.text
        said = re.search(r"(none|all|\d+) of your top (\d+) are still among the 100 most-rated titles "
                         r"\(before: (none|all|\d+)\)", reply.text)
        assert said is not None and inside[1] > LESS_OBVIOUS_HEAD_SHARE * k
        assert [count(said[1], k), count(said[3], k)] == inside


def test_a_catalog_without_base_rates_says_it_cannot_tell(small_pack, db_url, embed):
    before, reply = asked(small_pack(manifest={"name": "on-sight"}), db_url, embed)
    assert reply.text == wording.NOT_WIDELY_KNOWN
    assert [p.item_id for p in reply.recommendations] == [p.item_id for p in before]


def test_the_steps_run_from_the_validated_setting_to_the_recorded_limit(small_pack):
    """A pack built with the limit recorded serves up to it; one built before derives it from its
    grid (half the undiscounted Recall@20 kept); one without a grid has its one setting."""
    grid = grid_of((0.0, 0.4, 0.0), (0.5, 0.35, 0.1), (1.0, 0.25, 0.5), (1.5, 0.1, 0.9))
    pack = rated(small_pack(), grid)
    assert pack.less_obvious_discounts == (0.0, 0.5, 1.0)  # 0.25 >= 0.4 / 2 > 0.1
    limited = replace(pack, manifest={**pack.manifest, "hyperparameters": {"less_obvious_discount": 0.5,
                                                                           "less_obvious_limit": 0.5}})
    assert limited.less_obvious_discounts == (0.5,)
    assert small_pack().less_obvious_discounts == (0.0,)
