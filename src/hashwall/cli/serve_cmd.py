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
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            "--forwarded-allow-ips",
            envvar="HASHWALL_FORWARDED_ALLOW_IPS",
            help="Comma-separated addresses or networks of your reverse proxies: only "
            "connections from them may set the client address with X-Forwarded-For (and the "
            "scheme with X-Forwarded-Proto). Default: none, the connection's own address counts.",
            show_default=False,
        ),
    ] = "",
) -> None:
    """Serve the matching API (schema at /openapi.json; /docs in development). Migrates the
    database first.

    Example: hashwall serve --database-url postgresql://hashwall@db/hashwall --workers 4
    """
    settings = server_settings(database_url, data_dir)
    import uvicorn

    from hashwall.store import create_database, upgrade
    from hashwall.store.private_files import private_dir

    # Workers are separate processes: pass the resolved settings down through the environment.
    os.environ["HASHWALL_DATABASE_URL"] = settings.resolved_database_url()
    os.environ["HASHWALL_DATA_DIR"] = str(settings.data_dir)
    # Owner-only: the data directory holds the database (requesters' names and e-mail
    # addresses) and the secret key; the umask covers what workers write there later.
    os.umask(0o077)
    private_dir(settings.data_dir)
    db = create_database(settings.resolved_database_url())
    try:
        upgrade(db.engine)
    finally:
        db.dispose()
    trusted = trusted_proxies(forwarded_allow_ips)
    uvicorn.run(
        "hashwall.web.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # Request lines carry no keys (keys travel in headers), but keep access logs terse.
        access_log=access_log,
        proxy_headers=trusted is not None,
        forwarded_allow_ips=trusted,
    )


def trusted_proxies(forwarded_allow_ips: str) -> str | None:
    """The proxies uvicorn may take ``X-Forwarded-*`` from; ``None``: none (proxy headers off).

    Why: uvicorn trusts them from 127.0.0.1 by default, so a client on the same host, or any
    client through a local proxy that passes the header on, could pick its own address for
    the per-address limits; without the option nobody is trusted."""
    trusted = ",".join(part.strip() for part in forwarded_allow_ips.split(",") if part.strip())
    return trusted or None
