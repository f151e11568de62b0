"""prefchat.research: baselines the benchmarks compare against, never on a serving path.

- :mod:`.memory`: episodic memory (replay the answers as nearest neighbours), the baseline of the
  semantic summary in ``bench/ranking_quality.py``.

Nothing the chat, the REST API or the Python API imports reaches this package (tests/test_layering.py).
"""
