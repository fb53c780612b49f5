"""``hashwall scan``: find known images in folders, web archives and reported URLs;
``hashwall scan report``: turn the findings into a case file for ``hashwall notice``.

Needs ``pip install 'hashwall[scan]'`` (warcio; ray for ``--ray``). Everything heavy loads
inside the commands, so ``hashwall --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

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
from hashwall.hashing.options import HashMode
from hashwall.media.limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_VIDEO_SECONDS
from hashwall.signals.thresholds import PDQ_DISTANCE_THRESHOLD, PDQ_QUALITY_THRESHOLD

if TYPE_CHECKING:
    from hashwall.scan.summary import Summary

EXIT_USAGE = 2


class _ScanGroup(TyperGroup):
    """``hashwall scan SOURCES...`` runs a scan; ``hashwall scan report ...`` is the report."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


scan_app = typer.Typer(
    cls=_ScanGroup,
    help="Find known images in folders, WARC/WACZ web archives and URL lists; then write a "
    "case file for removal notices. Examples: hashwall scan crawl.warc.gz -a known.jsonl "
    "-o findings.jsonl; hashwall scan report findings.jsonl -o case.yaml ...",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


@scan_app.command("run")
def scan_command(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SOURCE...",
            help="Folders, files, .warc(.gz) and .wacz archives, s3://bucket/prefix (fsspec).",
        ),
    ] = None,
    against: Annotated[
        list[Path] | None,
        typer.Option("--against", "-a", help="Bank: 'hashwall hash' JSON lines or CSV; repeat."),
    ] = None,
    urls: Annotated[
        list[Path] | None,
        typer.Option("--urls", help="Text file of URLs to fetch (one a line); repeatable."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Findings (JSON lines); default stdout.")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint", help="Resume file: finished sources are skipped on a rerun (needs -o)."
        ),
    ] = None,
    summary_file: Annotated[
        Path | None, typer.Option("--summary", help="Also write the summary JSON here.")
    ] = None,
    skipped: Annotated[
        Path | None,
        typer.Option("--skipped", help="Write one JSON line per skip (source, reason, detail)."),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option("--ray", help="Run on Ray: 'auto' (running cluster) or its address."),
    ] = None,
    max_distance: Annotated[
        int, typer.Option("--max-distance", min=0, max=PDQ_DISTANCE_THRESHOLD)
    ] = PDQ_DISTANCE_THRESHOLD,
    min_quality: Annotated[
        int, typer.Option("--min-quality", min=PDQ_QUALITY_THRESHOLD, max=100)
    ] = PDQ_QUALITY_THRESHOLD,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", min=1, help="Skip payloads larger than this.")
    ] = 256 << 20,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Per URL, seconds.")] = 20.0,
    per_host: Annotated[int, typer.Option("--per-host", min=1, help="Requests at once.")] = 2,
    rate: Annotated[
        float, typer.Option("--rate", min=0.001, help="Requests per second per host.")
    ] = 1.0,
    max_redirects: Annotated[int, typer.Option("--max-redirects", min=0)] = 5,
    allow_private: Annotated[
        bool,
        typer.Option("--allow-private", help="Fetch private/loopback addresses (tests)."),
    ] = False,
    mode: ModeOption = HashMode.EXACT,
    jobs: JobsOption = 0,
    exif: ExifOption = True,
    borders: BordersOption = True,
    seconds_per_hash: SecondsOption = 1.0,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    max_video_seconds: MaxVideoSecondsOption = DEFAULT_MAX_VIDEO_SECONDS,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Scan SOURCES (and --urls lists) for copies of the images in the --against banks.

    Prints one JSON line per match (source, capture/fetch time, signal, distance, bank entry);
    nothing of the media is kept. The summary (items seen, hashed, matched, skips by reason)
    goes to stderr. All local cores by default; --ray runs the same pipeline on Ray.
    """
    from dataclasses import replace

    from hashwall.media.limits import VideoLimits
    from hashwall.scan.banks import BankSpec
    from hashwall.scan.fetch import FetchConfig
    from hashwall.scan.pipeline import ScanConfig
    from hashwall.scan.worker import WorkerConfig

    if not against:
        raise _fail("name at least one bank with --against")
    if not sources and not urls:
        raise _fail("name a folder, file or archive to scan, or a URL list with --urls")
    if checkpoint is not None and output is None:
        raise _fail("--checkpoint needs --output (the findings file it resumes)")
    for written in (output, checkpoint, summary_file, skipped):
        if written is not None and not written.resolve().parent.is_dir():
            raise _fail(f"{written}: its folder does not exist")
    banks = BankSpec(tuple(str(p) for p in against), max_distance, min_quality)
    options = build_hash_options(
        mode, exif, borders, seconds_per_hash, max_pixels, max_video_seconds
    )
    # One FFmpeg thread per worker: the scan already keeps every core busy with workers.
    options = replace(options, video_limits=VideoLimits(threads=1))
    fetch = FetchConfig(
        timeout=timeout,
        max_redirects=max_redirects,
        allow_private=allow_private,
        per_host=per_host,
        interval=1.0 / rate,
    )
    from hashwall.scan.sources.remote import is_remote

    config = ScanConfig(
        WorkerConfig(banks, options),
        paths=tuple(Path(s) for s in sources or () if not is_remote(s)),
        prefixes=tuple(s for s in sources or () if is_remote(s)),
        url_lists=tuple(urls or ()),
        fetch=fetch,
        jobs=jobs_or_default(jobs),
        ray_address=ray,
        max_bytes=max_bytes,
    )
    summary = _run(config, output, checkpoint, progress, skipped)
    text = json.dumps(summary.as_json())
    typer.echo(text, err=True)
    if summary_file is not None:
        summary_file.write_text(text + "\n", encoding="utf-8")


def _run(
    config: Any,
    output: Path | None,
    checkpoint: Path | None,
    progress: bool,
    skipped: Path | None,
) -> Summary:
    from hashwall.matching import HashListError
    from hashwall.scan.banks import load_banks
    from hashwall.scan.checkpoint import Checkpoint, CheckpointError, written_findings
    from hashwall.scan.pipeline import run_scan
    from hashwall.scan.sources import SourceError, check_inputs

    try:
        check_inputs(config.paths, config.url_lists)
        load_banks(config.worker.banks)  # a bad bank fails here, not in every worker
        resume = Checkpoint(checkpoint) if checkpoint else None
    except (SourceError, HashListError, CheckpointError) as error:
        raise _fail(str(error)) from None
    written = written_findings(output) if resume and output else set()
    try:
        with (
            _open_findings(output, append=resume is not None) as out,
            _open_findings(skipped, append=resume is not None, stdout=False) as skip_log,
            _progress(progress) as tick,
        ):
            return run_scan(config, out, resume, written, tick, skip_log)
    except ImportError as error:
        raise _fail(f"{error.name} is missing: pip install 'hashwall[scan]'") from None
    except ConnectionError as error:  # --ray auto with no cluster running, or a bad address
        raise _fail(f"cannot reach the Ray cluster ({error})") from None
    except SourceError as error:  # an object-store prefix that cannot be listed
        raise _fail(str(error)) from None
    finally:
        if resume is not None:
            resume.close()


class _open_findings:
    """stdout, or the findings file: truncated for a new scan, appended to when resuming
    (after cutting a partial last line a kill may have left)."""

    def __init__(self, path: Path | None, append: bool, stdout: bool = True) -> None:
        self.path = path
        self.append = append
        self.stdout = stdout
        self.handle: Any = None

    def __enter__(self) -> Any:
        if self.path is None:
            return sys.stdout if self.stdout else None
        if self.append and self.path.exists():
            _cut_partial_line(self.path)
        self.handle = self.path.open("a" if self.append else "w", encoding="utf-8")
        return self.handle

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


def _cut_partial_line(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


class _progress:
    """A one-line Rich status on stderr with items/s, or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.status: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from hashwall.cli.output import stderr_console

        self.status = stderr_console().status("Scanning...")
        self.status.__enter__()
        return self._update

    def _update(self, summary: Summary) -> None:
        data = summary.as_json()
        self.status.update(
            f"Scanning: {data['items_seen']} seen, {data['media_hashed']} hashed, "
            f"{data['matches']} matches, {data['media_per_second']} items/s"
        )

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


