"""Plans must not depend on autovacuum: a bulk import refreshes PostgreSQL's statistics.

Runs with autovacuum switched off for the import's tables (as on a server where it is off or
behind): after the import the tables have statistics anyway, gathered by the import itself.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hashwall.store import create_database
from tests.service.conftest import Api
from tests.service.test_uploads_imports import import_file

ROWS = 5_000
TABLES = ("entries", "entry_signals")


def test_a_bulk_import_leaves_planner_statistics(api: Api) -> None:
    if not api.settings.resolved_database_url().startswith("postgresql"):
        pytest.skip("planner statistics are PostgreSQL's")
    db = create_database(api.settings.resolved_database_url())
    try:
        with db.session() as session:
            for table in TABLES:
                session.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        bank = api.create_bank()
        content = "".join(f"pdq,{i:064x}\n" for i in range(1, ROWS + 1))
        imported = import_file(api, bank["id"], content)
        assert imported.status_code == 201, imported.text
        with db.session(readonly=True) as session:
            analyzed = dict(
                session.execute(
                    text(
                        "SELECT relname, last_analyze FROM pg_stat_user_tables "
                        "WHERE schemaname = current_schema() AND relname = ANY(:tables)"
                    ),
                    {"tables": list(TABLES)},
                ).all()
            )
        assert set(analyzed) == set(TABLES)
        assert all(when is not None for when in analyzed.values()), analyzed
    finally:
        db.dispose()
