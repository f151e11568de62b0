"""Domain exceptions of the storage layer; the UI turns them into friendly messages.

Bad input (a malformed user id, an unknown answer choice) raises :class:`ValueError`
naming the offending value, as everywhere in prefchat.
"""


class StorageError(Exception):
    """Base class of the storage layer's domain exceptions."""


class NotFound(StorageError, LookupError):
    """No row has the given id: ``NotFound("session 'ab12...' not found")``."""


class Conflict(StorageError):
    """The request is well formed but the stored state forbids it.

    For example: answering a question twice, asking a question in a finished session,
    creating a user whose id is taken.
    """


class DatabaseUnavailable(StorageError):
    """The database cannot be opened: unreachable server, refused login, missing directory.

    Its message is one line naming the database (without its password) and the reason.
    """
