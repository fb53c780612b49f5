"""``hashwall exchange``: export and import banks against the database directly.

For air-gapped sharing (signed bundles carried on removable media) and python-threatexchange
files, and for fetching StopNCII's, NCMEC's or a ThreatExchange privacy group's list from a cron
job. Like ``hashwall db upgrade`` these
commands take ``--database-url`` and need no running server: entries they change reach every
running worker through the change log. Server modules are imported inside the commands so
``hashwall hash`` never loads them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hashwall.cli.server_options import DatabaseUrlOption, DataDirOption, server_settings

if TYPE_CHECKING:
    from hashwall.service.exchange.feed import FetchedPage, FetchTotals
    from hashwall.store import Database

exchange_app = typer.Typer(
    help="Share banks: signed hashwall bundles, python-threatexchange files, StopNCII, NCMEC, "
    "ThreatExchange.",
    no_args_is_help=True,
)

BankOption = Annotated[str, typer.Option("--bank", help="Bank name.", show_default=False)]
KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="File whose first line is the shared bundle key (default: $HASHWALL_EXCHANGE_KEY "
        "or $HASHWALL_EXCHANGE_KEY_FILE).",
        show_default=False,
    ),
]
FormatOption = Annotated[
    str,
    typer.Option(
        "--format", help="bundle (signed, all states), pytx or pytx-csv (active entries)."
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"hashwall exchange: {message}", err=True)
    return typer.Exit(code)


def _open(database_url: str | None, data_dir: Path | None) -> Database:
    settings = server_settings(database_url, data_dir)
    from hashwall.store import create_database, upgrade

    db = create_database(settings.resolved_database_url())
    upgrade(db.engine)
    return db


@contextmanager
def _database(
    database_url: str | None, data_dir: Path | None, *, usage: tuple[int, ...] = (409,)
) -> Iterator[Database]:
    """The migrated database for one command, disposed after it.

    An ``ApiError`` from the service code becomes the command's message and exit status: 2
    for the statuses in ``usage`` (the caller can fix it, e.g. a concurrent run), else 1."""
    from hashwall.service.errors import ApiError

    db = _open(database_url, data_dir)
    try:
        yield db
    except ApiError as error:
        raise _fail(error.message, 2 if error.status in usage else 1) from None
    finally:
        db.dispose()


def _bank_id(db: Database, name: str, *, create: dict[str, Any] | None = None) -> int:
    from sqlalchemy import select

    from hashwall.store import Bank, Change, ChangeKind

    with db.session() as session:
        bank_id = session.scalar(select(Bank.id).where(Bank.name == name))
        if bank_id is not None:
            return int(bank_id)
        if create is None:
            raise _fail(f"no bank named {name!r}", 2)
        bank = Bank(
            name=name,
            description=str(create.get("description") or ""),
            negative=bool(create.get("negative")),
        )
        session.add(bank)
        session.flush()
        session.add(Change(kind=ChangeKind.BANK, target_id=bank.id))
        typer.echo(f"created bank {name!r}", err=True)
        return int(bank.id)


@exchange_app.command("export")
def export_command(
    bank: BankOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.", show_default=False)],
    format: FormatOption = "bundle",
    key_file: KeyFileOption = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write a bank to FILE (atomically: a temporary name, renamed when complete)."""
    from hashwall.service.exchange import bundle as bundles
    from hashwall.service.exchange import pytx_files
    from hashwall.service.exchange.keys import bundle_key

    if format not in ("bundle", *pytx_files.FORMATS):
        raise _fail("--format must be bundle, pytx or pytx-csv", 2)
    with _database(database_url, data_dir) as db:
        bank_id = _bank_id(db, bank)
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        try:
            if format == "bundle":
                with os.fdopen(handle, "wb") as binary:
                    info = bundles.export_bundle(db, bank_id, bundle_key(key_file), binary)
                summary: dict[str, Any] = {"entries": info.entries, "sequence": info.sequence}
            else:
                with os.fdopen(handle, "w", encoding="utf-8", newline="") as text:
                    counts = pytx_files.export_pytx(db, bank_id, format, text)
                summary = {"entries": counts.entries, "signals": counts.signals}
                summary["skipped_signals"] = counts.skipped_vpdq
            os.replace(temp, out)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    typer.echo(json.dumps({"bank": bank, "format": format, "out": str(out), **summary}))


