"""Shared pieces of the elicitation tests."""

import numpy as np
import pytest


@pytest.fixture
def synthetic_pack():
    """300 items with 6 random bases and a standard normal prior over coefficients."""
    rng = np.random.default_rng(20250306)
    n_items, n_bases = 300, 6
    return {
        "features": rng.normal(size=(n_items, n_bases)),
        "prior_mean": np.zeros(n_bases),
        "prior_cov": np.eye(n_bases),
    }

