"""A bank of two known pictures, and the pictures themselves, for every scanner test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.scan.support import jpeg, write_bank


@dataclass(frozen=True)
class Pictures:
    known: bytes
    other_known: bytes
    unrelated: bytes
    bank: Path


@pytest.fixture
def pictures(tmp_path: Path) -> Pictures:
    known, other, unrelated = jpeg(1), jpeg(2), jpeg(3)
    bank = write_bank(tmp_path / "bank.jsonl", {"known-1": known, "known-2": other})
    return Pictures(known, other, unrelated, bank)
