"""A real ``hashwall serve`` for the browser tests.

The browser tests run the CLI's own server in a subprocess rather than a TestClient, so that
the app factory, the CSP and the cookies are the real ones; this module is the one place that
starts it, waits for it and stops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.service.test_end_to_end import free_port

HASHWALL = [sys.executable, "-c", "from hashwall.cli.app import main; main()"]
#: Seconds ``hashwall serve`` gets to answer its health check.
START_TIMEOUT = 60


def database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'hashwall.db'}"


def create_keys(data_dir: Path, secret: str, *holders: tuple[str, str]) -> list[str]:
    """Migrate the database in ``data_dir`` and make one API key per ``(role, name)``.

    Done before the server starts, so a test never races the server's own start-up."""
    from hashwall.service.auth import Role, create_api_key
    from hashwall.store import create_database, upgrade

    db = create_database(database_url(data_dir))
    try:
        upgrade(db.engine)
        return [create_api_key(db, secret, Role(role), name)[1] for role, name in holders]
    finally:
        db.dispose()


def _wait_until_up(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
        if process.poll() is not None or time.monotonic() > deadline:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"hashwall serve did not start: {stderr[-2000:]}")


@contextmanager
def serve(data_dir: Path, secret: str, **env: str) -> Iterator[str]:
    """``hashwall serve`` on a free local port with its data in ``data_dir``; yields its URL.

    ``env``: extra ``HASHWALL_*`` settings. The server is stopped (killed if it hangs) on exit;
    its stderr is kept for the error message when it does not come up."""
    settings = {
        "HASHWALL_DATA_DIR": str(data_dir),
        "HASHWALL_DATABASE_URL": database_url(data_dir),
        "HASHWALL_SECRET_KEY": secret,
        **env,
    }
    with running_server({**os.environ, **settings}, subprocess.DEVNULL) as url:
        yield url


@contextmanager
def running_server(environment: dict[str, str], stdout: Any) -> Iterator[str]:
    """Start ``hashwall serve`` with exactly ``environment``, wait for its health check, yield
    its URL; stop it (killed if it hangs) on exit. ``stdout`` receives its access log."""
    port = free_port()
    process = subprocess.Popen(
        [*HASHWALL, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment,
        stdout=stdout,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, url)
        yield url
    finally:
        stop(process, 10)


def stop(process: subprocess.Popen[Any], patience: float) -> None:
    """Ask the server to stop; kill it if it has not within ``patience`` seconds."""
    process.terminate()
    try:
        process.wait(patience)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