@scan_app.command("report")
def report_command(
    findings: Annotated[Path, typer.Argument(help="Findings from 'hashwall scan'.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Case file to write (.yaml or .json).")
    ],
    case_id: Annotated[str, typer.Option("--case-id", help="Letters, digits, . _ -")],
    name: Annotated[str, typer.Option("--requester-name", help="Who sends the notices.")],
    email: Annotated[str, typer.Option("--requester-email")],
    description: Annotated[
        str, typer.Option("--description", help="Neutral description of the image.")
    ],
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", help="US, AU, UK or EU.")],
    relation: Annotated[
        str, typer.Option("--relation", help="depicted_person or authorised.")
    ] = "authorised",
    authority: Annotated[
        str | None, typer.Option("--authority", help="On whose behalf (with authorised).")
    ] = None,
    host_jurisdiction: Annotated[
        str | None, typer.Option("--host-jurisdiction", help="Default: --jurisdiction.")
    ] = None,
    signature: Annotated[
        str | None,
        typer.Option("--signature", help="Typed full name signing the notices (or add later)."),
    ] = None,
) -> None:
    """Group findings by host and write a case file for 'hashwall notice generate'.

    Prints one JSON line per host (URLs, findings). Then: hashwall notice generate --case
    CASE -o notices/ writes one notice per host.
    """
    from hashwall.cases.casefile import CaseFile, CaseFileError, save_case
    from hashwall.scan.report import ReportError, Requester, case_mapping, group_by_host
    from hashwall.scan.report import read_findings as read

    who = Requester(
        name,
        email,
        relation,
        jurisdiction,
        description,
        case_id,
        host_jurisdiction,
        authority,
        signature,
    )
    try:
        groups, without_url = group_by_host(read(findings))
        case = CaseFile.model_validate(case_mapping(groups, who))
        save_case(case, output)
    except (ReportError, CaseFileError) as error:
        raise _fail(str(error)) from None
    except ValueError as error:  # pydantic's ValidationError: the first bad field is enough
        first = str(error).splitlines()
        raise _fail(f"the case file would be invalid: {' '.join(first[:3])}") from None
    except OSError as error:
        raise _fail(f"{output}: cannot write ({error})") from None
    for group in groups:
        typer.echo(json.dumps(group.summary()))
    if without_url:
        typer.echo(f"{without_url} finding(s) without an http(s) URL left out", err=True)
    typer.echo(f"case file written: {output}", err=True)
