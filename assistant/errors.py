"""Domain exceptions of the assistant; the UI turns them into friendly messages.

Unknown users and sessions raise the storage layer's :class:`~prefchat.storage.NotFound`;
malformed input raises :class:`ValueError` naming the value, as everywhere in prefchat.
"""


class AssistantError(Exception):
    """Base class of the assistant's domain exceptions."""


class SessionClosed(AssistantError):
    """The onboarding session is finished or abandoned, so it takes no more answers."""


class WrongPack(AssistantError):
    """The session or profile belongs to another pack than the one this assistant serves."""


class NoProfile(AssistantError, LookupError):
    """The user has not finished onboarding with this pack yet, so there is nothing to rank with."""
