"""prefchat: onboard a new user in about ten pairwise questions.

Layers (imports flow one way): ``ui -> assistant -> elicitation, reward, storage``.
"""

__version__ = "0.1.0"
