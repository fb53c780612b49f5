"""Rows of a benchmark bank, written straight into the database (not through the API).

Shared by ``service_bench.py`` and ``startup_bench.py``: one active photo entry per PDQ hash,
the columns the service itself would fill.
"""

from __future__ import annotations


def entry_row(entry_id: int, bank_id: int) -> dict[str, object]:
    return {
        "id": entry_id,
        "bank_id": bank_id,
        "state": "active",
        "content_type": "photo",
        "label": "",
        "source": "bench",
        "case_ref": "",
        "meta": {},
    }


def signal_row(entry_id: int, value: str, signal_id: int | None = None) -> dict[str, object]:
    """The entry's PDQ signal; ``signal_id`` fixes its id (default: the database's)."""
    row: dict[str, object] = {
        "entry_id": entry_id,
        "signal_type": "pdq",
        "variant": "original",
        "value": value,
        "value_key": value,
        "quality": 100,
    }
    if signal_id is not None:
        row["id"] = signal_id
    return row
