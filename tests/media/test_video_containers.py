"""Videos in the common containers decode through PyAV and hash to the same vPDQ frames."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from hashwall.hashing import HashOptions, hash_file
from hashwall.media.sniff import ContentKind
from hashwall.signals.vpdq import match_frames

from ..conftest import textured_rgb

CONTAINERS = [("mp4", "mpeg4"), ("mov", "mpeg4"), ("mkv", "mpeg4"), ("webm", "libvpx")]


def write_video(path: Path, codec: str) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=5)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(15):
            frame = av.VideoFrame.from_ndarray(textured_rgb(index // 5, (320, 240)), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def reference_frames(tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    path = tmp_path_factory.mktemp("ref") / "reference.mp4"
    write_video(path, "mpeg4")
    return list(hash_file(path, HashOptions(seconds_per_hash=0)).vpdq)


@pytest.mark.parametrize(("suffix", "codec"), CONTAINERS)
def test_container_hashes_like_the_mp4(
    tmp_path: Path, suffix: str, codec: str, reference_frames: list[object]
) -> None:
    path = tmp_path / f"clip.{suffix}"
    write_video(path, codec)
    record = hash_file(path, HashOptions(seconds_per_hash=0))
    assert record.content_type is ContentKind.VIDEO
    assert len(record.vpdq) == 15
    result = match_frames(record.vpdq, reference_frames)  # type: ignore[arg-type]
    assert result.is_match() and result.query_match_percent == 100.0


def test_seconds_per_hash_samples_frames(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_video(path, "mpeg4")
    record = hash_file(path, HashOptions(seconds_per_hash=1.0))
    assert [frame.frame for frame in record.vpdq] == [0, 5, 10]
    assert [round(frame.timestamp, 3) for frame in record.vpdq] == [0.0, 1.0, 2.0]
