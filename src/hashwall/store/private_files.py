"""Owner-only permissions for the data directory and the SQLite database.

Why: the database holds requesters' names and e-mail addresses (removal requests) and the
data directory the secret key, yet both were created with the default umask (0755 directory,
0644 file), readable by every account on the machine. The data directory is now 0700 and the
database file 0600; SQLite gives its ``-wal`` and ``-shm`` files the database file's mode.
``hashwall serve`` also sets the umask to 077, so whatever else a worker writes there (index
snapshots) is the owner's only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("hashwall.store")

_OTHERS = stat.S_IRWXG | stat.S_IRWXO
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path, *, tighten: bool = True) -> Path:
    """Create ``path`` (and parents) with mode 0700; ``tighten``: also take group and other
    permissions off an existing directory (hashwall's own data directory, not a folder the
    operator merely put a database file in)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if tighten:
        _tighten(path, 0o700)
    return path


def private_sqlite_file(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite does (it would use 0644), and
    tighten an existing one and its side files (``-wal``, ``-shm``)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for candidate in (path, *(path.with_name(path.name + side) for side in _SQLITE_SIDE_FILES)):
        if candidate.exists():
            _tighten(candidate, 0o600)


def _tighten(path: Path, mode: int) -> None:
    info = path.stat()
    if info.st_mode & _OTHERS and info.st_uid == os.geteuid():
        os.chmod(path, mode)
        log.info("took group and other permissions off %s (now %o)", path, mode)
