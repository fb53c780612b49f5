"""Decode videos (via PyAV, FFmpeg in a PyPI wheel) and animated images into frames.

Frames are produced lazily so a two-hour video is hashed in constant memory.

Two paths:

* :func:`iter_video_frames` (exact mode) decodes every frame in order and converts the sampled
  ones to RGB, as Meta's vPDQ does; its hashes agree with Meta's sample hashes.
* :func:`iter_video_luma` (fast mode) hands out the decoder's own luma plane (no RGB conversion,
  no copy) and, when sampling, decodes only what the sampled frames need: it reads the packet
  index first, then for each sampled frame seeks to the keyframe before it (when that is ahead
  of the decoder) and decodes from there. With a keyframe every 1-2 s, that skips most frames.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageSequence

from hashwall.media.errors import MediaError, MediaTooLarge
from hashwall.media.image import open_image, to_rgb_array
from hashwall.media.limits import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_VIDEO_SECONDS,
    NO_LIMITS,
    VideoLimits,
)
from hashwall.media.sniff import may_be_animated

if TYPE_CHECKING:  # PyAV (FFmpeg) loads when a video is opened, not when photos are hashed
    import av
    import av.container
    import av.video.stream


__all__ = [
    "NO_LIMITS",
    "LumaFrame",
    "VideoFrame",
    "VideoLimits",
    "iter_video_frames",
    "iter_video_luma",
]


class _Budget:
    """Checks one file's decoding against its :class:`VideoLimits`."""

    def __init__(self, path: Path, limits: VideoLimits) -> None:
        self.path = path
        self.limits = limits
        seconds = limits.max_decode_seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.decoded = 0

    def open(
        self, container: av.container.InputContainer, stream: av.video.stream.VideoStream
    ) -> None:
        """Before decoding: the thread count, and the duration the file declares."""
        if self.limits.threads:
            stream.codec_context.thread_count = self.limits.threads
        self.duration(video_duration(container, stream))

    def duration(self, seconds: float | None) -> None:
        cap = self.limits.max_seconds
        if seconds is not None and cap is not None and seconds > cap:
            plain = f"the video is {seconds:.0f} seconds long; the limit is {cap:g} seconds"
            raise MediaTooLarge(self.path, plain, plain)

    def frame(self, timestamp: float | None) -> None:
        """Called for each decoded frame, before it is used."""
        cap = self.limits.max_frames
        if cap is not None and self.decoded >= cap:
            plain = f"the video has more than {cap} frames, the limit"
            raise MediaTooLarge(self.path, plain, plain)
        self.decoded += 1
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


@dataclass(frozen=True)
class LumaFrame:
    """One decoded frame as the decoder's 8-bit luma plane (a view, valid until the next frame).

    ``levels`` maps its values to full-range luma (``value * scale + offset``): limited-range
    ("TV") video has Y in 16-235, which the RGB conversion of the exact path stretches to 0-255.
    """

    index: int
    timestamp: float
    luma: NDArray[np.uint8]
    levels: tuple[float, float] = (1.0, 0.0)


#: 8-bit formats whose first plane is the luma (Y) plane at full frame size.
_PLANAR_LUMA_FORMATS = frozenset(
    {
        "yuv420p",
        "yuvj420p",
        "yuv422p",
        "yuvj422p",
        "yuv444p",
        "yuvj444p",
        "yuv440p",
        "yuvj440p",
        "yuv411p",
        "yuv410p",
        "nv12",
        "nv21",
        "gray",
    }
)
_LIMITED_TO_FULL = (255.0 / 219.0, -16.0 * 255.0 / 219.0)


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
    max_video_seconds: float = DEFAULT_MAX_VIDEO_SECONDS,
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
    yield from _iter_container(
        path, seconds_per_hash, frame_size, max_pixels, max_video_seconds, budget
    )


