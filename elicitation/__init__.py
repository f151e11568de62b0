"""prefchat.elicitation: the user's posterior over coefficients and which question to ask next.

Pure numpy/scipy on arrays the caller passes: no I/O, no torch.
"""

from .pool import candidate_pool
from .posterior import (
    Answer,
    Comparison,
    ConvergenceError,
    KWayChoice,
    Posterior,
    batch_map,
    laplace_posterior,
    ml_fit,
)
from .selection import STRATEGIES, Question, SelectionState, active_kway, question_strategy, should_stop

__all__ = [
    "STRATEGIES",
    "Answer",
    "Comparison",
    "ConvergenceError",
    "KWayChoice",
    "Posterior",
    "Question",
    "SelectionState",
    "active_kway",
    "batch_map",
    "candidate_pool",
    "laplace_posterior",
    "ml_fit",
    "question_strategy",
    "should_stop",
]
