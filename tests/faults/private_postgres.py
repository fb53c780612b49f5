"""A PostgreSQL cluster of the test's own, which the test may stop and start at will.

Why not the shared server on 127.0.0.1:5432: other test runs use it, so it must never be
restarted. initdb into a temporary directory takes a few seconds; the cluster listens on a
free loopback port and a socket in that directory, and is removed afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.service.test_end_to_end import free_port

#: Settings that make a throw-away cluster fast: without fsync only an OS crash could lose a
#: commit, and the tests crash PostgreSQL, never the OS. synchronous_commit stays on: with it
#: off, an immediate stop would lose commits already answered, which is what the tests check.
FAST = "-c fsync=off -c full_page_writes=off"


class Unavailable(Exception):
    """No private cluster can be made here; the message says why (the test skips with it)."""


def _binaries() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not installed:
        raise Unavailable("initdb not found (PATH, /usr/lib/postgresql/*/bin)")
    return Path(installed[-1]).parent


def _as_owner() -> tuple[list[str], int | None]:
    """The command prefix that runs PostgreSQL's tools, and the uid to own the files:
    PostgreSQL refuses to run as root, so root runs them as the ``postgres`` user."""
    if os.geteuid() != 0:
        return [], None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise Unavailable("running as root without runuser to drop to the postgres user")
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        raise Unavailable("running as root and there is no postgres user") from None
    return [runuser, "-u", "postgres", "--"], uid


@dataclass
class PrivatePostgres:
    bin: Path
    prefix: list[str]
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        command = [*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {FAST}"
        self.pg_ctl("-l", str(self.root / "postgres.log"), "-w", "-t", "30", "-o", options, "start")

    def stop(self, mode: str) -> None:
        self.pg_ctl("-m", mode, "-w", "-t", "30", "stop")

    def log(self) -> str:
        try:
            return (self.root / "postgres.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def destroy(self) -> None:
        """Stop the cluster (if it runs) and delete its files."""
        if (self.root / "data" / "postmaster.pid").exists():
            command = [*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.root / "data")]
            subprocess.run([*command, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def create_private_postgres() -> PrivatePostgres:
    """initdb and start a cluster; :meth:`PrivatePostgres.destroy` removes it. Raises
    :class:`Unavailable` saying why when this machine cannot run one."""
    binaries = _binaries()
    prefix, uid = _as_owner()
    # Not under pytest's tmp_path: its parents are private to root, the postgres user could
    # not reach the cluster's directory.
    root = Path(tempfile.mkdtemp(prefix="hashwall-pg-"))
    cluster = PrivatePostgres(binaries, prefix, root, free_port())
    try:
        if uid is not None:
            os.chown(root, uid, -1)
        initdb = [*prefix, str(binaries / "initdb"), "-D", str(root / "data")]
        initdb += ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]
        made = subprocess.run(initdb, capture_output=True, text=True, timeout=120)
        if made.returncode != 0:
            raise Unavailable(f"initdb failed: {made.stderr.strip()[-500:]}")
        try:
            cluster.start()
        except subprocess.CalledProcessError as error:
            raise Unavailable(f"pg_ctl start failed: {error.stderr!r}; {cluster.log()}") from None
    except BaseException:
        cluster.destroy()
        raise
    return cluster
