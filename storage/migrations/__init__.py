"""Alembic migrations of the prefchat schema (see :func:`prefchat.storage.migrate`)."""
