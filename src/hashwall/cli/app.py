"""Entry point: ``hashwall`` and its sub-commands."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hashwall import __version__
from hashwall.cli.audit_cmd import audit_app
from hashwall.cli.compare_cmd import compare_command
from hashwall.cli.hash_cmd import hash_command
from hashwall.cli.likeness_cmd import likeness_app
from hashwall.cli.match_cmd import match_command
from hashwall.cli.notice_cmd import notice_app
from hashwall.cli.scan_cmd import scan_app

app = typer.Typer(
    name="hashwall",
    help=(
        "Fingerprint photos and videos on your own device and match them against known hashes, "
        "to find and remove non-consensual intimate images. Only hashes ever leave the machine.\n\n"
        "Start with: hashwall hash PHOTO_OR_FOLDER, then hashwall compare or hashwall match."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hashwall {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """hashwall: stop the spread of non-consensual intimate imagery."""


app.command("hash")(hash_command)
app.command("compare")(compare_command)
app.command("match")(match_command)
app.add_typer(likeness_app, name="likeness")  # heavy ML imports happen inside its commands
app.add_typer(audit_app, name="audit")  # hashwall.cases / SQLAlchemy load inside its commands
app.add_typer(notice_app, name="notice")  # pydantic, fpdf2, PyYAML load inside its commands
app.add_typer(scan_app, name="scan")  # warcio, Ray and the hashing stack load inside its commands


# Server commands: their modules import FastAPI/SQLAlchemy only when run (survivor installs
# have neither).
def _register_server_commands() -> None:
    from hashwall.cli.db_cmd import db_app
    from hashwall.cli.keys_cmd import keys_app
    from hashwall.cli.serve_cmd import serve_command

    app.command("serve")(serve_command)
    app.add_typer(keys_app, name="keys")
    app.add_typer(db_app, name="db")
    from hashwall.cli.exchange_cmd import exchange_app

    app.add_typer(exchange_app, name="exchange")


_register_server_commands()


#: hashwall parallelises across processes; BLAS threads on top only contend. Set before numpy
#: loads (it loads lazily, inside the commands that hash); the commands also cap loaded pools.
_SINGLE_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    for name in _SINGLE_THREAD_ENV:
        os.environ.setdefault(name, "1")
    app()
