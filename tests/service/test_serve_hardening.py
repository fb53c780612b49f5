"""``hashwall serve``: no client addresses in the public routes' access log, private data files,
and proxy headers trusted only from listed proxies (issue 14, items 10 and 13).

Why: the access log tied a client address (and the line's time) to every portal submission,
contradicting docs/portal.md; the data directory was 0755 and the database 0644, readable by
every account on the host although it holds requesters' names and e-mail addresses; and
uvicorn trusted ``X-Forwarded-For`` from 127.0.0.1, with no option to name the real proxy."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from hashwall.cli.app import app as cli_app
from hashwall.cli.serve_cmd import trusted_proxies
from hashwall.service.access_log import PublicAddressFilter, is_public_path
from hashwall.service.secret_key import SECRET_FILE
from tests.server_support import running_server

FORWARDED = {"X-Forwarded-For": "203.0.113.7"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def served(data_dir: Path, log: Path, **env: str) -> Iterator[str]:
    """A real ``hashwall serve`` (no secret key given) whose access log goes to ``log``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HASHWALL_")}
    with log.open("wb") as out:
        settings = {**environment, "HASHWALL_DATA_DIR": str(data_dir), **env}
        with running_server(settings, out) as url:
            yield url


def access_lines(log: Path, path: str) -> list[str]:
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in log.read_text().splitlines() if f" {path} HTTP/" in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_a_real_server_logs_no_portal_address_and_keeps_its_files_private(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "access.log"
    with served(data_dir, log) as url:
        httpx.post(f"{url}/v1/portal/cases", json={}, headers=FORWARDED)  # 422, still logged
        httpx.get(f"{url}/takedown?lang=en")
        httpx.get(f"{url}/v1/health", headers=FORWARDED)
        portal_lines = access_lines(log, "/v1/portal/cases")
        takedown_lines = access_lines(log, "/takedown?lang=en")
        health_lines = access_lines(log, "/v1/health")
        files = {path.name: mode(path) for path in data_dir.iterdir() if path.is_file()}
    assert portal_lines and takedown_lines, log.read_text()
    for line in portal_lines + takedown_lines:
        assert "127.0.0.1" not in line and "203.0.113.7" not in line, line
        assert '- - "' in line, line
    # Authenticated and operational routes keep the peer's address, and no proxy is trusted
    # by default: the forwarded address a client sends is not taken.
    assert health_lines and all("127.0.0.1" in line for line in health_lines), health_lines
    assert not any("203.0.113.7" in line for line in health_lines)
    assert mode(data_dir) == 0o700
    assert files["hashwall.db"] == 0o600 and files[SECRET_FILE] == 0o600, files
    assert all(value == 0o600 for value in files.values()), files


def test_forwarded_allow_ips_trusts_the_named_proxy(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with served(tmp_path / "data", log, HASHWALL_FORWARDED_ALLOW_IPS="127.0.0.1") as url:
        httpx.get(f"{url}/v1/health", headers=FORWARDED)
        health_lines = access_lines(log, "/v1/health")
    assert any("203.0.113.7" in line for line in health_lines), health_lines


def test_serve_passes_no_trusted_proxy_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.delenv("HASHWALL_FORWARDED_ALLOW_IPS", raising=False)
    for name in ("HASHWALL_DATABASE_URL", "HASHWALL_DATA_DIR"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # serve sets them for its workers
    previous_umask = os.umask(0o022)
    try:
        runner = CliRunner()
        data_dir = tmp_path / "data"
        data_dir.mkdir(mode=0o755)
        os.chmod(data_dir, 0o755)
        plain = runner.invoke(cli_app, ["serve", "--data-dir", str(data_dir)])
        assert plain.exit_code == 0, plain.output
        proxied = runner.invoke(
            cli_app,
            [
                "serve",
                "--data-dir",
                str(data_dir),
                "--forwarded-allow-ips",
                "10.0.0.5, 10.1.0.0/16",
            ],
        )
        assert proxied.exit_code == 0, proxied.output
        assert os.umask(0o022) == 0o077  # what workers write into the data dir is private
    finally:
        os.umask(previous_umask)
    assert calls[0]["proxy_headers"] is False and calls[0]["forwarded_allow_ips"] is None
    assert calls[1]["proxy_headers"] is True
    assert calls[1]["forwarded_allow_ips"] == "10.0.0.5,10.1.0.0/16"
    assert mode(data_dir) == 0o700  # an existing data directory is tightened
    assert mode(data_dir / "hashwall.db") == 0o600


def test_trusted_proxies_parsing() -> None:
    assert trusted_proxies("") is None and trusted_proxies(" , ") is None
    assert trusted_proxies(" 10.0.0.1 ,::1") == "10.0.0.1,::1"


@pytest.mark.parametrize(
    "path, public",
    [
        ("/portal", True),
        ("/portal/status", True),
        ("/v1/portal/cases", True),
        ("/v1/portal/cases/status?x=1", True),
        ("/takedown", True),
        ("/v1/takedown/requests", True),
        ("/notices/new", True),
        ("/portalx", False),
        ("/v1/takedown/tasks/1/confirm", False),
        ("/v1/match/hashes", False),
        ("/review/login", False),
    ],
)
def test_public_paths(path: str, public: bool) -> None:
    assert is_public_path(path) is public


def test_the_filter_blanks_only_public_paths() -> None:
    def record(path: str) -> logging.LogRecord:
        args = ("198.51.100.4:5123", "POST", path, "1.1", 201)
        return logging.LogRecord("uvicorn.access", 20, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)

    public = record("/v1/portal/cases")
    assert PublicAddressFilter().filter(public) and "198.51.100.4" not in public.getMessage()
    private = record("/v1/match/hashes")
    assert PublicAddressFilter().filter(private) and "198.51.100.4" in private.getMessage()
