"""The served score's settings chosen together: each the validation best given the others, a term that
does not help left out, and the record holding every score tried."""

import numpy as np
import pytest

from prefchat.reward.served import PASSED_OVER_WEIGHTS, ServedRows, ServedSettings, TrendTerms, choose_served_score

N_ITEMS = 50


def rows(passed: np.ndarray, relevant: np.ndarray, n_rows: int = 3) -> ServedRows:
    """Rows that rank item 0 first, item 49 last (the model alone), each passing over ``passed`` three times."""
    model = np.tile(np.linspace(1.0, 0.0, N_ITEMS, dtype=np.float32), (n_rows, 1))
    return ServedRows(model=model, bias=np.zeros(N_ITEMS, np.float32), counts=np.full(n_rows, 4.0),
                      logit=np.zeros(N_ITEMS), passed=[(passed, np.full(passed.size, 3.0))] * n_rows,
                      tasks=np.arange(n_rows), as_of=[None] * n_rows, exclude=[np.zeros(0, np.intp)] * n_rows,
                      relevant=[relevant] * n_rows, head=np.arange(N_ITEMS) < 10, popular=np.arange(N_ITEMS) < 10,
                      splits=np.zeros(n_rows, np.intp))


START = ServedSettings(calibration=0.0, window=None, beta=0.0, discount=0.0, delta=0.0)


def test_the_passed_over_weight_is_the_smallest_that_ranks_the_passed_over_below_the_relevant():
    # Items 0-9 fill the top of the list and were passed over; 20-29 are relevant. Passed over three
    # times, an item drops 3 delta: below item 29 (score 1 - 29/49) for every one of 0-9 from
    # delta 0.2, i.e. the first weight of the grid with weight * spread above 0.2 (spread 0.295).
    found = rows(np.arange(10), np.arange(20, 30))
    chosen, record = choose_served_score(found, START, [0.0], [0.0], 0.01)
    spread = found.spread(0.0)
    assert spread == pytest.approx(np.std(np.linspace(1, 0, N_ITEMS)), rel=1e-6)
    expected = min(w for w in PASSED_OVER_WEIGHTS if 3 * w * spread > 1 - 29 / 49 + (9 / 49 - 0))
    assert chosen.delta == pytest.approx(expected * spread)
    assert record["chosen"]["recall@20"] == 1.0 and record["start"]["recall@20"] == 0.0
    grid = record["rounds"][0]["passed_over"]
    assert [row["weight"] for row in grid] == list(PASSED_OVER_WEIGHTS)
    assert record["chosen"]["recall@20"] == max(row["recall@20"] for row in grid)


def test_a_term_that_does_not_help_is_not_served():
    # The items passed over are the relevant ones (as a held-out item is to the simulated user): delta 0.
    chosen, record = choose_served_score(rows(np.arange(10), np.arange(10)), START, [0.0, 1.0], [0.0, 0.5], 0.01)
    assert chosen == START
    assert len(record["rounds"]) == 1  # nothing moved: one round


def test_the_discount_keeps_its_rule_given_the_others():
    # A discount that empties the head costs recall beyond the tolerance when the relevant items are the head.
    found = rows(np.zeros(0, np.intp), np.arange(10))
    found = ServedRows(**{**found.__dict__, "logit": np.where(np.arange(N_ITEMS) < 10, 1.0, -1.0)})
    chosen, record = choose_served_score(found, START, [0.0], [0.0, 0.01, 1.0], 0.01)
    grid = record["discount_grid"]
    assert [row["discount"] for row in grid] == [0.0, 0.01, 1.0]
    assert grid[2]["long_tail_share@20"] > grid[0]["long_tail_share@20"] and grid[2]["recall@20"] < grid[0]["recall@20"] - 0.01
    assert grid[2]["head_share@20"] < grid[0]["head_share@20"] == 0.5  # items 0-9 of the top 20
    assert grid[1]["head_share@20"] == grid[0]["head_share@20"]  # 0.01 moves nothing: the smaller
    assert chosen.discount == 0.0


