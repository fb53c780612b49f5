"""``hashwall hash``: fingerprint photos and videos on this machine; only hashes are written."""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hashwall.cli.batch_runner import run_batch
from hashwall.cli.options import (
    BordersOption,
    ExifOption,
    JobsOption,
    MaxPixelsOption,
    MaxVideoSecondsOption,
    ModeOption,
    SecondsOption,
    build_hash_options,
    jobs_or_default,
)
from hashwall.cli.output import EXIT_SOME_FAILED, EXIT_USAGE, json_line, open_output, report_error
from hashwall.hashing.options import HashMode
from hashwall.media.limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_VIDEO_SECONDS

if TYPE_CHECKING:
    from hashwall.hashing.record import HashRecord


class OutputFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


def hash_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...", help="Files and folders (folders are walked recursively)."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (created only when complete)."),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            help="jsonl: one JSON object per file. csv: signal_type,signal_value rows "
            "(python-threatexchange / HMA import format).",
            case_sensitive=False,
        ),
    ] = OutputFormat.JSONL,
    mode: ModeOption = HashMode.EXACT,
    jobs: JobsOption = 0,
    exif: ExifOption = True,
    borders: BordersOption = True,
    seconds_per_hash: SecondsOption = 1.0,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    max_video_seconds: MaxVideoSecondsOption = DEFAULT_MAX_VIDEO_SECONDS,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")
    ] = True,
) -> None:
    """Fingerprint photos and videos. The media never leaves this machine: only hashes are printed.

    Photos get PDQ (with its quality 0-100 and the 8 rotation/flip variants), a second PDQ without
    uniform bars when the photo has any, and MD5/SHA-256 of the file. Videos and animated GIF/WebP
    get vPDQ (one PDQ per sampled frame) and MD5/SHA-256.

    Files that cannot be hashed are reported on stderr, one line each; the rest still complete and
    the exit code is 1.

    Examples:

      hashwall hash photo.jpg

      hashwall hash ~/Pictures/evidence --output hashes.jsonl

      hashwall hash clip.mp4 --seconds-per-hash 0 --format csv
    """
    options = build_hash_options(
        mode, exif, borders, seconds_per_hash, max_pixels, max_video_seconds
    )
    try:
        with open_output(output) as sink:
            writer = csv.writer(sink, lineterminator="\n")

            def emit(record: HashRecord) -> None:
                if output_format is OutputFormat.CSV:
                    writer.writerows(record.csv_rows())
                else:
                    sink.write(json_line(_with_provenance(record)) + "\n")

            summary = run_batch(paths, options, jobs_or_default(jobs), progress, emit)
    except FileNotFoundError as error:
        report_error(str(error))
        raise typer.Exit(EXIT_USAGE) from None
    if summary.failed:
        raise typer.Exit(EXIT_SOME_FAILED)


def _with_provenance(record: HashRecord) -> dict[str, Any]:
    """The record's JSON, with the origin the file declares (C2PA, XMP) when it declares one:
    a declared AI origin supports a "digital forgery" removal request (docs/scan.md)."""
    from hashwall.media.provenance import file_provenance

    data = record.as_json()
    found = file_provenance(Path(record.path))
    if found is not None:
        data["provenance"] = found
    return data
