"""``hashwall db upgrade`` (apply the service's migrations) and ``hashwall db snapshot``
(write the workers' start-up snapshots now).

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


@db_app.command("snapshot")
def snapshot_command(
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the start-up snapshots of the indexes now (into DATA_DIR/index-snapshots).

    Workers start from these files and replay only the changes made since; run this
    off-peak (e.g. nightly) so a restart replays little. Workers write them too, after a
    start that had to read the whole database.
    """
    settings = server_settings(database_url, data_dir)
    from hashwall.service.index_snapshot import refresh
    from hashwall.store import create_database
    from hashwall.store.migrate import upgrade

    db = create_database(settings.resolved_database_url())
    try:
        if settings.auto_migrate:  # as the workers would on start
            upgrade(db.engine)
        written = refresh(db, settings.data_dir)
    except OSError as error:  # a data directory that cannot be written: say so, no traceback
        where = settings.data_dir / "index-snapshots"
        typer.echo(f"hashwall: cannot write the snapshots into {where}: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    if not written:
        typer.echo("nothing written: the change log is empty (no bank has been changed yet)")
    for path, active in written:
        typer.echo(f"{path}: {active:,} active, {path.stat().st_size / 2**20:,.1f} MiB")
