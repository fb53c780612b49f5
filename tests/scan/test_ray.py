"""The Ray path gives exactly the local path's findings (a local two-CPU cluster)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.scan.conftest import Pictures
from tests.scan.support import Response, edited, scan, warc_bytes

ray: Any = pytest.importorskip("ray", reason="ray is not installed (pip install '.[scan]')")


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_and_local_find_the_same(tmp_path: Path, pictures: Pictures, cluster: None) -> None:
    archive = tmp_path / "crawl.warc.gz"
    responses = [
        Response(f"http://h{i}.example/{i}.jpg", picture)
        for i, picture in enumerate(
            [pictures.known, edited(pictures.other_known), pictures.unrelated] * 4
        )
    ]
    archive.write_bytes(warc_bytes(responses))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "copy.jpg").write_bytes(edited(pictures.known))
    local, local_summary = scan(pictures.bank, [archive, folder], jobs=2, batch_items=2)
    remote, ray_summary = scan(
        pictures.bank,
        [archive, folder],
        out=tmp_path / "ray.jsonl",
        ray_address="auto",
        batch_items=2,
    )
    assert len(local) == 9
    canonical = sorted(json.dumps(f, sort_keys=True) for f in local)
    assert sorted(json.dumps(f, sort_keys=True) for f in remote) == canonical
    assert ray_summary.media_hashed == local_summary.media_hashed == 13
