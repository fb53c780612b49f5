"""``hashwall --help`` must not load the heavy libraries (numpy, Pillow, FFmpeg, Rich...).

Start-up time is checked by what gets imported, not by a timed test (timings are noisy on shared
machines); benchmarks/startup_bench.py measures the wall time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("numpy", "av", "PIL", "pdqhash", "pydantic", "rich", "threadpoolctl", "sqlalchemy")

_PROBE = """
import json, sys
sys.argv = ["hashwall", *json.loads(sys.argv[1])]
from hashwall.cli.app import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nLOADED=" + json.dumps(sorted(m for m in sys.modules if "." not in m)))
"""


def _loaded_modules(*arguments: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(arguments))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    line = result.stderr.rsplit("LOADED=", 1)[-1]
    return set(json.loads(line))


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        ["hash", "--help"],
        ["match", "--help"],
        ["compare", "--help"],
        ["scan", "--help"],
    ],
)
def test_help_does_not_import_heavy_modules(arguments: list[str]) -> None:
    heavy = set(HEAVY)
    if arguments != ["--help"]:
        # Typer (>= 0.16) itself builds a command's parameters with pydantic adapters.
        heavy.discard("pydantic")
    loaded = _loaded_modules(*arguments)
    assert not loaded & heavy, f"hashwall {' '.join(arguments)} imported {loaded & heavy}"


def test_importtime_of_help_has_no_numpy_or_av() -> None:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE, json.dumps(["--help"])],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "numpy" not in imported
    assert "av" not in imported
