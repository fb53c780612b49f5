"""Object-store prefixes (``s3://bucket/prefix`` and any other fsspec URL): every object under
the prefix is a unit, read as a stream. WARC and WACZ objects are streamed like local ones;
anything else is read (up to the byte cap) only if its first bytes look like media.

Needs ``fsspec`` (in the ``scan`` extra) and the store's own package (``s3fs`` for S3 and
S3-compatible stores: MinIO, R2, Ceph; ``gcsfs`` for Google Cloud Storage), which read their
credentials from the usual places (environment, config files, instance roles).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from hashwall.scan.items import ScanItem, Skipped
from hashwall.scan.skips import Skip
from hashwall.scan.sources import WACZ_SUFFIX, WARC_SUFFIXES, Event, SourceError, Unit
from hashwall.scan.sources.payload import TooLarge, read_media


def is_remote(source: str) -> bool:
    return "://" in source


def remote_units(prefix: str, max_bytes: int) -> Iterator[Unit]:
    """One unit per object under ``prefix``, in name order."""
    fs, root = _filesystem(prefix)
    protocol = prefix.split("://", 1)[0]
    try:
        objects = fs.find(root, detail=True)
    except OSError as error:
        raise SourceError(f"{prefix}: cannot list ({error})") from None
    for name in sorted(objects):
        url = f"{protocol}://{name.lstrip('/')}"
        yield _unit(fs, name, url, objects[name], max_bytes)


def _filesystem(prefix: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        raise SourceError(f"{prefix}: object stores need fsspec (pip install fsspec)") from None
    try:
        filesystem, root = fsspec.core.url_to_fs(prefix)
    except (ImportError, ValueError) as error:  # e.g. s3:// without s3fs installed
        raise SourceError(f"{prefix}: {error}") from None
    return filesystem, str(root)


def _unit(fs: Any, name: str, url: str, info: dict[str, Any], max_bytes: int) -> Unit:
    unit = f"object:{url}"
    lower = name.lower()
    if lower.endswith(WARC_SUFFIXES):
        return Unit(unit, lambda: _archive(fs, name, unit, {"warc": url}, max_bytes, wacz=False))
    if lower.endswith(WACZ_SUFFIX):
        return Unit(unit, lambda: _archive(fs, name, unit, {"wacz": url}, max_bytes, wacz=True))
    return Unit(unit, lambda: _object(fs, name, unit, url, info, max_bytes))


def _archive(
    fs: Any, name: str, unit: str, origin: dict[str, Any], max_bytes: int, *, wacz: bool
) -> Iterator[Event]:
    from hashwall.scan.sources.warc import wacz_events, warc_events

    try:
        handle = fs.open(name, "rb")
    except OSError as error:
        yield Skipped(unit, Skip.UNREADABLE_SOURCE, origin, str(error))
        return
    with handle:
        if wacz:
            yield from wacz_events(unit, handle, origin, max_bytes)
        else:
            yield from warc_events(unit, handle, origin, max_bytes)


def _object(
    fs: Any, name: str, unit: str, url: str, info: dict[str, Any], max_bytes: int
) -> Iterator[Event]:
    source = {"object": url}
    if int(info.get("size") or 0) > max_bytes:
        yield Skipped(unit, Skip.TOO_LARGE, source, f"{info.get('size')} bytes")
        return
    try:
        with fs.open(name, "rb") as handle:
            payload = read_media(handle, max_bytes)
    except TooLarge as error:
        yield Skipped(unit, Skip.TOO_LARGE, source, str(error))
        return
    except (OSError, zipfile.BadZipFile, zlib.error) as error:
        yield Skipped(unit, Skip.UNREADABLE_SOURCE, source, str(error))
        return
    if payload is None:
        yield Skipped(unit, Skip.NON_MEDIA, source)
        return
    yield ScanItem(unit, source, _when(info), info.get("ContentType"), payload=payload)


def _when(info: dict[str, Any]) -> str | None:
    value = info.get("LastModified") or info.get("mtime") or info.get("created")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    return None
