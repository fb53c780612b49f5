"""WARC, WARC.gz and WACZ archives, streamed record by record (warcio): memory holds one
payload at a time, never the archive.

warcio stops quietly, or fails with assorted exceptions, on damaged input; a damaged archive is
detected three ways: an exception while iterating, a record whose payload ends before its
declared length, and a gzip stream whose last member never ends (checked alongside, see
:class:`GzipCheck`). Each becomes one ``truncated_warc`` skip; the records before it count.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from hashwall.scan.items import ScanItem, Skipped
from hashwall.scan.skips import Skip
from hashwall.scan.sources import WARC_SUFFIXES, Event, Unit
from hashwall.scan.sources.payload import TooLarge, read_media

_MEDIA_RECORDS = ("response", "resource")
_GZIP_MAGIC = b"\x1f\x8b"


def warc_unit(path: Path, max_bytes: int) -> Unit:
    unit = f"warc:{path.resolve()}"
    return Unit(unit, lambda: _warc_file_events(unit, path, max_bytes))


def wacz_unit(path: Path, max_bytes: int) -> Unit:
    unit = f"wacz:{path.resolve()}"
    return Unit(unit, lambda: _wacz_events(unit, path, max_bytes))


def _warc_file_events(unit: str, path: Path, max_bytes: int) -> Iterator[Event]:
    try:
        handle = path.open("rb")
    except OSError as error:
        yield Skipped(unit, Skip.UNREADABLE_SOURCE, {"warc": str(path)}, str(error))
        return
    with handle:
        yield from warc_events(unit, handle, {"warc": str(path)}, max_bytes)


def _wacz_events(unit: str, path: Path, max_bytes: int) -> Iterator[Event]:
    yield from wacz_events(unit, path, {"wacz": str(path)}, max_bytes)


def wacz_events(
    unit: str, file: Path | IO[bytes], origin: dict[str, Any], max_bytes: int
) -> Iterator[Event]:
    """A WACZ is a zip whose ``archive/`` folder holds the WARCs; each is streamed from the zip
    (``file``: a path, or a seekable stream such as an object-store file)."""
    try:
        archive = zipfile.ZipFile(file)
    except (OSError, zipfile.BadZipFile) as error:
        yield Skipped(unit, Skip.UNREADABLE_SOURCE, origin, f"not a readable WACZ ({error})")
        return
    with archive:
        members = sorted(
            name
            for name in archive.namelist()
            if name.startswith("archive/") and name.lower().endswith(WARC_SUFFIXES)
        )
        if not members:
            yield Skipped(unit, Skip.UNREADABLE_SOURCE, origin, "no archive/*.warc(.gz) inside")
        for member in members:
            try:
                stream = archive.open(member)
            except (OSError, zipfile.BadZipFile, zlib.error) as error:
                yield Skipped(unit, Skip.UNREADABLE_SOURCE, {**origin, "warc": member}, str(error))
                continue
            with stream:
                yield from warc_events(unit, stream, {**origin, "warc": member}, max_bytes)


class GzipCheck:
    """Passes reads through while inflating alongside, to tell whether the gzip stream ends on
    a member boundary (``complete``). Inflating JPEG payloads twice costs far less than
    decoding them once."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self._inflater = zlib.decompressobj(31)
        self._in_member = False
        self.broken = False

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if not self.broken:
            self._feed(data)
        return data

    def tell(self) -> int:
        return self.raw.tell()

    @property
    def complete(self) -> bool:
        return not self._in_member and not self.broken

    def _feed(self, data: bytes) -> None:
        try:
            while data:
                self._inflater.decompress(data)
                self._in_member = not self._inflater.eof
                if not self._inflater.eof:
                    return
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(31)
        except zlib.error:
            self.broken = True


def warc_events(
    unit: str, stream: IO[bytes], origin: dict[str, Any], max_bytes: int
) -> Iterator[Event]:
    """Items for every 200-OK response and resource record that holds media."""
    from warcio.archiveiterator import ArchiveIterator

    head = stream.read(2)
    reader: Any = _Prefixed(head, stream)
    check = GzipCheck(reader) if head == _GZIP_MAGIC else None
    records = 0
    last: Any = None
    try:
        for record in ArchiveIterator(check or reader):
            if check is not None and check.broken:
                break  # warcio reads on past bad gzip data as if it were plain text
            records += 1
            last = record
            if record.rec_type not in _MEDIA_RECORDS:
                continue
            event = _record_event(unit, record, origin, max_bytes)
            yield event
            if isinstance(event, Skipped) and event.reason is Skip.TRUNCATED_WARC:
                return
    except Exception as error:  # warcio raises many types on damaged input; all mean the same
        reason = Skip.TRUNCATED_WARC if records else Skip.UNREADABLE_SOURCE
        yield Skipped(unit, reason, origin, f"{type(error).__name__}: {error}")
        return
    if check is not None and check.broken:
        reason = Skip.TRUNCATED_WARC if records else Skip.UNREADABLE_SOURCE
        yield Skipped(unit, reason, origin, "not a valid gzip stream from here on")
    elif last is not None and last.raw_stream.limit > 0:  # drained by warcio, yet short
        yield Skipped(unit, Skip.TRUNCATED_WARC, origin, "the last record is cut short")
    elif check is not None and not check.complete:
        yield Skipped(unit, Skip.TRUNCATED_WARC, origin, "the gzip stream ends inside a record")


def _record_event(unit: str, record: Any, origin: dict[str, Any], max_bytes: int) -> Event:
    headers = record.rec_headers
    source = {
        **origin,
        "url": headers.get_header("WARC-Target-URI"),
        "record_id": headers.get_header("WARC-Record-ID"),
        "payload_digest": headers.get_header("WARC-Payload-Digest"),
    }
    http = record.http_headers
    if record.rec_type == "response" and (http is None or http.get_statuscode() != "200"):
        status = http.get_statuscode() if http is not None else "none"
        return Skipped(unit, Skip.HTTP_ERROR, source, f"HTTP status {status}")
    content_type = (http or headers).get_header("Content-Type")
    try:
        payload = read_media(record.content_stream(), max_bytes)
    except TooLarge as error:
        return Skipped(unit, Skip.TOO_LARGE, source, str(error))
    if payload is None:
        return Skipped(unit, Skip.NON_MEDIA, source, content_type or "")
    if record.raw_stream.limit > 0:  # the archive ended before the record did
        return Skipped(unit, Skip.TRUNCATED_WARC, source, "the record's payload is cut short")
    when = headers.get_header("WARC-Date")
    return ScanItem(unit, source, when, content_type, payload=payload)


class _Prefixed:
    """A stream with bytes already read put back in front (for sniffing gzip)."""

    def __init__(self, prefix: bytes, raw: IO[bytes]) -> None:
        self._prefix = prefix
        self.raw = raw

    def read(self, size: int = -1) -> bytes:
        if not self._prefix:
            return self.raw.read(size)
        if size < 0:
            data, self._prefix = self._prefix + self.raw.read(), b""
            return data
        data, self._prefix = self._prefix[:size], self._prefix[size:]
        if len(data) < size:
            data += self.raw.read(size - len(data))
        return data

    def tell(self) -> int:
        return self.raw.tell() - len(self._prefix)
