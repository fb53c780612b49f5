"""``hashwall audit verify``: check a hash-chained audit log and name the first bad entry.

Heavy modules (SQLAlchemy, the store) are imported inside the command, so ``hashwall hash``
never loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hashwall.cases.audit import ChainHead, Verification

audit_app = typer.Typer(help="Check tamper-evident audit logs.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@audit_app.command("verify")
def verify_command(
    file: Annotated[
        Path | None, typer.Option("--file", help="A JSON-lines audit log.", dir_okay=False)
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="HASHWALL_AUDIT_DATABASE_URL",
            help="A service database with an audit_log table (sqlite:///… or postgresql://…).",
        ),
    ] = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="SEQ:HASH printed by an earlier verify (or in an evidence pack): also catches "
            "a cut-off tail or a rewritten chain.",
        ),
    ] = None,
) -> None:
    """Exit 0 when the chain is intact, 1 naming the first bad entry, 2 on bad usage.

    Example: hashwall audit verify --file case.audit.jsonl"""
    if (file is None) == (database_url is None):
        raise _fail("give exactly one of --file or --database-url")
    from hashwall.cases.audit import ChainHead, JsonlAuditStore, check

    try:
        head = ChainHead.parse(expect_head) if expect_head else None
    except ValueError as error:
        raise _fail(str(error)) from None
    if file is not None:
        if not file.is_file():
            raise _fail(f"{file}: no such file")
        result = check(JsonlAuditStore(file), head)
        source = str(file)
    else:
        assert database_url is not None
        result, source = _check_database(database_url, head)
    if result.problem is not None:
        typer.echo(f"{source}: audit chain BROKEN at {result.problem}")
        raise typer.Exit(1)
    shown = result.head if result.head is not None else "empty"
    typer.echo(f"{source}: audit chain intact, {result.entries} entries, head {shown}")


def _check_database(url: str, head: ChainHead | None) -> tuple[Verification, str]:
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from hashwall.cases.audit import check
    from hashwall.cases.audit_db import SqlAuditStore
    from hashwall.store.db import DatabaseUrlError, create_database

    try:
        db = create_database(url)
    except DatabaseUrlError as error:
        raise _fail(str(error)) from None
    try:
        if not inspect(db.engine).has_table("audit_log"):
            raise _fail("the database has no audit_log table")
        result = check(SqlAuditStore(db.sessions), head)
    except SQLAlchemyError as error:
        raise _fail(f"cannot read the database: {type(error).__name__}") from None
    finally:
        db.dispose()
    return result, db.engine.url.render_as_string(hide_password=True)
