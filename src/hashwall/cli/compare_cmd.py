"""``hashwall compare A B``: distance per signal and a verdict at Meta's default thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hashwall.cli.options import (
    BordersOption,
    ExifOption,
    MaxPixelsOption,
    MaxVideoSecondsOption,
    ModeOption,
    SecondsOption,
    build_hash_options,
)
from hashwall.cli.output import EXIT_USAGE, report_error
from hashwall.hashing.options import HashMode, HashOptions
from hashwall.media.limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_VIDEO_SECONDS

if TYPE_CHECKING:  # numpy, Pillow, FFmpeg and Rich load when the command runs
    from rich.table import Table

    from hashwall.hashing.record import HashRecord
    from hashwall.signals.base import SignalComparison

EXIT_MATCH = 0
EXIT_NO_MATCH = 1


def guess_signal(value: str) -> str:
    """Name the signal a bare hash string most likely is (64 hex digits are read as PDQ)."""
    text = value.strip()
    if "," in text:
        return "vpdq"
    return "md5" if len(text) == 32 else "pdq"


def resolve(argument: str, signal: str | None, options: HashOptions) -> HashRecord:
    """A file is hashed; anything else must be a hash string."""
    from hashwall.hashing.pipeline import hash_file
    from hashwall.hashing.record import record_from_signal_value

    path = Path(argument)
    if path.exists():
        return hash_file(path, options)
    return record_from_signal_value(signal or guess_signal(argument), argument)


def _table(results: list[SignalComparison]) -> Table:
    from rich.table import Table

    table = Table(title="Comparison at default thresholds")
    for column in ("signal", "distance", "query %", "compared %", "match", "note"):
        table.add_column(column)
    for result in results:
        table.add_row(
            result.signal,
            "-" if result.distance is None else str(result.distance),
            "-" if result.query_match_percent is None else f"{result.query_match_percent:.1f}",
            "-"
            if result.compared_match_percent is None
            else f"{result.compared_match_percent:.1f}",
            "[green]yes[/]" if result.is_match else "no",
            result.note,
        )
    return table


def compare_command(
    a: Annotated[str, typer.Argument(help="A file, or a hash string (PDQ hex, MD5 hex, vPDQ).")],
    b: Annotated[str, typer.Argument(help="A file, or a hash string. B is the 'compared' side.")],
    signal: Annotated[
        str | None,
        typer.Option(
            "--signal",
            "-s",
            help="Signal type of hash strings (pdq, md5, sha256, vpdq); "
            "64 hex digits are read as pdq unless this says sha256.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    mode: ModeOption = HashMode.EXACT,
    exif: ExifOption = True,
    borders: BordersOption = True,
    seconds_per_hash: SecondsOption = 1.0,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    max_video_seconds: MaxVideoSecondsOption = DEFAULT_MAX_VIDEO_SECONDS,
) -> None:
    """Compare two files or hashes: distance per signal and a match verdict.

    Thresholds are Meta's defaults: PDQ matches at distance <= 31 when both qualities are >= 50
    (rotations, flips and removed bars are tried); vPDQ matches when >= 80 % of A's unique
    good-quality frames have a frame within distance 31 in B (A is the query), and reports the
    share of B's frames matched by A too; MD5/SHA-256 match only identical bytes.

    Exit code: 0 match, 1 no match, 2 bad input.

    Examples:

      hashwall compare original.jpg reupload.jpg

      hashwall compare photo.jpg f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22
    """
    from hashwall.hashing.batch import single_threaded_numerics
    from hashwall.hashing.record import RecordFormatError
    from hashwall.matching import compare_records
    from hashwall.media.errors import MediaError
    from hashwall.signals.base import InvalidSignalValue

    single_threaded_numerics()
    options = build_hash_options(
        mode, exif, borders, seconds_per_hash, max_pixels, max_video_seconds
    )
    try:
        left = resolve(a, signal, options)
        right = resolve(b, signal, options)
    except (MediaError, InvalidSignalValue, RecordFormatError, ValueError) as error:
        report_error(str(error))
        raise typer.Exit(EXIT_USAGE) from None
    results = compare_records(left, right)
    if not results:
        report_error("the two inputs share no signal type that can be compared")
        raise typer.Exit(EXIT_USAGE)
    verdict = any(result.is_match for result in results)
    if as_json:
        payload = {"a": a, "b": b, "match": verdict, "signals": [vars(r) for r in results]}
        typer.echo(json.dumps(payload))
    else:
        from rich.console import Console

        console = Console()
        console.print(_table(results))
        console.print("[bold green]MATCH[/]" if verdict else "[bold]NO MATCH[/]")
    raise typer.Exit(EXIT_MATCH if verdict else EXIT_NO_MATCH)
