"""Decode videos (via PyAV, FFmpeg in a PyPI wheel) and animated images into RGB frames.

Frames are produced lazily so a two-hour video is hashed in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageSequence

from hashwall.media.errors import MediaError
from hashwall.media.image import open_image, to_rgb_array
from hashwall.media.limits import DEFAULT_MAX_PIXELS
from hashwall.media.sniff import may_be_animated


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: its position in the stream, its time and its pixels."""

    index: int
    timestamp: float
    rgb: NDArray[np.uint8]


def _sampling_interval(frames_per_second: float, seconds_per_hash: float) -> int:
    """Keep every n-th frame, as Meta's vPDQ does (0 seconds means every frame)."""
    if seconds_per_hash <= 0 or frames_per_second <= 0:
        return 1
    return max(1, round(frames_per_second * seconds_per_hash))


def iter_video_frames(
    path: Path,
    *,
    seconds_per_hash: float = 0.0,
    frame_size: tuple[int, int] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[VideoFrame]:
    """Yield the sampled frames of a video file or an animated GIF/WebP.

    ``frame_size`` (width, height) rescales every frame first, like vPDQ's downsample option.
    """
    if may_be_animated(path):
        yield from _iter_animation(path, seconds_per_hash, frame_size, max_pixels)
        return
    yield from _iter_container(path, seconds_per_hash, frame_size, max_pixels)


def _iter_container(
    path: Path, seconds_per_hash: float, frame_size: tuple[int, int] | None, max_pixels: int
) -> Iterator[VideoFrame]:
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise MediaError(path, f"not a readable video ({_ffmpeg_reason(error)})") from None
    produced = 0
    with container:
        if not container.streams.video:
            raise MediaError(path, "has no video track")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > max_pixels:
            raise MediaError(path, f"video frames are too large: {width}x{height} pixels")
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        every = _sampling_interval(float(rate), seconds_per_hash)
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index % every:
                    continue
                rgb = _frame_to_rgb(frame, frame_size)
                timestamp = frame.time if frame.time is not None else index / float(rate or 1)
                produced += 1
                yield VideoFrame(index, float(timestamp), rgb)
        except av.FFmpegError as error:
            if produced == 0:
                raise MediaError(path, f"corrupt video data ({_ffmpeg_reason(error)})") from None
            # A damaged tail still leaves the frames before it, which are worth hashing.
    if produced == 0:
        raise MediaError(path, "no decodable video frames")


def _frame_to_rgb(frame: av.VideoFrame, frame_size: tuple[int, int] | None) -> NDArray[np.uint8]:
    if frame_size is None:
        array = frame.to_ndarray(format="rgb24")
    else:
        array = frame.to_ndarray(format="rgb24", width=frame_size[0], height=frame_size[1])
    return np.ascontiguousarray(array, dtype=np.uint8)


def _iter_animation(
    path: Path, seconds_per_hash: float, frame_size: tuple[int, int] | None, max_pixels: int
) -> Iterator[VideoFrame]:
    image = open_image(path, max_pixels)
    timestamp_ms = 0.0
    next_sample_ms = 0.0
    try:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            duration = float(frame.info.get("duration", 100) or 100)
            if timestamp_ms >= next_sample_ms:
                picture = frame.convert("RGBA") if frame.mode == "P" else frame.copy()
                if frame_size is not None:
                    picture = picture.resize(frame_size, Image.Resampling.BILINEAR)
                yield VideoFrame(index, round(timestamp_ms / 1000.0, 3), to_rgb_array(picture))
                next_sample_ms = timestamp_ms + seconds_per_hash * 1000.0
            timestamp_ms += duration
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise MediaError(path, f"corrupt or truncated animation ({error})") from None


def _ffmpeg_reason(error: av.FFmpegError) -> str:
    """FFmpeg errors embed the file name; keep only the reason so our message names it once."""
    return str(getattr(error, "strerror", None) or error).strip()
