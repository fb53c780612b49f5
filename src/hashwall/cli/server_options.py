"""Options shared by the server commands (serve, keys, db) and their settings loader."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hashwall.service.settings import Settings

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///path.db or postgresql://user@host/db (default: $HASHWALL_DATABASE_URL, "
        "else a SQLite file in the data directory).",
        show_default=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the SQLite database lives (default: $HASHWALL_DATA_DIR or ./hashwall-data).",
        show_default=False,
    ),
]


def server_settings(database_url: str | None, data_dir: Path | None) -> Settings:
    """Settings from the environment, overridden by command-line options; exit 2 if unusable."""
    try:
        from hashwall.service.settings import Settings
    except ImportError as error:
        typer.echo(
            f"the server is not installed ({error.name} missing): pip install 'hashwall[server]'",
            err=True,
        )
        raise typer.Exit(2) from None
    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.resolved_database_url()
    except Exception as error:  # pydantic errors, insecure settings, bad URL
        typer.echo(f"hashwall: {error}", err=True)
        raise typer.Exit(2) from None
    return settings
