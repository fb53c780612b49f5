"""Self-describing, checksummed container for index files (no pickle).

Layout::

    magic (8 bytes) | version u32 | header length u32 | header (JSON) | header crc32 u32
    ... sections, each aligned to 4096 bytes so they can be memory-mapped in place

The JSON header records the index kind, scalar metadata and, per section, its
dtype, shape, offset, byte length and crc32.  Loading checks the magic, version,
header checksum, that the file is long enough for every section, and (unless
told not to) every section checksum, so a truncated or corrupted file is
rejected with ValueError instead of answering queries wrongly.  JSON keeps the
header inspectable and carries no executable content, unlike pickle.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"HWINDEX\x00"
VERSION = 2  # 2: slot/overflow bucket tables (1: CSR offsets/rows)
ALIGN = 4096
_PREFIX = struct.Struct("<8sII")
_ALLOWED_DTYPES = {"<u1", "|u1", "<u4", "<i4", "<u8", "<i8"}


class IndexFileError(ValueError):
    """The file is not a readable hashwall index (truncated, corrupted, wrong kind)."""


def _crc(arr: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data) & 0xFFFFFFFF


def save_sections(
    path: str | os.PathLike[str],
    kind: str,
    meta: dict[str, Any],
    sections: dict[str, np.ndarray],
) -> None:
    """Write atomically (temp file + rename) so a crash never leaves a half file in place."""
    path = Path(path)
    entries: list[dict[str, Any]] = []
    offset = 0
    arrays = []
    for name, arr in sections.items():
        a = np.ascontiguousarray(arr)
        if a.dtype.str not in _ALLOWED_DTYPES:
            raise TypeError(f"section {name!r}: unsupported dtype {a.dtype}")
        arrays.append(a)
        entries.append(
            {
                "name": name,
                "dtype": a.dtype.str,
                "shape": list(a.shape),
                "nbytes": a.nbytes,
                "crc32": _crc(a) if a.nbytes else 0,
            }
        )
    header: dict[str, Any] = {"kind": kind, "meta": meta, "sections": entries, "file_size": 0}
    # Offsets depend on the header length and vice versa; iterate until stable.
    body = b""
    for _ in range(8):
        body = json.dumps(header, sort_keys=True).encode()
        offset = _round_up(_PREFIX.size + len(body) + 4)
        end = offset
        for e in entries:
            e["offset"] = offset
            end = offset + int(e["nbytes"])
            offset = _round_up(end)
        if header["file_size"] == end and len(json.dumps(header, sort_keys=True)) == len(body):
            break
        header["file_size"] = end
    body = json.dumps(header, sort_keys=True).encode()
    first = int(entries[0]["offset"]) if entries else len(body) + _PREFIX.size + 4
    if _PREFIX.size + len(body) + 4 > first:
        raise RuntimeError("index header layout did not converge")  # pragma: no cover
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(_PREFIX.pack(MAGIC, VERSION, len(body)))
        f.write(body)
        f.write(struct.pack("<I", zlib.crc32(body)))
        for e, a in zip(entries, arrays, strict=True):
            if a.nbytes:
                f.seek(int(e["offset"]))
                f.write(a.reshape(-1).view(np.uint8).data)
        f.truncate(int(header["file_size"]))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _round_up(x: int) -> int:
    return (x + ALIGN - 1) // ALIGN * ALIGN


def load_sections(
    path: str | os.PathLike[str], kind: str, verify: bool = True
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Map the file read-only and return (meta, arrays viewing the mapping).

    The arrays are read-only views of the page cache: loading 10M hashes costs a
    checksum pass, not a copy.  Callers copy what they mutate.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < _PREFIX.size + 4:
            raise IndexFileError(f"{path}: file too short ({size} bytes) to be an index")
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    # Searches make a few thousand random reads per query over ~1 GB of tables: with
    # 4 KiB pages nearly each one also misses the TLB (measured ~60 vs ~18 ns per
    # random line). Ask for huge-page mappings of the page cache where the kernel
    # and filesystem support it (no-op elsewhere).
    if hasattr(mmap, "MADV_HUGEPAGE"):
        with contextlib.suppress(OSError):  # kernels without file THP
            mm.madvise(mmap.MADV_HUGEPAGE)
    magic, version, hlen = _PREFIX.unpack_from(mm, 0)
    if magic != MAGIC:
        raise IndexFileError(f"{path}: not a hashwall index file (bad magic {magic!r})")
    if version != VERSION:
        raise IndexFileError(f"{path}: unsupported index format version {version}")
    end = _PREFIX.size + hlen
    if end + 4 > size:
        raise IndexFileError(f"{path}: truncated header")
    body = mm[_PREFIX.size : end]
    (crc,) = struct.unpack_from("<I", mm, end)
    if zlib.crc32(body) != crc:
        raise IndexFileError(f"{path}: header checksum mismatch (corrupted file)")
    header = json.loads(body)
    if header.get("kind") != kind:
        raise IndexFileError(f"{path}: holds a {header.get('kind')!r} index, expected {kind!r}")
    if header.get("file_size") != size:
        raise IndexFileError(
            f"{path}: truncated or padded: header says {header.get('file_size')} bytes, "
            f"file has {size}"
        )
    arrays: dict[str, np.ndarray] = {}
    for e in header["sections"]:
        off, nbytes = int(e["offset"]), int(e["nbytes"])
        if e["dtype"] not in _ALLOWED_DTYPES:
            raise IndexFileError(f"{path}: section {e['name']!r} has bad dtype {e['dtype']!r}")
        if off + nbytes > size:
            raise IndexFileError(
                f"{path}: truncated: section {e['name']!r} needs {off + nbytes} bytes, "
                f"file has {size}"
            )
        dtype = np.dtype(e["dtype"])
        shape = tuple(int(s) for s in e["shape"])
        count = int(np.prod(shape)) if shape else 1
        if count * dtype.itemsize != nbytes:
            raise IndexFileError(f"{path}: section {e['name']!r} size does not match its shape")
        arr = (
            np.frombuffer(mm, dtype=dtype, count=count, offset=off)
            if nbytes
            else np.zeros(0, dtype)
        )
        if verify and nbytes and _crc(arr) != int(e["crc32"]):
            raise IndexFileError(f"{path}: section {e['name']!r} checksum mismatch (corrupted)")
        arrays[e["name"]] = arr.reshape(shape)
    return header["meta"], arrays
