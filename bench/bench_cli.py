"""How fast does the command line answer? ``prefchat --help`` against ``python -c "import numpy"``.

Runs each five times in fresh interpreters of this virtual environment and prints both medians and
their ratio (acceptance: ``prefchat --help`` at most four times ``import numpy``)::

    .venv/bin/python bench/bench_cli.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 5
PREFCHAT = Path(sys.executable).with_name("prefchat")


def median_seconds(command: list[str], runs: int = RUNS) -> float:
    """Median wall time of ``runs`` runs of ``command`` (its output discarded)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    numpy = median_seconds([sys.executable, "-c", "import numpy"])
    helped = median_seconds([str(PREFCHAT), "--help"])
    print(f"python -c 'import numpy'  median of {RUNS}: {numpy * 1000:.0f} ms")
    print(f"prefchat --help           median of {RUNS}: {helped * 1000:.0f} ms")
    print(f"ratio {helped / numpy:.2f} (acceptance: <= 4)")


if __name__ == "__main__":
    main()
