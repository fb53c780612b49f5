"""``hashwall db upgrade``: apply the service's database migrations.

Server modules are imported inside the command so ``hashwall hash`` never loads SQLAlchemy.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hashwall.cli.server_options import DatabaseUrlOption, DataDirOption, server_settings

db_app = typer.Typer(help="Manage the matching service's database.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command(
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the database schema (the server also does this on start)."""
    settings = server_settings(database_url, data_dir)
    from hashwall.store import create_database
    from hashwall.store.migrate import current_revision, upgrade

    db = create_database(settings.resolved_database_url())
    try:
        upgrade(db.engine, revision)
        typer.echo(f"database at revision {current_revision(db.engine)}")
    finally:
        db.dispose()
