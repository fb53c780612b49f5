"""A resumable scan: which units (files, archives, URLs) are finished, and which findings are
already written.

A unit is marked done only after all its findings are written and flushed, so a scan killed
at any moment loses at most the units in flight; on rerun those are scanned again, and finding
lines already in the output (written just before the kill) are not written twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from hashwall.scan.findings import finding_key


class CheckpointError(ValueError):
    """A checkpoint or findings file that cannot be read back."""


class Checkpoint:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[str] = set()
        if path.exists():
            self.done = _read_units(path)
        self._handle: IO[str] = path.open("a", encoding="utf-8")

    def is_done(self, unit: str) -> bool:
        return unit in self.done

    def mark(self, unit: str) -> None:
        self._handle.write(json.dumps({"done": unit}) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.done.add(unit)

    def close(self) -> None:
        self._handle.close()


def _read_units(path: Path) -> set[str]:
    done = set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                done.add(str(json.loads(line)["done"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                if line.endswith("\n"):  # a cut last line is what a kill leaves; skip it
                    raise CheckpointError(f"{path} line {number}: not a checkpoint line") from None
    return done


def written_findings(path: Path) -> set[tuple[str, ...]]:
    """Keys of the finding lines already in ``path`` (empty when it does not exist)."""
    keys: set[tuple[str, ...]] = set()
    if not path.exists():
        return keys
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            data = _finding(line)
            if data is not None:
                keys.add(finding_key(data))
    return keys


def _finding(line: str) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None  # a cut last line
    return data if isinstance(data, dict) else None
