"""Options shared by the commands that hash media (``hash``, ``compare``, ``match``)."""

from __future__ import annotations

from typing import Annotated

import typer

from hashwall.hashing import HashMode, HashOptions
from hashwall.hashing.batch import default_jobs
from hashwall.media.image import DEFAULT_MAX_PIXELS

ModeOption = Annotated[
    HashMode,
    typer.Option(
        "--mode",
        help="exact: bit-exact with Meta's PDQ reference. fast: luma-only decoding and matrix PDQ "
        "(about 3x faster than exact; within 10 bits of it for quality >= 80).",
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


def build_hash_options(
    mode: HashMode = HashMode.EXACT,
    exif: bool = True,
    borders: bool = True,
    seconds_per_hash: float = 1.0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> HashOptions:
    return HashOptions(
        mode=mode,
        apply_exif=exif,
        remove_borders=borders,
        seconds_per_hash=seconds_per_hash,
        max_pixels=max_pixels,
    )


def jobs_or_default(jobs: int | None) -> int:
    return jobs if jobs else default_jobs()
