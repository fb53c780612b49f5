"""Local files: each file is a unit; the worker hashes it in place (no copy)."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from hashwall.media.sniff import HEADER_BYTES, kind_from_header
from hashwall.scan.items import ScanItem, Skipped
from hashwall.scan.skips import Skip
from hashwall.scan.sources import Event, Unit


def walk(folder: Path) -> Iterator[Path]:
    """Every file under ``folder``, sorted, hidden files and folders left out."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(root) / name


def file_unit(path: Path, max_bytes: int) -> Unit:
    """The unit id holds the absolute path, so a resumed scan may run from another folder."""
    unit = f"file:{path.resolve()}"
    return Unit(unit, lambda: _file_events(unit, path, max_bytes))


def _file_events(unit: str, path: Path, max_bytes: int) -> Iterator[Event]:
    source = {"path": str(path)}
    try:
        stat = path.stat()
        with path.open("rb") as handle:
            header = handle.read(HEADER_BYTES)
    except OSError as error:
        yield Skipped(unit, Skip.UNREADABLE_SOURCE, source, error.strerror or str(error))
        return
    if kind_from_header(header) is None:
        yield Skipped(unit, Skip.NON_MEDIA, source)
    elif stat.st_size > max_bytes:
        yield Skipped(unit, Skip.TOO_LARGE, source, f"{stat.st_size} bytes")
    else:
        when = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat().replace("+00:00", "Z")
        content_type = mimetypes.guess_type(path.name)[0]
        yield ScanItem(unit, source, when, content_type, path=str(path))
