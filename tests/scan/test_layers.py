"""The scanner stands on the hashing, matching and net layers, never on the service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PROBE = """
import json, sys
import hashwall.cli.scan_cmd, hashwall.scan.pipeline, hashwall.scan.fetch, hashwall.scan.report
import hashwall.scan.sources.warc, hashwall.scan.executors, hashwall.scan.worker
print(json.dumps(sorted(m for m in sys.modules if m.startswith("hashwall."))))
"""


def test_scan_does_not_import_the_service() -> None:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    loaded = json.loads(result.stdout)
    assert "hashwall.scan.pipeline" in loaded
    assert not [m for m in loaded if m.startswith(("hashwall.service", "hashwall.store"))]
