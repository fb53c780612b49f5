"""Options shared by the commands that hash media (``hash``, ``compare``, ``match``)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hashwall.hashing.options import HashMode, HashOptions
from hashwall.media.limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_VIDEO_SECONDS

ModeOption = Annotated[
    HashMode,
    typer.Option(
        "--mode",
        help="exact: bit-exact with Meta's PDQ reference. fast: luma-only decoding and matrix PDQ "
        "(photos about 3x faster than exact, within 10 bits of it for quality >= 80; videos about "
        "6x faster, hashing keyframes near each sampling point; see docs/hash-formats.md).",
        case_sensitive=False,
    ),
]
JobsOption = Annotated[
    int,
    typer.Option("--jobs", "-j", min=0, help="Worker processes for batches (0 = all cores)."),
]
ExifOption = Annotated[
    bool,
    typer.Option(
        "--exif/--no-exif",
        help="Apply EXIF orientation before hashing (as a viewer shows the photo). "
        "--no-exif reproduces Meta's reference hasher, which ignores EXIF.",
    ),
]
BordersOption = Annotated[
    bool,
    typer.Option(
        "--borders/--no-borders",
        help="Also hash photos and frames with uniform bars (letterbox, frames) removed.",
    ),
]
SecondsOption = Annotated[
    float,
    typer.Option(
        "--seconds-per-hash",
        min=0.0,
        help="vPDQ: hash one video frame every N seconds; 0 hashes every frame.",
    ),
]
MaxPixelsOption = Annotated[
    int,
    typer.Option(
        "--max-pixels",
        min=1,
        help="Refuse images larger than this many pixels (decompression-bomb guard).",
    ),
]
MaxVideoSecondsOption = Annotated[
    float,
    typer.Option(
        "--max-video-seconds",
        min=0.0,
        help="Refuse videos longer than this many seconds (reported as an error; the rest of the "
        "batch is still hashed).",
    ),
]


def build_hash_options(
    mode: HashMode = HashMode.EXACT,
    exif: bool = True,
    borders: bool = True,
    seconds_per_hash: float = 1.0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_video_seconds: float = DEFAULT_MAX_VIDEO_SECONDS,
) -> HashOptions:
    return HashOptions(
        mode=mode,
        apply_exif=exif,
        remove_borders=borders,
        seconds_per_hash=seconds_per_hash,
        max_pixels=max_pixels,
        max_video_seconds=max_video_seconds,
    )


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def jobs_or_default(jobs: int | None) -> int:
    return jobs if jobs else default_jobs()
