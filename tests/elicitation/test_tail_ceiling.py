"""The long-tail quota of bench/tail_ceiling.py: what it measures must be what it says."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("tail_ceiling")


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(0.05, 1), (0.1, 2), (0.15, 3), (0.2, 4), (0.25, 5)]))
def test_a_quota_of_s_puts_s_of_a_top_20_in_the_tail_each_part_in_its_own_order(bench, seed, quota):
    share, n_tail = quota
    rng = np.random.default_rng(seed)
    scores, head = rng.normal(size=300), rng.random(300) < 0.3
    merged = bench.interleave(scores, head, share)
    top = np.argsort(-merged, kind="stable")[:20]
    assert int((~head[top]).sum()) == n_tail
    for part in (head, ~head):  # within the head and within the tail, the score's own order
        index = np.flatnonzero(part)
        assert (np.argsort(-merged[index], kind="stable") == np.argsort(-scores[index], kind="stable")).all()
    np.testing.assert_array_equal(bench.interleave(scores, head, 0.0), scores)
