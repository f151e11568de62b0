"""The ranking metrics' known answers and the recall tolerance's rule."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefchat.elicitation.metrics import recall_at_k, recall_floor


def test_recall_is_capped_at_k_and_undefined_without_relevant_items():
    assert recall_at_k(np.array([3, 1, 2]), np.array([1, 9]), 2) == 0.5
    assert recall_at_k(np.arange(5), np.arange(10), 5) == 1.0  # five of ten relevant, and five places
    assert np.isnan(recall_at_k(np.arange(5), np.array([], dtype=int), 5))


def test_a_recall_floor_is_the_same_share_of_hits_on_any_catalog():
    assert recall_floor(0.30, 0.03) == pytest.approx(0.291)
    assert recall_floor(0.09, 0.03) == pytest.approx(0.0873)  # a tenth of the recall, a tenth of the slack


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.01, 100.0))
def test_a_recall_floor_scales_with_the_recall_at_stake(reference, share, scale):
    assert 0.0 <= recall_floor(reference, share) <= reference
    assert recall_floor(reference * scale, share) == pytest.approx(recall_floor(reference, share) * scale)
