"""Persistent state of the matching service: banks, entries, keys, change log, import jobs.

SQLAlchemy 2 models with Alembic migrations shipped in the package, on a SQLite file (the
embedded default) or PostgreSQL. Only :mod:`hashwall.service` and the server CLI commands
import this package, so the survivor's hashing install never needs SQLAlchemy.
"""

from hashwall.store import (  # noqa: F401  (tables)
    action_models,
    catalog_models,
    exchange_models,
    retention_models,
    takedown_models,
)
from hashwall.store.db import (
    Database,
    create_database,
    default_sqlite_url,
    normalize_database_url,
)
from hashwall.store.migrate import upgrade
from hashwall.store.models import (
    ApiKey,
    Bank,
    Base,
    Change,
    ChangeKind,
    Entry,
    EntrySignal,
    EntryState,
    ImportJob,
    ImportStatus,
    MatchRecord,
    ReviewSession,
)

__all__ = [
    "ApiKey",
    "Bank",
    "Base",
    "Change",
    "ChangeKind",
    "Database",
    "Entry",
    "EntrySignal",
    "EntryState",
    "ImportJob",
    "ImportStatus",
    "MatchRecord",
    "ReviewSession",
    "create_database",
    "default_sqlite_url",
    "normalize_database_url",
    "upgrade",
]
