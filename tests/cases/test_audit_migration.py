"""The migrated schema holds the audit chain: append through it, verify it, detect an edit."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from hashwall.cases.audit_db import SqlAuditStore
from hashwall.cli.app import app
from hashwall.store.migrate import upgrade


def test_audit_chain_in_a_migrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hashwall.db'}"
    engine = create_engine(url)
    upgrade(engine)
    store = SqlAuditStore(sessionmaker(engine))
    for step in ("case.received", "case.under_review", "case.actioned"):
        store.append(actor="reviewer:1", action=step, case_id="TD-1", data={"note": step})
    runner = CliRunner()
    intact = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert intact.exit_code == 0, intact.output

    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"))
    tampered = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert tampered.exit_code == 1
    assert "#2" in tampered.output or "seq 2" in tampered.output
