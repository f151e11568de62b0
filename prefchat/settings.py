"""prefchat's settings, :class:`~prefchat.assistant.settings.Settings` (defined in the assistant layer, so
that :mod:`prefchat.ui` and :mod:`prefchat.assistant` read the same object); see there for the variables."""

from .assistant.settings import Settings, default_embedding_model

__all__ = ["Settings", "default_embedding_model"]
