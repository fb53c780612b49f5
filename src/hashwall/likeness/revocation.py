"""Revocation: securely delete a template file and record it in a local JSON-lines audit log.

Deletion overwrites the file's bytes with random data and fsyncs before unlinking, so the
embeddings do not linger in the file's blocks on ordinary file systems. On SSDs and copy-on-write
or journaling file systems an overwrite cannot be guaranteed to reach every physical copy; that is
why templates should be stored encrypted: deleting the key (or the ciphertext) is what makes a
copy useless. The audit line holds only the random template id, the file name, the event and the
time, never embeddings, keys or consent text.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashwall.likeness.errors import TemplateError
from hashwall.likeness.templates import template_id_of

AUDIT_LOG_NAME = "likeness-audit.jsonl"


def default_audit_log(template_path: Path) -> Path:
    """The audit log beside a template file."""
    return template_path.parent / AUDIT_LOG_NAME


def append_audit(log: Path, event: str, **fields: Any) -> None:
    """Append one JSON line ``{"at": ..., "event": ..., **fields}`` and fsync it."""
    record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "event": event, **fields}
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise TemplateError(f"{log}: cannot write audit log ({error.strerror})") from None


def secure_delete(path: Path) -> None:
    """Overwrite ``path`` with random bytes, fsync, unlink, and fsync its folder."""
    try:
        size = path.stat().st_size
        with path.open("r+b", buffering=0) as handle:
            remaining = size
            while remaining > 0:
                chunk = min(remaining, 1 << 20)
                handle.write(os.urandom(chunk))
                remaining -= chunk
            os.fsync(handle.fileno())
        path.unlink()
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such template file") from None
    except OSError as error:
        raise TemplateError(f"{path}: cannot delete template ({error.strerror})") from None


def revoke(path: Path, audit_log: Path | None = None) -> str | None:
    """Securely delete the template at ``path`` and log it; returns its id (None if unreadable).

    A corrupt or undecryptable file is deleted all the same: revocation must never fail because
    the file is damaged.
    """
    if not path.is_file():
        raise TemplateError(f"{path}: no such template file")
    template_id = template_id_of(path)
    secure_delete(path)
    append_audit(
        audit_log or default_audit_log(path),
        "template_revoked",
        template_id=template_id,
        file=path.name,
    )
    return template_id
