"""A Rich progress bar on stderr for long batches (stdout stays clean for JSON lines)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashwall.cli.output import stderr_console

if TYPE_CHECKING:
    from rich.progress import Progress


def batch_progress(enabled: bool) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        disable=not enabled,
        transient=False,
    )
