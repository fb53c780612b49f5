"""Object-store prefixes through fsspec, exercised with its in-memory filesystem (the same code
reads s3:// with s3fs installed): pictures, WARCs and WACZs under a prefix, nothing outside."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hashwall.cli.app import app
from tests.scan.conftest import Pictures
from tests.scan.support import Response, edited, labels, scan, wacz_bytes, warc_bytes

fsspec: Any = pytest.importorskip(
    "fsspec", reason="fsspec is not installed (pip install '.[scan]')"
)


@pytest.fixture
def bucket(pictures: Pictures) -> Iterator[str]:
    store = fsspec.filesystem("memory")
    root = f"/bucket-{id(pictures)}"
    store.pipe(f"{root}/dump/a/copy.jpg", edited(pictures.known))
    store.pipe(f"{root}/dump/a/holiday.jpg", pictures.unrelated)
    store.pipe(f"{root}/dump/readme.txt", b"not media")
    store.pipe(
        f"{root}/dump/crawl.warc.gz",
        warc_bytes([Response("http://w.example/k.jpg", pictures.other_known)]),
    )
    store.pipe(
        f"{root}/dump/capture.wacz",
        wacz_bytes({"x.warc": warc_bytes([Response("http://z.example/k.jpg", pictures.known)])}),
    )
    store.pipe(f"{root}/elsewhere/known.jpg", pictures.known)
    try:
        yield f"memory:/{root}/dump"
    finally:
        store.rm(root, recursive=True)


def test_a_prefix_is_scanned_object_by_object(pictures: Pictures, bucket: str) -> None:
    findings, summary = scan(pictures.bank, prefixes=(bucket,))
    assert labels(findings) == sorted(
        [
            ("http://w.example/k.jpg", "known-2"),
            ("http://z.example/k.jpg", "known-1"),
            (f"{bucket}/a/copy.jpg", "known-1"),
        ]
    )
    archives = {str(f["source"].get(k)) for f in findings for k in ("warc", "wacz")}  # type: ignore[union-attr]
    assert {f"{bucket}/crawl.warc.gz", f"{bucket}/capture.wacz"} <= archives
    assert summary.units_done == 5
    assert dict(summary.skips) == {"non_media": 1}
    assert summary.media_hashed == 4


def test_the_cli_takes_prefixes_and_refuses_unknown_stores(
    tmp_path: Path, pictures: Pictures, bucket: str
) -> None:
    runner = CliRunner()
    found = runner.invoke(app, ["scan", bucket, "-a", str(pictures.bank), "-j", "1"])
    assert found.exit_code == 0, found.output
    assert len(found.stdout.splitlines()) == 3
    refused = runner.invoke(app, ["scan", "nosuchstore://x/y", "-a", str(pictures.bank)])
    assert refused.exit_code == 2
    assert "nosuchstore" in refused.output
