"""What can go wrong with a study file, as exception types with one-line messages.

``StudyError`` is the base (a file that cannot be created, opened, read or changed as asked);
``StudyWriteError`` says why a write did not happen (the disk is full, the study is read-only,
another writer holds it, an I/O error), ``DamagedRowError`` names the table and row that could
not be read. ``write_error`` and ``read_error`` turn SQLite's and the OS's errors into them.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

# Below this much free space an I/O error while writing is reported as a full disk (SQLite
# reports a write cut short as SQLITE_FULL, but a write refused outright as an I/O error).
_NEARLY_FULL_BYTES = 1 << 20


class StudyError(Exception):
    """A study file that cannot be created, opened or changed as asked."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(self.path, reason)

    def __str__(self) -> str:
        return f"{self.path.name}: {self.reason}"


class StudyWriteError(StudyError):
    """A write that did not happen; the study is as it was before the call."""


class DamagedRowError(StudyError):
    """A row that cannot be read as what it should hold (bad JSON, a non-number coordinate,
    a blob that is not zlib, an unknown status). Other rows stay readable."""

    def __init__(self, path: str | os.PathLike[str], *, table: str, row: int | str, problem: str) -> None:
        self.table = table
        self.row = row
        self.problem = problem
        where = f"row {row}" if isinstance(row, int) else row
        super().__init__(path, f"damaged row in table {table} ({where}): {problem}")


def _sqlite_why(exc: sqlite3.Error) -> str | None:
    """SQLite's error class for ``exc`` in words, or None when it is not about the file."""
    name = str(getattr(exc, "sqlite_errorname", ""))  # Python 3.11+; the message text before
    text = str(exc).lower()
    if name.startswith("SQLITE_FULL") or "database or disk is full" in text:
        return "the disk is full"
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return "the study file or its folder is read-only"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return "locked by another writer (another program is writing to it)"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        return "damaged study file"
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) or "disk i/o error" in text:
        return "I/O error"
    return None


def _os_why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EFBIG:
        return "the file size limit is reached"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the study file or its folder is read-only"
    return "I/O error"


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.resolve().parent).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def _size_limited(path: Path) -> bool:
    """Whether the process's file size limit (``ulimit -f``) is what stopped the write."""
    try:
        import resource
    except ImportError:  # not POSIX
        return False
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if soft == resource.RLIM_INFINITY:
        return False
    sizes = [p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return max(sizes, default=0) >= soft - _NEARLY_FULL_BYTES


def write_error(path: Path, exc: sqlite3.Error | OSError, *, action: str = "not saved") -> StudyWriteError:
    """The one-line StudyWriteError for a failed write (already rolled back)."""
    why = _os_why(exc) if isinstance(exc, OSError) else _sqlite_why(exc) or "cannot write"
    if why == "I/O error" and _nearly_full(path):
        why = "the disk is full"
    elif why == "I/O error" and _size_limited(path):
        why = "the file size limit (ulimit -f) is reached"
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return StudyWriteError(path, f"{action}: {why} ({detail}); nothing was changed")


def read_error(path: Path, exc: sqlite3.Error) -> StudyError:
    """The one-line StudyError for a failed read."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    why = _sqlite_why(exc)
    if why == "damaged study file":
        return StudyError(path, f"damaged study file ({detail})")
    return StudyError(path, f"cannot read the study: {why or 'database error'} ({detail})")
