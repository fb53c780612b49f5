"""Where results go (stdout or an atomically written file) and where errors go (stderr)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # Rich loads on first output, not at start-up (``hashwall --help`` stays fast)
    from rich.console import Console

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2


@cache
def stderr_console() -> Console:
    """The Rich console on stderr (created on first use)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def report_error(message: str, console: Console | None = None) -> None:
    """One line per problem, prefixed so it can be grepped out of a long batch log."""
    (console or stderr_console()).print(
        f"[bold red]error:[/] {message}", markup=True, highlight=False
    )


def json_line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@contextlib.contextmanager
def open_output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file that appears only when complete (temp file + rename)."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    directory = path.resolve().parent
    if not directory.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {directory}")
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".part")
    try:
        with open(descriptor, "w", encoding="utf-8") as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
