"""A pass over a catalog's rows in blocks: every row once, results in place, errors raised."""

import threading

import numpy as np
import pytest

from prefchat.elicitation.blocks import BLOCK_ROWS, each_block


@pytest.mark.parametrize("n_rows", [0, 1, BLOCK_ROWS - 1, BLOCK_ROWS, BLOCK_ROWS + 1, 3 * BLOCK_ROWS + 17])
def test_the_blocks_cover_every_row_once_in_slices_of_at_most_block_rows(n_rows):
    seen, lock = np.zeros(n_rows, dtype=int), threading.Lock()
    sizes = []

    def work(rows: slice) -> None:
        with lock:
            seen[rows] += 1
            sizes.append(rows.stop - rows.start)

    each_block(n_rows, work)
    assert (seen == 1).all()
    assert all(0 < size <= BLOCK_ROWS for size in sizes)
    assert len(sizes) == -(-n_rows // BLOCK_ROWS)


def test_results_written_at_the_rows_are_those_of_one_pass():
    values = np.random.default_rng(0).normal(size=(2 * BLOCK_ROWS + 5, 3))
    out = np.empty(len(values))

    def work(rows: slice) -> None:
        out[rows] = values[rows] @ np.array([1.0, -2.0, 0.5])

    each_block(len(values), work)
    np.testing.assert_array_equal(out, values @ np.array([1.0, -2.0, 0.5]))


def test_an_error_in_a_block_is_raised_once_no_block_is_running():
    running, lock = [0], threading.Lock()

    def work(rows: slice) -> None:
        with lock:
            running[0] += 1
        try:
            if rows.start == BLOCK_ROWS:
                raise ValueError("row block 1 failed")
        finally:
            with lock:
                running[0] -= 1

    with pytest.raises(ValueError, match="row block 1 failed"):
        each_block(4 * BLOCK_ROWS, work)
    assert running[0] == 0
