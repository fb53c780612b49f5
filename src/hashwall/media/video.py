"""Decode videos (via PyAV, FFmpeg in a PyPI wheel) and animated images into RGB frames.

Frames are produced lazily so a two-hour video is hashed in constant memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageSequence

from hashwall.media.errors import MediaError, MediaTooLarge
from hashwall.media.image import DEFAULT_MAX_PIXELS, open_image, to_rgb_array
from hashwall.media.sniff import may_be_animated


@dataclass(frozen=True)
class VideoLimits:
    """Caps on what decoding one video or animation may cost (None: no cap).

    Why: a few hundred kilobytes of H.264 can declare minutes of 1080p, and every frame is
    decoded even when only one a second is hashed. The service applies these to uploads sent
    without a key; the command line decodes whatever the user asks it to.
    """

    #: Frames decoded (all of them, not only the sampled ones).
    max_frames: int | None = None
    #: Duration, declared by the container or reached while decoding.
    max_seconds: float | None = None
    #: Wall-clock time spent decoding, checked between frames.
    max_decode_seconds: float | None = None
    #: FFmpeg decoding threads; 0 lets FFmpeg use every core.
    threads: int = 0


NO_LIMITS = VideoLimits()


class _Budget:
    """Checks one file's decoding against its :class:`VideoLimits`."""

    def __init__(self, path: Path, limits: VideoLimits) -> None:
        self.path = path
        self.limits = limits
        seconds = limits.max_decode_seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def duration(self, seconds: float | None) -> None:
        cap = self.limits.max_seconds
        if seconds is not None and cap is not None and seconds > cap:
            plain = f"the video is {seconds:.0f} seconds long; the limit is {cap:g} seconds"
            raise MediaTooLarge(self.path, plain, plain)

    def frame(self, index: int, timestamp: float | None) -> None:
        """Called before each decoded frame is used: ``index`` counts from 0."""
        cap = self.limits.max_frames
        if cap is not None and index >= cap:
            plain = f"the video has more than {cap} frames, the limit"
            raise MediaTooLarge(self.path, plain, plain)
        self.duration(timestamp)
        if self.deadline is not None and time.monotonic() > self.deadline:
            plain = (
                f"decoding took longer than {self.limits.max_decode_seconds:g} seconds "
                "(the limit); a shorter or smaller clip will do"
            )
            raise MediaTooLarge(self.path, plain, plain)


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
    limits: VideoLimits = NO_LIMITS,
) -> Iterator[VideoFrame]:
    """Yield the sampled frames of a video file or an animated GIF/WebP.

    ``frame_size`` (width, height) rescales every frame first, like vPDQ's downsample option.
    Past one of ``limits`` a :class:`MediaTooLarge` is raised and decoding stops.
    """
    budget = _Budget(path, limits)
    if may_be_animated(path):
        yield from _iter_animation(path, seconds_per_hash, frame_size, max_pixels, budget)
        return
    yield from _iter_container(path, seconds_per_hash, frame_size, max_pixels, budget)


def _declared_seconds(container: Any, stream: Any) -> float | None:
    """The duration the file declares (container, else stream), if any."""
    if container.duration:
        return float(container.duration) / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _iter_container(
    path: Path,
    seconds_per_hash: float,
    frame_size: tuple[int, int] | None,
    max_pixels: int,
    budget: _Budget,
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
        if budget.limits.threads:
            stream.codec_context.thread_count = budget.limits.threads
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > max_pixels:
            plain = f"the video frames are {width}x{height} pixels; the limit is {max_pixels:,}"
            raise MediaTooLarge(path, f"video frames are too large: {width}x{height} pixels", plain)
        budget.duration(_declared_seconds(container, stream))
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        every = _sampling_interval(float(rate), seconds_per_hash)
        try:
            for index, frame in enumerate(container.decode(stream)):
                budget.frame(index, frame.time)
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
    path: Path,
    seconds_per_hash: float,
    frame_size: tuple[int, int] | None,
    max_pixels: int,
    budget: _Budget,
) -> Iterator[VideoFrame]:
    image = open_image(path, max_pixels)
    timestamp_ms = 0.0
    next_sample_ms = 0.0
    try:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            budget.frame(index, timestamp_ms / 1000.0)
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