def iter_video_luma(
    path: Path,
    *,
    seconds_per_hash: float = 0.0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_video_seconds: float = DEFAULT_MAX_VIDEO_SECONDS,
    seek: bool = True,
    snap_to_keyframes: bool = True,
    limits: VideoLimits = NO_LIMITS,
) -> Iterator[LumaFrame]:
    """Yield the sampled frames of a video file as luma planes (the fast mode's decoder).

    Frame numbers and timestamps are those :func:`iter_video_frames` gives. Animated GIF/WebP go
    through Pillow and are converted to luma. ``seek=False`` decodes every frame in order.
    When sampling, ``snap_to_keyframes`` hashes a keyframe instead of the sampled frame when one
    lies within half a sampling interval of it (frame numbers and timestamps are then the
    keyframe's): the hashed frames may differ from the exact mode's by up to half an interval.
    """
    budget = _Budget(path, limits)
    if may_be_animated(path):
        for still in _iter_animation(path, seconds_per_hash, None, max_pixels, budget):
            luma = np.asarray(Image.fromarray(still.rgb).convert("L"))
            yield LumaFrame(still.index, still.timestamp, luma)
        return
    import av

    container = _open_container(path)
    produced = 0
    with container:
        stream = _video_stream(path, container, max_pixels, max_video_seconds)
        budget.open(container, stream)
        rate = float(stream.average_rate or stream.guessed_rate or 0)
        every = _sampling_interval(rate, seconds_per_hash)
        try:
            if every > 1 and seek:
                plan = _seek_plan(container, stream, every, snap_to_keyframes)
                if plan is not None:
                    for planned in _decode_planned(container, stream, plan, budget):
                        produced += 1
                        yield planned
                    if produced:
                        return
                    container.seek(0, stream=stream)
            for index, frame in enumerate(container.decode(stream)):
                budget.frame(frame.time)
                if index % every == 0:
                    produced += 1
                    yield _luma_frame(index, frame, rate)
        except av.FFmpegError as error:
            if produced == 0:
                raise MediaError(path, f"corrupt video data ({_ffmpeg_reason(error)})") from None
    if produced == 0:
        raise MediaError(path, "no decodable video frames")


@dataclass(frozen=True)
class _Target:
    index: int
    pts: int
    keyframe_pts: int


def _seek_plan(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    every: int,
    snap: bool,
) -> list[_Target] | None:
    """Which frames to hash (every n-th in presentation order) and the keyframe before each.

    ``snap`` replaces a sampled frame by the nearest keyframe when one is at most half a
    sampling interval away (so, with a keyframe every 1-2 s, only keyframes are decoded).

    Reads packets only (no decoding). None when the track lacks timestamps, so seeking would
    be guesswork; the caller then decodes in order.
    """
    packets: list[tuple[int, bool]] = []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        if packet.pts is None:
            return None
        packets.append((int(packet.pts), bool(packet.is_keyframe)))
    if not packets or not packets[0][1]:
        return None
    order = sorted(range(len(packets)), key=lambda i: packets[i][0])
    keyframe_ranks = [rank for rank, position in enumerate(order) if packets[position][1]]
    # The keyframe before a frame in presentation order is the last keyframe packet read before
    # it in decode order (a frame is decodable from the keyframe that precedes it in the stream).
    keyframe_before: list[int] = []
    current = packets[0][0]
    for pts, is_key in packets:
        if is_key:
            current = pts
        keyframe_before.append(current)
    targets: list[_Target] = []
    for index in range(0, len(order), every):
        if snap:
            # A keyframe within half a sampling interval stands in for the sampled frame: it
            # decodes on its own, so the frames between keyframes are never decoded.
            nearest = _nearest(keyframe_ranks, index)
            if abs(nearest - index) * 2 <= every and (not targets or nearest > targets[-1].index):
                index = nearest
        position = order[index]
        targets.append(_Target(index, packets[position][0], keyframe_before[position]))
    return targets


