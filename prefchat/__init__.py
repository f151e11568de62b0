"""prefchat: onboard a new user in about ten pairwise questions.

Layers: imports flow one way, down the DAG of README.md's "Where things live" (held by tests/test_layering.py).
``from prefchat import Assistant`` loads the assistant on first use, so ``import prefchat`` stays light.
"""

__version__ = "0.1.0"

__all__ = ["Assistant", "__version__"]


def __getattr__(name: str):
    if name == "Assistant":
        from .api import Assistant

        return Assistant
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
