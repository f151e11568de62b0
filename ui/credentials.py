"""The analyst's login, read from the settings: light to import, so that ``prefchat analyst``
refuses to start without one before it loads Gradio (:mod:`prefchat.ui.analyst_commands`)."""

from __future__ import annotations

from ..assistant.settings import Settings

__all__ = ["AnalystNotConfigured", "require_credentials"]


class AnalystNotConfigured(RuntimeError):
    """No analyst user and password are set, so the analyst view refuses to start."""


def require_credentials(settings: Settings) -> tuple[str, str]:
    """The analyst's ``(user, password)`` from settings; :class:`AnalystNotConfigured` without both."""
    if not (settings.analyst_user and settings.analyst_password):
        raise AnalystNotConfigured(
            "the analyst view needs a login: set PREFCHAT_ANALYST_USER and PREFCHAT_ANALYST_PASSWORD "
            "(there is no default password)"
        )
    return settings.analyst_user, settings.analyst_password
