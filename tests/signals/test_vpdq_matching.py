"""Meta's vPDQ match semantics: quality filter, de-duplication, percentages both ways."""

from __future__ import annotations

import numpy as np

from hashwall.signals import get_signal
from hashwall.signals.vpdq import VpdqFrame, format_frames, match_frames

rng = np.random.default_rng(7)


def random_hash() -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def flip_bits(value: str, count: int) -> str:
    number = int(value, 16)
    for bit in rng.choice(256, count, replace=False).tolist():
        number ^= 1 << bit
    return f"{number:064x}"


def video(hashes: list[str], quality: int = 100) -> list[VpdqFrame]:
    return [VpdqFrame(i, quality, h, i / 30) for i, h in enumerate(hashes)]


def test_clip_inside_longer_video() -> None:
    long = [random_hash() for _ in range(10)]
    clip = [flip_bits(h, 10) for h in long[2:6]]
    result = match_frames(video(clip), video(long))
    assert result.query_match_percent == 100.0
    assert result.compared_match_percent == 40.0
    assert result.is_match()
    reverse = match_frames(video(long), video(clip))
    assert reverse.query_match_percent == 40.0 and not reverse.is_match()


def test_low_quality_frames_are_ignored() -> None:
    hashes = [random_hash() for _ in range(4)]
    query = [*video(hashes[:2]), VpdqFrame(9, 10, random_hash(), 1.0)]
    result = match_frames(query, video(hashes))
    assert result.query_match_percent == 100.0


def test_duplicate_frames_count_once() -> None:
    a, b, c = random_hash(), random_hash(), random_hash()
    query = video([a, a, a, a, b])  # 2 unique frames, one of which matches
    result = match_frames(query, video([a, c]))
    assert result.query_match_percent == 50.0


def test_distance_threshold_is_inclusive_31() -> None:
    base = random_hash()
    assert match_frames(video([flip_bits(base, 31)]), video([base])).is_match()
    assert not match_frames(video([flip_bits(base, 32)]), video([base])).is_match()


def test_no_usable_frames_is_no_match() -> None:
    result = match_frames(video([random_hash()], quality=0), video([random_hash()]))
    assert not result.is_match() and result.min_distance is None


def test_borderless_hash_rescues_a_frame() -> None:
    original = random_hash()
    barred = VpdqFrame(0, 100, random_hash(), 0.0, borderless_hash=original, borderless_quality=90)
    assert match_frames([barred], video([original])).query_match_percent == 100.0


def test_signal_compare_on_strings() -> None:
    hashes = [random_hash() for _ in range(3)]
    comparison = get_signal("vpdq").compare(
        format_frames(video(hashes)), format_frames(video(hashes))
    )
    assert comparison.is_match and comparison.distance == 0
