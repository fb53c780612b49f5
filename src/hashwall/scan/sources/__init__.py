"""Inputs of a scan, each split into checkpoint units that yield items and named skips.

A folder gives one unit per file, a WARC or WACZ one unit per archive, a URL list one unit
per URL. Units already in the checkpoint are never opened or fetched again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hashwall.scan.items import ScanItem, Skipped

Event = ScanItem | Skipped

WARC_SUFFIXES = (".warc", ".warc.gz")
WACZ_SUFFIX = ".wacz"


@dataclass(frozen=True)
class Unit:
    """One resumable piece of work: its id (as the checkpoint stores it) and its events."""

    id: str
    events: Callable[[], Iterator[Event]]


class SourceError(ValueError):
    """An input named on the command line that does not exist or cannot be used."""


def is_warc(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


def check_inputs(paths: Iterable[Path], url_lists: Iterable[Path]) -> None:
    """Refuse missing inputs before anything starts (a typo should not cost a long scan)."""
    for path in [*paths, *url_lists]:
        if not path.exists():
            raise SourceError(f"{path}: no such file or folder")
    for path in url_lists:
        if not path.is_file():
            raise SourceError(f"{path}: a URL list must be a text file")


def path_units(paths: Iterable[Path], max_bytes: int) -> Iterator[Unit]:
    """Units for folders, single files, WARCs and WACZs, in a stable (sorted) order."""
    from hashwall.scan.sources.folder import file_unit, walk
    from hashwall.scan.sources.warc import wacz_unit, warc_unit

    for path in paths:
        for file in walk(path) if path.is_dir() else [path]:
            name = file.name.lower()
            if name.endswith(WACZ_SUFFIX):
                yield wacz_unit(file, max_bytes)
            elif is_warc(file):
                yield warc_unit(file, max_bytes)
            else:
                yield file_unit(file, max_bytes)


def pending(units: Iterable[Unit], done: Callable[[str], bool]) -> Iterator[Unit]:
    return (unit for unit in units if not done(unit.id))