@exchange_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A bundle or a pytx file.", exists=True)],
    bank: BankOption,
    format: FormatOption = "auto",
    key_file: KeyFileOption = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Apply FILE to a bank (created when missing), all or nothing."""
    from hashwall.service.exchange import bundle as bundles
    from hashwall.service.exchange import pytx_files

    with _database(database_url, data_dir, usage=(409, 422)) as db:
        with file.open("rb") as handle:
            is_bundle = handle.read(64).lstrip().startswith(b"{")
        kind = format if format != "auto" else ("bundle" if is_bundle else "auto")
        if kind == "bundle":
            from hashwall.service.exchange.keys import bundle_key

            parsed = bundles.read_bundle(file, bundle_key(key_file))
            bank_id = _bank_id(db, bank, create=parsed.bank)
            result = bundles.apply_bundle(db, bank_id, parsed)
            details: dict[str, Any] = {"origin": parsed.origin, "sequence": parsed.sequence}
        else:
            bank_id = _bank_id(db, bank, create={})
            result = pytx_files.import_pytx(db, bank_id, file, kind)
            details = {}
    typer.echo(json.dumps({"bank": bank, **result.as_json(), **details}))


@exchange_app.command("stopncii")
def stopncii_command(
    bank: BankOption,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Fetch StopNCII.org's changes since the bank's checkpoint (HASHWALL_STOPNCII_KEYS)."""
    from hashwall.service.exchange import stopncii
    from hashwall.service.exchange.apply import ApplyResult

    total, pages = ApplyResult(), 0
    with _database(database_url, data_dir) as db:
        client = stopncii.client_from_env()
        _check_egress(database_url, data_dir, client._base_url, "StopNCII")
        bank_id = _bank_id(db, bank, create={"description": "StopNCII.org hashes"})
        for result in stopncii.fetch_pages(db, bank_id, client):
            total.merge(result)
            pages += 1
        mark = stopncii.checkpoint(db, bank_id)
    summary = {**total.as_json(), "pages": pages, "checkpoint": mark.update_time if mark else None}
    typer.echo(json.dumps({"bank": bank, **summary}))


def _check_egress(database_url: str | None, data_dir: Path | None, url: str, source: str) -> None:
    """The API's egress check for a source's URL (an ``ApiError``, exit 2, when refused)."""
    from hashwall.service.exchange.feed import check_egress

    check_egress(server_settings(database_url, data_dir), url, source)


def _drain(pages: Iterator[FetchedPage]) -> FetchTotals:
    from hashwall.service.exchange.feed import FetchTotals

    totals = FetchTotals()
    for page in pages:
        totals.add(page)
    return totals


@exchange_app.command("ncmec")
def ncmec_command(
    bank: BankOption,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Fetch NCMEC hash sharing changes since the bank's checkpoint (HASHWALL_NCMEC_CREDENTIALS)."""
    from hashwall.service.exchange import ncmec

    with _database(database_url, data_dir) as db:
        config = ncmec.config_from_env()
        _check_egress(database_url, data_dir, config.base_url, "NCMEC")
        bank_id = _bank_id(db, bank, create={"description": "NCMEC hash sharing"})
        totals = _drain(ncmec.fetch_pages(db, bank_id, config))
        mark = ncmec.checkpoint(db, bank_id, config)
    summary = {
        **totals.result.as_json(),
        **totals.details(),
        "environment": config.environment,
        "checkpoint": mark.get_entries_max_ts if mark else None,
    }
    typer.echo(json.dumps({"bank": bank, **summary}))


@exchange_app.command("threatexchange")
def threatexchange_command(
    bank: BankOption,
    privacy_group: Annotated[
        int | None,
        typer.Option(
            "--privacy-group",
            min=1,
            help="Privacy group id (default: $HASHWALL_THREATEXCHANGE_PRIVACY_GROUP).",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Fetch a ThreatExchange privacy group's changes since the bank's checkpoint for it
    (HASHWALL_THREATEXCHANGE_TOKEN)."""
    from hashwall.service.exchange import threatexchange_graph as graph

    with _database(database_url, data_dir) as db:
        config = graph.config_from_env(privacy_group)
        _check_egress(database_url, data_dir, config.client()._base_url, "ThreatExchange")
        bank_id = _bank_id(db, bank, create={"description": "ThreatExchange hashes"})
        totals = _drain(graph.fetch_pages(db, bank_id, config))
        mark = graph.checkpoint(db, bank_id, config)
    summary = {
        **totals.result.as_json(),
        **totals.details(),
        "privacy_group": config.privacy_group,
        "checkpoint": mark.update_time if mark else None,
    }
    typer.echo(json.dumps({"bank": bank, **summary}))