def test_the_discount_empties_the_head_when_recall_does_not_need_it():
    # The relevant items are 20-29, outside the head (0-9) and below it: a discount that drops the head
    # below them costs nothing and is chosen, although the long-tail share ("head" 0-9 here too) would
    # have chosen it as well; the head share is what is recorded and read.
    found = rows(np.zeros(0, np.intp), np.arange(20, 30))
    found = ServedRows(**{**found.__dict__, "logit": np.where(np.arange(N_ITEMS) < 10, 1.0, -1.0),
                          "head": np.zeros(N_ITEMS, bool)})  # a long tail that never moves
    chosen, record = choose_served_score(found, START, [0.0], [0.0, 1.0], 0.01)
    grid = record["discount_grid"]
    assert [row["long_tail_share@20"] for row in grid] == [1.0, 1.0]
    assert grid[0]["head_share@20"] == 0.5 and grid[1]["head_share@20"] == 0.0
    assert grid[1]["recall@20"] >= grid[0]["recall@20"] and chosen.discount == 1.0


def dated_rows(random_relevant: np.ndarray) -> tuple[ServedRows, TrendTerms]:
    """One row split at random (``random_relevant`` held out) and two split in time (items 30-39 held
    out: the ones the training users rated last), all served at the data's end; the model ranks
    item 0 first, and the trend's terms lift items 30-39 above it."""
    found = rows(np.zeros(0, np.intp), np.arange(30, 40), n_rows=3)
    found = ServedRows(**{**found.__dict__, "relevant": [random_relevant] + [np.arange(30, 40)] * 2,
                          "splits": np.array([0, 1, 1]), "split_names": ("random", "time")})
    early, late = np.repeat(np.arange(30), 3), np.repeat(np.arange(30, 40), 5)
    items = np.concatenate([early, late])
    times = np.concatenate([np.linspace(0.0, 50.0, early.size), np.linspace(90.0, 100.0, late.size)])
    return found, TrendTerms(items, times, N_ITEMS, [100.0] * 3)


def test_a_trend_that_serves_one_split_with_the_others_loss_is_not_served():
    # Random split: items 10-19 held out, in the model's top 20 until the trend lifts 30-39 over them.
    # The trend wins the mean over the rows (two of three are split in time) but costs the random split all of its recall.
    found, trends = dated_rows(np.arange(10, 20))
    unconstrained, _ = choose_served_score(found, START, [0.0], [0.0], 0.01, trends, trend_tolerance=1.0)
    assert unconstrained.beta > 0  # the mean alone would serve it
    chosen, record = choose_served_score(found, START, [0.0], [0.0], 0.01, trends, trend_tolerance=0.005)
    assert chosen.beta == 0.0
    assert record["chosen"]["recall@20_by_split"] == {"random": 1.0, "time": 0.0}
    tried = record["rounds"][0]["trend"]
    assert any(row["recall@20"] > record["chosen"]["recall@20"] and not row["serves_every_split"] for row in tried)


def test_a_trend_that_serves_both_splits_is_served():
    # Random split: items 0-9 held out, in the top 20 with or without the trend.
    found, trends = dated_rows(np.arange(10))
    chosen, record = choose_served_score(found, START, [0.0], [0.0], 0.01, trends, trend_tolerance=0.005)
    assert chosen.beta > 0
    assert record["chosen"]["recall@20_by_split"] == {"random": 1.0, "time": 1.0}


@pytest.mark.parametrize("seed", range(6))
def test_the_discount_spends_its_tolerance_once_against_the_best_found(seed):
    # Random scores, popularity and held-out items, with a trend: whatever the rounds do, the settings
    # chosen keep all but the tolerance's share of the best Recall@20 any setting tried reached.
    rng = np.random.default_rng(seed)
    found, trends = dated_rows(np.arange(10, 20))
    n = len(found.counts)
    found = ServedRows(**{**found.__dict__, "model": rng.normal(size=(n, N_ITEMS)).astype(np.float32),
                          "logit": rng.normal(size=N_ITEMS) * 2,
                          "relevant": [rng.choice(N_ITEMS, 8, replace=False) for _ in range(n)]})
    chosen, record = choose_served_score(found, START, [0.0, 1.0], [0.0, 0.5, 1.0, 2.0], 0.05, trends, trend_tolerance=1.0)
    tried = [row["recall@20"] for r in record["rounds"] for grid in (r["trend"], r["calibration"], r["passed_over"], r["discount"])
             for row in grid]
    assert record["chosen"]["recall@20"] >= 0.95 * max(tried) - 1e-12
    assert all(r["recall_floor"] <= 0.95 * max(tried) + 1e-12 for r in record["rounds"])
