"""End to end through real processes: ``hashwall hash`` a folder, ``hashwall serve``, import,
match uploads, withdraw, no match - and a server killed (SIGKILL) during a bulk import."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import textured_rgb

HASHWALL = [sys.executable, "-c", "from hashwall.cli.app import main; main()"]
SECRET = "e2e-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HASHWALL_DATA_DIR": str(data_dir),
        "HASHWALL_SECRET_KEY": SECRET,
        "HASHWALL_DATABASE_URL": "",
    }


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*HASHWALL, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=cli_env(self.data_dir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
            if self.process.poll() is not None:
                raise RuntimeError(
                    self.process.stderr.read().decode() if self.process.stderr else ""
                )
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "data")
    yield running
    running.stop()


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HASHWALL, *args], env=cli_env(data_dir), capture_output=True, text=True, timeout=120
    )


def make_key(role: str, data_dir: Path) -> dict[str, str]:
    created = run_cli("keys", "create", "--role", role, data_dir=data_dir)
    assert created.returncode == 0, created.stderr
    return {"X-API-Key": created.stdout.strip()}


def test_hash_folder_import_match_withdraw(tmp_path: Path, server: Server) -> None:
    known = tmp_path / "known"
    known.mkdir()
    for seed in (1, 2, 3):
        Image.fromarray(textured_rgb(seed)).save(known / f"photo-{seed}.png")
    hashed = run_cli(
        "hash", str(known), "-o", str(tmp_path / "known.jsonl"), data_dir=server.data_dir
    )
    assert hashed.returncode == 0, hashed.stderr
    curator = make_key("curator", server.data_dir)
    matcher = make_key("matcher", server.data_dir)
    server.start()
    client = httpx.Client(base_url=server.url, timeout=60)
    bank = client.post("/v1/banks", json={"name": "ncii"}, headers=curator).json()
    imported = client.post(
        f"/v1/banks/{bank['id']}/imports",
        files={"file": ("known.jsonl", (tmp_path / "known.jsonl").read_bytes())},
        headers=curator,
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["entry_count"] == 3

    reupload = tmp_path / "reupload.jpg"
    Image.fromarray(textured_rgb(2)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
        reupload, quality=70
    )
    unrelated = tmp_path / "unrelated.png"
    Image.fromarray(textured_rgb(77)).save(unrelated)

    def match() -> list[bool]:
        response = client.post(
            "/v1/match/upload",
            files=[
                ("files", ("reupload.jpg", reupload.read_bytes())),
                ("files", ("unrelated.png", unrelated.read_bytes())),
            ],
            headers=matcher,
        )
        assert response.status_code == 200, response.text
        return [result["matched"] for result in response.json()["results"]]

    assert match() == [True, False]
    entries = client.get(f"/v1/banks/{bank['id']}/entries", headers=curator).json()["entries"]
    target = next(e for e in entries if e["label"].endswith("photo-2.png"))
    assert client.post(f"/v1/entries/{target['id']}/withdraw", headers=curator).is_success
    assert match() == [False, False]


def test_server_killed_during_import_leaves_all_or_nothing(tmp_path: Path, server: Server) -> None:
    rows = 25_000
    content = "".join(f"pdq,{i:064x}\n" for i in range(1, rows + 1)).encode()
    curator = make_key("curator", server.data_dir)
    server.start()
    client = httpx.Client(base_url=server.url, timeout=120)
    bank = client.post("/v1/banks", json={"name": "big"}, headers=curator).json()

    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies under us, as intended
            client.post(
                f"/v1/banks/{bank['id']}/imports",
                files={"file": ("big.csv", content)},
                data={"idempotency_key": "nightly-1"},
                headers=curator,
            )

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(1.5)
    server.kill()
    sender.join()

    server.start()
    client = httpx.Client(base_url=server.url, timeout=300)

    def stored() -> int:
        total, after = 0, 0
        while True:
            page = client.get(
                f"/v1/banks/{bank['id']}/entries",
                params={"after_id": after, "limit": 1000},
                headers=curator,
            ).json()
            total += len(page["entries"])
            if page["next_after_id"] is None:
                return total
            after = page["next_after_id"]

    assert stored() in (0, rows)  # never half-visible
    retry = client.post(
        f"/v1/banks/{bank['id']}/imports",
        files={"file": ("big.csv", content)},
        data={"idempotency_key": "nightly-1"},
        headers=curator,
    )
    assert retry.status_code == 201, retry.text
    assert retry.json()["entry_count"] == rows
    assert stored() == rows  # and never duplicated
