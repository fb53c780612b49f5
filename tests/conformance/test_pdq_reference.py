"""PDQ equals Meta's C++ reference bit for bit (expected/pdq-reference*.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hashwall.hashing import HashOptions, hash_file
from hashwall.signals.hexcodec import hamming_hex
from hashwall.signals.pdq import DIHEDRAL_NAMES

pytestmark = pytest.mark.conformance

REFERENCE_OPTIONS = HashOptions(apply_exif=False, remove_borders=False)
UNDECODABLE_BY_REFERENCE = {
    "pdq/data/misc-images/c.png": None,  # a different picture: just has to hash
    "pdq/data/misc-images/modes/CMYK.jpg": "pdq/data/misc-images/modes/original.jpg",
    "pdq/data/misc-images/modes/LA.png": "pdq/data/misc-images/modes/original.jpg",
    "pdq/data/misc-images/modes/RGBA.png": "pdq/data/misc-images/modes/original.jpg",
    "pdq/data/reg-test-input/pen-and-coaster.png": None,
}


def _rows(root: Path, name: str) -> list[list[str]]:
    with (root / "expected" / name).open(newline="") as handle:
        return [row for row in csv.reader(handle) if row]


def test_reference_has_39_images(conformance: Path) -> None:
    assert len(_rows(conformance, "pdq-reference.csv")) == 39


def test_pdq_bit_exact_on_every_reference_image(conformance: Path) -> None:
    mismatches = []
    for expected_hash, expected_quality, relative in _rows(conformance, "pdq-reference.csv"):
        record = hash_file(conformance / relative, REFERENCE_OPTIONS)
        assert record.pdq is not None
        if (record.pdq.hash, record.pdq.quality) != (expected_hash, int(expected_quality)):
            distance = hamming_hex(record.pdq.hash, expected_hash)
            mismatches.append(f"{relative}: {distance} bits, quality {record.pdq.quality}")
    assert not mismatches, mismatches


def test_dihedral_bit_exact_on_every_reference_image(conformance: Path) -> None:
    mismatches = []
    for row in _rows(conformance, "pdq-reference-dihedral.csv"):
        expected, quality, relative = row[:8], int(row[8]), row[9]
        record = hash_file(conformance / relative, REFERENCE_OPTIONS)
        assert record.pdq is not None
        assert record.pdq.quality == quality
        for name, ours, theirs in zip(DIHEDRAL_NAMES, record.pdq.dihedral, expected, strict=True):
            if ours != theirs:
                mismatches.append(f"{relative} {name}: {hamming_hex(ours, theirs)} bits")
    assert not mismatches, mismatches


@pytest.mark.parametrize("relative", sorted(UNDECODABLE_BY_REFERENCE))
def test_images_the_reference_cannot_decode(conformance: Path, relative: str) -> None:
    record = hash_file(conformance / relative, REFERENCE_OPTIONS)
    assert record.pdq is not None and record.pdq.quality >= 50
    same_as = UNDECODABLE_BY_REFERENCE[relative]
    if same_as is not None:
        original = hash_file(conformance / same_as, REFERENCE_OPTIONS)
        assert original.pdq is not None
        assert hamming_hex(record.pdq.hash, original.pdq.hash) <= 31


@pytest.mark.parametrize(
    ("orientation", "variant"),
    [(1, "original"), (3, "rotate180"), (6, "rotate270"), (8, "rotate90")],
)
def test_exif_orientation_matches_reference_rotation(
    conformance: Path, orientation: int, variant: str
) -> None:
    """With EXIF applied, the hash is the photo as displayed: a rotation of the stored pixels."""
    relative = f"pdq/data/reg-test-input/exif-rotn/exif-rotn-{orientation}.jpg"
    reference = {row[9]: row[:8] for row in _rows(conformance, "pdq-reference-dihedral.csv")}
    record = hash_file(conformance / relative, HashOptions())
    assert record.pdq is not None
    expected = reference[relative][DIHEDRAL_NAMES.index(variant)]
    # Rotating before the reference's nearest-neighbour 512x512 squash samples other pixels.
    assert hamming_hex(record.pdq.hash, expected) <= 20
