"""Alembic environment: migrate the connection handed over by
:func:`prefchat.storage.migrate`, or open one from ``sqlalchemy.url``."""

from alembic import context
from sqlalchemy import Connection

from prefchat.storage.engine import make_engine
from prefchat.storage.models import Base


def run_migrations(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as own_connection:
        run_migrations(own_connection)
    engine.dispose()
