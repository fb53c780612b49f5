"""``hashwall hash`` records say what origin a file declares (and nothing when it declares
none), so a bank entry can carry the "digital forgery" evidence too."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hashwall.cli.app import app
from tests.scan.support import jpeg, with_xmp


def test_hash_records_carry_declared_provenance(tmp_path: Path) -> None:
    (tmp_path / "declared.jpg").write_bytes(with_xmp(jpeg(5)))
    (tmp_path / "plain.jpg").write_bytes(jpeg(5))
    result = CliRunner().invoke(app, ["hash", str(tmp_path), "-j", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["declared.jpg"]["provenance"] == {
        "xmp": {"digital_source_type": "trainedAlgorithmicMedia", "generative_ai": True},
        "generative_ai": True,
    }
    assert "provenance" not in records["plain.jpg"]
    # The same picture: the declaration changes the bytes, not the perceptual hash.
    assert records["declared.jpg"]["signals"]["pdq"] == records["plain.jpg"]["signals"]["pdq"]
