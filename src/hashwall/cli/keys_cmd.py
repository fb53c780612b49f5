"""``hashwall keys create``: mint an API key for the matching service and print it once."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from hashwall.cli.server_options import DatabaseUrlOption, DataDirOption, server_settings

keys_app = typer.Typer(help="Manage API keys of the matching service.", no_args_is_help=True)


class RoleChoice(StrEnum):
    HASHER = "hasher"
    MATCHER = "matcher"
    CURATOR = "curator"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    LIKENESS = "likeness"


@keys_app.command("create")
def create_command(
    role: Annotated[RoleChoice, typer.Option("--role", help="What the key may do.")],
    name: Annotated[str, typer.Option("--name", help="Who or what the key is for.")] = "",
    bank: Annotated[
        list[int] | None,
        typer.Option("--bank", help="Limit the key to this bank id (repeat for several)."),
    ] = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a key. Only its hash is stored: copy the printed key now, it is not shown again.

    Roles: hasher (hash uploads), matcher (match), curator (manage banks and entries),
    reviewer (read entries and match records), admin (everything, including keys).
    `--bank ID` (repeatable) limits the key to changing those banks.
    """
    settings = server_settings(database_url, data_dir)
    from hashwall.service.auth import Role, create_api_key
    from hashwall.store import create_database, upgrade

    db = create_database(settings.resolved_database_url())
    try:
        upgrade(db.engine)
        if bank and role is RoleChoice.ADMIN:
            typer.echo("an admin key cannot be limited to banks", err=True)
            raise typer.Exit(2)
        row, key = create_api_key(db, settings.secret_key, Role(role.value), name, bank or None)
    finally:
        db.dispose()
    typer.echo(key)
    typer.echo(f"key {row.id} ({row.role}) created; it is not shown again", err=True)
