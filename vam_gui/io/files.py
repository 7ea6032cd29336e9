"""Files on disk: content hashes and folder expansion, each defined once.

``file_sha256`` is the content hash a study records per image (and, shortened, the model id
of a checkpoint); ``files_in`` is how a folder given on the command line, to the study or to
an importer becomes the list of files in it; ``available_cores`` is how many threads a pool
(hashing, decoding, torch) may use.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system says it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def files_in(folder: str | os.PathLike[str], *, recursive: bool = True,
             accept: Callable[[Path], bool] | None = None, hidden: bool = False) -> list[Path]:
    """The files under ``folder`` (recursively by default), sorted; names starting with "."
    are left out unless ``hidden``; ``accept`` filters further (e.g. by suffix)."""
    root = Path(folder)
    found = root.rglob("*") if recursive else root.glob("*")
    return sorted(f for f in found if f.is_file() and (hidden or not f.name.startswith("."))
                  and (accept is None or accept(f)))
