"""Limits shared by the decoders, in a module light enough for the CLI to import at start-up."""

from __future__ import annotations

from dataclasses import dataclass

#: Bigger than any phone camera (200 MP sensors exist), small enough that a crafted 100k x 100k
#: "decompression bomb" is refused from its header, before a single pixel is decoded.
DEFAULT_MAX_PIXELS = 250_000_000
#: Refuse videos longer than this (4 hours): a guard against endless or bogus streams.
DEFAULT_MAX_VIDEO_SECONDS = 4 * 3600.0


@dataclass(frozen=True)
class VideoLimits:
    """Caps on what decoding one video or animation may cost (None: no cap).

    Why: a few hundred kilobytes of H.264 can declare minutes of 1080p, and every frame is
    decoded even when only one a second is hashed. The service applies these to uploads sent
    without a key; the command line decodes whatever the user asks it to (up to
    ``--max-video-seconds``).
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
