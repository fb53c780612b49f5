"""Alembic environment: runs against the engine hashwall passes in ``config.attributes``.

On PostgreSQL a session-level advisory lock serialises concurrent upgrades (several workers
starting at once); on SQLite the database write lock does the same.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from hashwall.store.models import Base

_LOCK_ID = 0x68617368  # "hash"

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    is_postgres = connection.dialect.name == "postgresql"
    if is_postgres:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if is_postgres:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
            connection.commit()
