"""Atomic file writes: a temporary file in the same folder, then a rename into place."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ordinary_permissions(path: str | os.PathLike[str]) -> None:
    """Give a file the permissions a plain open() would (0666 less the umask)."""
    os.chmod(path, 0o666 & ~_umask())


def new_temp_file(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path``, with the permissions a plain open() would give
    (mkstemp makes it private, 0600, which a shared export or a package file must not be)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    ordinary_permissions(tmp)
    return fd, tmp


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = new_temp_file(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> Path:
    text = json.dumps(obj, indent=indent, allow_nan=False)
    return write_bytes_atomic(path, (text + "\n").encode("utf-8"))
