"""What the actions keep of an API query: a key that tells distinct items apart (flood
quarantine) and its hashes (so a reviewer can add a false positive to a negative bank)."""

from __future__ import annotations

import hashlib
import json

from hashwall.hashing.record import HashRecord
from hashwall.service.records import signals_from_record


def query_key(record: HashRecord) -> str | None:
    """The query's strongest identity: a digest, else its PDQ hash, else its frames."""
    if record.sha256:
        return f"sha256:{record.sha256}"
    if record.md5:
        return f"md5:{record.md5}"
    if record.pdq is not None:
        return f"pdq:{record.pdq.hash}"
    if record.vpdq:
        frames = ",".join(frame.hash for frame in record.vpdq)
        return f"vpdq:{hashlib.sha256(frames.encode()).hexdigest()}"
    return None


def signals_json(record: HashRecord) -> str:
    rows = [[s.signal_type, s.variant, s.value, s.quality] for s in signals_from_record(record)]
    return json.dumps(rows, separators=(",", ":"))
