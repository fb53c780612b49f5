"""The disk fills up while the service runs on SQLite (issue 19).

Why: a full disk answered writes with a bare 500, which tells a client neither what went
wrong nor that retrying later helps, and could leave doubt about the database. The contract:
writes answer 507 JSON ``disk_full`` and store nothing; reads and matches without anything to
store still work; once space is freed writes work again, and the database is intact.

The data directory lives on a small tmpfs of its own, so filling it disturbs nobody; that
needs ``mount``, so the test skips (saying why) where it is not permitted.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.fault_support import (
    Load,
    admin_key,
    create_bank,
    final_problems,
    hashwall_serve,
    random_pdq,
    summary,
    unexpected_errors,
    wait_until,
)

pytestmark = pytest.mark.faults

TMPFS_SIZE = "24m"
#: Adds of this much metadata each grow the database by several pages, so the full disk is
#: reached within a few writes (a write that fits in pages SQLite already has would succeed).
METADATA_BYTES = 16_000
MAX_ATTEMPTS = 200


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``TMPFS_SIZE`` mounted for this test; always unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(path: Path) -> None:
    """Write ``path`` until the disk refuses another byte."""
    with path.open("wb", buffering=0) as out:
        for chunk in (1024 * 1024, 4096, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise


def integrity(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def test_a_full_disk_answers_507_and_writes_resume_when_space_is_freed(
    small_disk: Path, tmp_path: Path
) -> None:
    data_dir = small_disk / "data"
    data_dir.mkdir()
    database = data_dir / "hashwall.db"
    database_url = f"sqlite:///{database}"
    key = admin_key(database_url)
    seeds = [random_pdq() for _ in range(5)]
    filler = small_disk / "filler"
    with hashwall_serve(database_url, data_dir, tmp_path / "serve.log") as server:
        bank_id = create_bank(server.url, key, "full", seeds)
        load = Load(server.url, key, bank_id, seeds, metadata_bytes=METADATA_BYTES)
        load.start(matchers=1, adders=0, withdrawers=0)
        try:
            with load.client() as client:
                fill(filler)
                refusal = first_refusal(load, client)
                reads = reads_while_full(client, bank_id)
                filler.unlink()
                wait_until(lambda: load.add_one(client).kind == "ok", 10, "an add after freeing")
        finally:
            ledger = load.finish()
        problems = final_problems(server, key, bank_id, ledger, drops_allowed=False) + reads
        problems += unexpected_errors(ledger, 507, "disk full")
        context = [summary(ledger), f"first refusal: {refusal}", server.log_tail()]
    checked = integrity(database)  # with the server stopped
    if checked != "ok":
        problems.append(f"PRAGMA integrity_check after the full disk: {checked}")
    assert not problems, "\n".join([*context[:2], *problems[:30], context[2]])


def first_refusal(load: Load, client: httpx.Client) -> str:
    """Add until the full disk refuses one; what the refusal was (status and answer)."""
    for _ in range(MAX_ATTEMPTS):
        outcome = load.add_one(client)
        if outcome.kind != "ok":
            return f"{outcome.kind} {outcome.status} {outcome.detail}"
    raise AssertionError(f"{MAX_ATTEMPTS} adds of {METADATA_BYTES} bytes all fit a full disk")


def reads_while_full(client: httpx.Client, bank_id: int) -> list[str]:
    """Listing entries and a match that stores nothing (no hit) must work on a full disk, on
    the connection that just carried the refusal."""
    miss = {"queries": [{"signal_type": "pdq", "signal_value": random_pdq()}]}
    problems = []
    for method, path, body in (
        ("GET", f"/v1/banks/{bank_id}/entries", None),
        ("POST", "/v1/match/hashes", miss),
    ):
        try:
            response = client.request(method, path, json=body)
        except httpx.TransportError as error:
            problems.append(f"{method} {path} on a full disk: connection lost ({error!r})")
            continue
        if response.status_code != 200:
            problems.append(f"{method} {path} on a full disk: {response.status_code}")
    return problems
