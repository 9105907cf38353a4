"""Alembic environment: runs on the connection handed over by ``shared.db.engine.migrate``.

From the command line: ``alembic -x url=postgresql+psycopg2://... upgrade head``.
"""

from alembic import context
from sqlalchemy import create_engine

from shared.db.schema import metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from shared.settings import Settings

    url = context.get_x_argument(as_dictionary=True).get("url") or Settings.from_env().database_url
    with create_engine(url).connect() as own_connection:
        _run(own_connection)
        own_connection.commit()
