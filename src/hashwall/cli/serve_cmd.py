"""``hashwall serve``: run the matching service with uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hashwall.cli.server_options import DatabaseUrlOption, DataDirOption, server_settings


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes; they stay consistent via the change log.", min=1)
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="A log line per request; off saves ~10 % CPU when a proxy logs requests.",
        ),
    ] = True,
) -> None:
    """Serve the matching API (schema at /openapi.json; /docs in development). Migrates the
    database first.

    Example: hashwall serve --database-url postgresql://hashwall@db/hashwall --workers 4
    """
    settings = server_settings(database_url, data_dir)
    import uvicorn

    from hashwall.store import create_database, upgrade

    # Workers are separate processes: pass the resolved settings down through the environment.
    os.environ["HASHWALL_DATABASE_URL"] = settings.resolved_database_url()
    os.environ["HASHWALL_DATA_DIR"] = str(settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = create_database(settings.resolved_database_url())
    try:
        upgrade(db.engine)
    finally:
        db.dispose()
    uvicorn.run(
        "hashwall.web.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # Request lines carry no keys (keys travel in headers), but keep access logs terse.
        access_log=access_log,
    )