def _nearest(sorted_values: list[int], value: int) -> int:
    at = bisect.bisect_left(sorted_values, value)
    candidates = sorted_values[max(0, at - 1) : at + 1]
    return min(candidates, key=lambda candidate: (abs(candidate - value), candidate))


def _decode_planned(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    plan: list[_Target],
    budget: _Budget,
) -> Iterator[LumaFrame]:
    """Decode just enough to reach each planned frame, seeking forward over whole GOPs."""
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    decoder: Iterator[av.VideoFrame] | None = None
    last_pts: int | None = None
    for target in plan:
        if decoder is None or last_pts is None or target.keyframe_pts > last_pts:
            container.seek(target.keyframe_pts, stream=stream, backward=True)
            decoder = container.decode(stream)
        for frame in decoder:
            budget.frame(frame.time)
            if frame.pts is None:
                continue
            last_pts = int(frame.pts)
            if last_pts >= target.pts:
                yield _luma_frame(target.index, frame, rate)
                break
        else:
            return


def _luma_frame(index: int, frame: av.VideoFrame, rate: float) -> LumaFrame:
    timestamp = frame.time if frame.time is not None else index / (rate or 1.0)
    name = frame.format.name
    if name in _PLANAR_LUMA_FORMATS:
        plane = frame.planes[0]
        luma = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
        luma = luma[:, : frame.width]
        full_range = name.startswith("yuvj") or name == "gray" or _is_full_range(frame)
        levels = (1.0, 0.0) if full_range else _LIMITED_TO_FULL
        return LumaFrame(index, float(timestamp), luma, levels)
    # Other formats (10-bit, RGB, palette): FFmpeg converts to full-range grey.
    rgb = frame.to_ndarray(format="rgb24")
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    return LumaFrame(index, float(timestamp), grey)


def _is_full_range(frame: av.VideoFrame) -> bool:
    return int(getattr(frame, "color_range", 0) or 0) == 2  # AVCOL_RANGE_JPEG


def _open_container(path: Path) -> av.container.InputContainer:
    import av

    if path.stat().st_size == 0:
        raise MediaError(path, "is empty (zero bytes)")
    try:
        return av.open(str(path))
    except av.FFmpegError as error:
        raise MediaError(path, f"not a readable video ({_ffmpeg_reason(error)})") from None


def _video_stream(
    path: Path, container: av.container.InputContainer, max_pixels: int, max_seconds: float
) -> av.video.stream.VideoStream:
    """The first video track, after the size and duration guards."""
    if not container.streams.video:
        raise MediaError(path, "has no video track")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > max_pixels:
        plain = f"the video frames are {width}x{height} pixels; the limit is {max_pixels:,}"
        raise MediaTooLarge(path, f"video frames are too large: {width}x{height} pixels", plain)
    seconds = video_duration(container, stream)
    if seconds is not None and seconds > max_seconds:
        raise MediaError(
            path,
            f"video is {seconds:.0f} s long, over the {max_seconds:.0f} s limit "
            "(raise it with --max-video-seconds)",
        )
    return stream


def video_duration(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float | None:
    """The duration the container or track declares, in seconds (None when neither does)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000.0
    return None


def _iter_container(
    path: Path,
    seconds_per_hash: float,
    frame_size: tuple[int, int] | None,
    max_pixels: int,
    max_seconds: float = DEFAULT_MAX_VIDEO_SECONDS,
    budget: _Budget | None = None,
) -> Iterator[VideoFrame]:
    import av

    budget = budget or _Budget(path, NO_LIMITS)
    container = _open_container(path)
    produced = 0
    with container:
        stream = _video_stream(path, container, max_pixels, max_seconds)
        budget.open(container, stream)
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        every = _sampling_interval(float(rate), seconds_per_hash)
        try:
            for index, frame in enumerate(container.decode(stream)):
                budget.frame(frame.time)
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
            budget.frame(timestamp_ms / 1000.0)
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
