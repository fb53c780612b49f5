"""``hashwall notice``: write removal notices for every host of a survivor's case file, and
track what happened to each URL. Nothing is sent: the survivor sends the files themselves.

Every run that changes something appends to the case's audit chain (``CASE.audit.jsonl``
beside the case file unless ``--audit`` says otherwise). Heavy imports (pydantic, fpdf2,
PyYAML) happen inside the commands, so ``hashwall hash`` never loads them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hashwall.cases.audit import JsonlAuditStore
    from hashwall.cases.casefile import CaseFile

notice_app = typer.Typer(
    help="Removal notices for a survivor's case file (templates, not legal advice).",
    no_args_is_help=True,
)
CaseOption = Annotated[
    Path, typer.Option("--case", "-c", help="The case file (YAML or .json).", dir_okay=False)
]
AuditOption = Annotated[
    Path | None,
    typer.Option("--audit", help="Audit log (default: CASE.audit.jsonl beside the case file)."),
]
FORMATS = ("txt", "eml", "pdf")
DISCLAIMER = (
    "These notices are templates, not legal advice: read each one and check every statement "
    "before you send it."
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _load(path: Path) -> CaseFile:
    from hashwall.cases.casefile import CaseFileError, load_case

    try:
        return load_case(path)
    except CaseFileError as error:
        raise _fail(str(error)) from None


def _audit(case_path: Path, audit: Path | None) -> JsonlAuditStore:
    from hashwall.cases.audit import JsonlAuditStore

    return JsonlAuditStore(audit or case_path.with_name(case_path.name + ".audit.jsonl"))


@notice_app.command("generate")
def generate_command(
    case: CaseOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the notices.")],
    formats: Annotated[
        str, typer.Option("--formats", help="Comma-separated: txt, eml, pdf.")
    ] = "txt,eml,pdf",
    audit: AuditOption = None,
) -> None:
    """Write one notice per host and legal form, e.g. HOST-take_it_down.txt/.eml/.pdf.

    Example: hashwall notice generate --case case.yaml -o notices/"""
    from hashwall.cases.notices import (
        NoticeError,
        guidance,
        render_all,
        to_email,
        under_18_guidance,
    )
    from hashwall.cases.pdf import PdfError, render_pdf

    wanted = [f.strip().lower() for f in formats.split(",") if f.strip()]
    unknown = sorted(set(wanted) - set(FORMATS))
    if unknown or not wanted:
        raise _fail(f"--formats: use txt, eml and/or pdf (not {', '.join(unknown) or 'nothing'})")
    record = _load(case)
    now = datetime.now(UTC)
    try:
        notices = render_all(record, now)
        rendered: dict[str, bytes] = {}
        for notice in notices:
            if "txt" in wanted:
                rendered[f"{notice.stem}.txt"] = notice.body.encode("utf-8")
            if "eml" in wanted:
                rendered[f"{notice.stem}.eml"] = bytes(to_email(notice, record, now))
            if "pdf" in wanted:
                rendered[f"{notice.stem}.pdf"] = render_pdf(notice.subject, notice.body, now)
    except (NoticeError, PdfError) as error:
        raise _fail(str(error)) from None
    output.mkdir(parents=True, exist_ok=True)
    for name, content in rendered.items():
        (output / name).write_bytes(content)
    _audit(case, audit).append(
        actor="requester",
        action="notice.generated",
        case_id=record.case_id,
        data={"notices": [{"host": n.host, "form": n.form.value} for n in notices]},
    )
    for name in rendered:
        typer.echo(str(output / name))
    minor = under_18_guidance(record)
    if minor:  # first and apart, so it cannot be missed
        typer.echo("\n".join(["", *minor, ""]), err=True)
    typer.echo(DISCLAIMER, err=True)
    typer.echo("How to send each notice:", err=True)
    for notice in notices:
        typer.echo(f"  {notice.stem}: {notice.instructions}", err=True)
    for line in guidance(record, notices):
        typer.echo(line, err=True)


@notice_app.command("mark")
def mark_command(
    url: Annotated[str, typer.Argument(help="A URL listed in the case file.")],
    case: CaseOption,
    sent: Annotated[bool, typer.Option("--sent", help="The notice was sent.")] = False,
    acknowledged: Annotated[
        bool, typer.Option("--acknowledged", help="The host confirmed receipt.")
    ] = False,
    removed: Annotated[bool, typer.Option("--removed", help="The content is gone.")] = False,
    on: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD (default: today, UTC).")
    ] = None,
    audit: AuditOption = None,
) -> None:
    """Record a date for one URL, in the case file and the audit log.

    Example: hashwall notice mark https://host.example/p/1 --case case.yaml --sent"""
    from hashwall.cases.casefile import CaseFileError, Milestone, mark, save_case

    chosen = [
        m
        for m, flag in (
            (Milestone.SENT, sent),
            (Milestone.ACKNOWLEDGED, acknowledged),
            (Milestone.REMOVED, removed),
        )
        if flag
    ]
    if len(chosen) != 1:
        raise _fail("give exactly one of --sent, --acknowledged or --removed")
    try:
        when = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        raise _fail(f"--date {on!r}: use YYYY-MM-DD") from None
    record = _load(case)
    try:
        mark(record, url, chosen[0], when)
    except CaseFileError as error:
        raise _fail(str(error)) from None
    save_case(record, case)
    _audit(case, audit).append(
        actor="requester",
        action=f"notice.{chosen[0].value}",
        case_id=record.case_id,
        data={"url": url.strip(), "date": when.isoformat()},
    )
    typer.echo(f"{url.strip()}: {chosen[0].value} {when.isoformat()}")


@notice_app.command("status")
def status_command(case: CaseOption) -> None:
    """One line per URL: host, sent, acknowledged, removed."""
    record = _load(case)
    for host in record.hosts:
        for item in host.urls:
            dates = [
                f"{name}={getattr(item, name) or '-'}"
                for name in ("sent", "acknowledged", "removed")
            ]
            typer.echo(f"{host.name}\t{item.url}\t" + " ".join(dates))


@notice_app.command("evidence")
def evidence_command(
    case: CaseOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="New, empty folder.")],
    audit: AuditOption = None,
    media: Annotated[
        list[Path] | None,
        typer.Option("--include-media", help="Copy this media file into the pack (repeatable)."),
    ] = None,
) -> None:
    """Export the case as an evidence pack: evidence.json, summary.pdf, SHA256SUMS.

    No images are included unless --include-media names them."""
    from hashwall.cases.audit import AuditFormatError
    from hashwall.cases.evidence import EvidenceError, export_pack
    from hashwall.cases.pdf import PdfError

    record = _load(case)
    if output.exists() and any(output.iterdir()):
        raise _fail(f"{output}: not empty; choose a new folder")
    store = _audit(case, audit)
    try:
        store.append(actor="requester", action="case.exported", case_id=record.case_id)
        pack = export_pack(
            case_id=record.case_id,
            case_record=record.model_dump(mode="json", exclude_none=True),
            audit=store,
            out_dir=output,
            now=datetime.now(UTC),
            media=media or [],
            include_media=bool(media),
        )
    except (EvidenceError, PdfError, AuditFormatError) as error:
        raise _fail(str(error)) from None
    typer.echo(f"{pack.folder}: verification hash {pack.verification_hash}")
    if not pack.chain_intact:
        typer.echo("warning: the audit chain is broken; the pack says where", err=True)
