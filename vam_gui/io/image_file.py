"""A radiograph file on disk: the one error type every reader raises, and checked access
to the file's bytes (a missing file, a folder, a device or an empty file is refused in
one line before any reader looks at it).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["NOT_AN_IMAGE", "TRUNCATED", "RadiographError", "describe", "os_reason", "read_bytes", "read_regular_file",
           "read_head"]

NOT_AN_IMAGE = "not a readable image (PNG, JPEG, TIFF or DICOM expected)"
TRUNCATED = "truncated file"


class RadiographError(Exception):
    """A radiograph could not be read. ``path`` is the file, ``reason`` a short sentence."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = str(reason)
        super().__init__(self.path, self.reason)  # args round-trip through pickle

    def __str__(self) -> str:
        name = self.path.name or str(self.path)
        return f"{name}: {self.reason}"


def os_reason(exc: OSError) -> str:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not an image file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot read the file ({exc.strerror or exc})"


def _regular_file(path: Path) -> None:
    """Raise unless ``path`` is a non-empty regular file (a pipe or device is never read)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise RadiographError(path, os_reason(exc)) from exc
    if stat.S_ISDIR(st.st_mode):
        raise RadiographError(path, "is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise RadiographError(path, "not a regular file")
    if st.st_size == 0:
        raise RadiographError(path, "empty file (0 bytes)")


def read_head(path: Path, n: int) -> bytes:
    """Check that ``path`` is a non-empty regular file and return its first ``n`` bytes."""
    _regular_file(path)
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise RadiographError(path, os_reason(exc)) from exc


def read_regular_file(path: Path) -> bytes:
    """Check that ``path`` is a non-empty regular file and return all its bytes."""
    _regular_file(path)
    return read_bytes(path)


def read_bytes(path: Path) -> bytes:
    # Python file I/O (unlike cv2.imread) copes with non-ASCII paths on every platform.
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RadiographError(path, os_reason(exc)) from exc
    if not data:
        raise RadiographError(path, "empty file (0 bytes)")
    return data


def describe(exc: BaseException) -> str:
    """A one-line, bounded description of an unexpected exception."""
    text = str(exc).strip()
    if "error: (" in text:  # cv2.error: keep the part after the source location
        text = text.split("error: (", 1)[1]
        text = "(" + text
    line = text.splitlines()[0] if text else ""
    line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
