"""Media uploads: copied to a private temporary file (size-limited), hashed, then deleted.

The file never outlives the request. Hashing runs in the request's worker thread (FastAPI
runs sync handlers in a thread pool) and uses the same pipeline as ``hashwall hash``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from pathlib import Path

from fastapi import UploadFile

from hashwall.hashing import HashOptions, HashRecord, hash_file
from hashwall.media import MediaError
from hashwall.service.errors import ApiError, printable

_CHUNK = 1024 * 1024
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}$")


def hash_upload(upload: UploadFile, max_bytes: int, field: str) -> HashRecord:
    """Hash an uploaded file; 413 when it is too large, 422 when it is not usable media."""
    name = printable(upload.filename or "", 500) or "upload"
    match = _SUFFIX.search(name)
    handle, temp_name = tempfile.mkstemp(
        prefix="hashwall-upload-", suffix=match.group(0) if match else ""
    )
    path = Path(temp_name)
    try:
        written = 0
        with os.fdopen(handle, "wb") as sink:
            while chunk := upload.file.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise ApiError(
                        413, f"the file is larger than the {max_bytes}-byte limit", field
                    )
                sink.write(chunk)
        if written == 0:
            raise ApiError(422, "the file is empty", field)
        try:
            record = hash_file(path, HashOptions())
        except MediaError as error:
            raise ApiError(422, f"cannot hash {name!r}: {error.reason}", field) from None
        except (OSError, ValueError) as error:
            raise ApiError(422, f"cannot hash {name!r}: {error}", field) from None
        # The temporary path means nothing to the caller; report the name they uploaded.
        return dataclasses.replace(record, path=name)
    finally:
        path.unlink(missing_ok=True)
