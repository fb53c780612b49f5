"""Hypothesis properties of hash encodings, distances and validation."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashwall.signals import get_signal
from hashwall.signals.base import InvalidSignalValue
from hashwall.signals.hexcodec import (
    bits_to_hex,
    hamming_hex,
    hamming_matrix,
    hex_to_bytes_array,
    normalize_hex,
)
from hashwall.signals.vpdq import VpdqFrame, format_frames, parse_frames

pdq_bytes = st.binary(min_size=32, max_size=32)
SIGNAL_BYTES = {"pdq": 32, "md5": 16, "sha256": 32}


@given(pdq_bytes)
def test_hex_round_trip(raw: bytes) -> None:
    text = raw.hex()
    assert normalize_hex("pdq", text.upper(), 32) == text
    assert hex_to_bytes_array([text], 32).tobytes() == raw


@given(st.lists(st.integers(0, 1), min_size=256, max_size=256))
def test_bits_to_hex_is_msb_first(bits: list[int]) -> None:
    value = int("".join(map(str, bits)), 2)
    assert int(bits_to_hex(__import__("numpy").array(bits)), 16) == value


@given(pdq_bytes, pdq_bytes)
def test_distance_symmetric_and_bounded(a: bytes, b: bytes) -> None:
    d = hamming_hex(a.hex(), b.hex())
    assert d == hamming_hex(b.hex(), a.hex())
    assert 0 <= d <= 256
    assert (d == 0) == (a == b)
    assert hamming_hex(a.hex(), a.hex()) == 0


@given(pdq_bytes, pdq_bytes, pdq_bytes)
def test_triangle_inequality(a: bytes, b: bytes, c: bytes) -> None:
    ab, bc, ac = (hamming_hex(x.hex(), y.hex()) for x, y in ((a, b), (b, c), (a, c)))
    assert ac <= ab + bc


@given(st.lists(pdq_bytes, min_size=1, max_size=5), st.lists(pdq_bytes, min_size=1, max_size=5))
def test_vectorised_matrix_agrees_with_scalar(left: list[bytes], right: list[bytes]) -> None:
    matrix = hamming_matrix(
        hex_to_bytes_array([x.hex() for x in left], 32),
        hex_to_bytes_array([x.hex() for x in right], 32),
    )
    for i, a in enumerate(left):
        for j, b in enumerate(right):
            assert matrix[i, j] == hamming_hex(a.hex(), b.hex())


@given(st.sampled_from(sorted(SIGNAL_BYTES)), st.text(max_size=80))
def test_malformed_strings_rejected_with_reason(signal: str, text: str) -> None:
    n = SIGNAL_BYTES[signal]
    stripped = text.strip().lower().removeprefix("0x")
    valid = len(stripped) == 2 * n and all(c in string.hexdigits for c in stripped)
    if valid:
        assert get_signal(signal).validate(text) == stripped
    else:
        with pytest.raises(InvalidSignalValue) as info:
            get_signal(signal).validate(text)
        assert signal in str(info.value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty"),
        ("abc", "has 3 hex digits; expected 64"),
        ("z" * 64, "non-hex characters 'z'"),
        ("f" * 63, "has 63 hex digits"),
        ("f" * 65, "has 65 hex digits"),
    ],
)
def test_pdq_validation_messages(value: str, problem: str) -> None:
    with pytest.raises(InvalidSignalValue, match=problem):
        get_signal("pdq").validate(value)


def test_unknown_signal_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="known types: md5, pdq, sha256, vpdq"):
        get_signal("tmk")


frames = st.lists(
    st.builds(
        VpdqFrame,
        st.integers(0, 10**6),
        st.integers(0, 100),
        pdq_bytes.map(bytes.hex),
        st.floats(0, 10**5, allow_nan=False).map(lambda t: round(t, 3)),
    ),
    min_size=1,
    max_size=20,
)


@given(frames)
def test_vpdq_text_round_trip(value: list[VpdqFrame]) -> None:
    parsed = parse_frames(format_frames(value))
    assert [(f.frame, f.quality, f.hash) for f in parsed] == [
        (f.frame, f.quality, f.hash) for f in value
    ]
    assert all(abs(a.timestamp - b.timestamp) < 1e-3 for a, b in zip(parsed, value, strict=True))
