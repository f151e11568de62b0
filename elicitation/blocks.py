"""A pass over every row of a catalog, in blocks of rows shared out among the process's cores.

A product of a million items' features, and the arithmetic that follows it, is one pass over a
few hundred megabytes. Cut into blocks of :data:`BLOCK_ROWS` rows, each block's product and
arithmetic stay in the core's cache instead of going through memory once per step, and numpy
releases the GIL inside them, so the blocks of one pass run on :data:`THREADS` cores at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

__all__ = ["BLOCK_ROWS", "THREADS", "each_block"]

BLOCK_ROWS = 16384  # 16384 x 34 single-precision features: 2.2 MB, with its products about one core's cache
THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _drop_pool() -> None:
    """A forked child has none of its parent's threads: it starts a pool of its own when it needs one."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_drop_pool)


def each_block(n_rows: int, work: Callable[[slice], None]) -> None:
    """Call ``work(rows)`` once for each slice of consecutive rows of :data:`BLOCK_ROWS` (the last
    shorter) that together cover ``range(n_rows)``, on up to :data:`THREADS` threads. It returns,
    or raises the first exception of a block in row order, once no block is running any more.

    ``work`` writes its results into arrays the caller made, at ``rows``: the blocks share no
    other state, and they run in no particular order.
    """
    global _pool
    blocks = [slice(start, min(start + BLOCK_ROWS, n_rows)) for start in range(0, n_rows, BLOCK_ROWS)]
    if len(blocks) < 2 or THREADS < 2:
        for rows in blocks:
            work(rows)
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="prefchat-rows")
        pool = _pool
    futures = [pool.submit(work, rows) for rows in blocks]
    wait(futures)
    for future in futures:
        future.result()
