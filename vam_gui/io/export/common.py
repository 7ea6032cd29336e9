"""What every export shares: options, the image selection, the report, cancel checks."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vam_gui.io.study import ImageInfo, Study

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


class ExportError(ValueError):
    """An export that cannot be made as asked (nothing to export, a bad option)."""


@dataclass(frozen=True)
class ExportOptions:
    """Which images, under which names, and (dataset only) the target geometry.

    Images: accepted ones by default, every image with ``all_images``; flagged images are
    left out unless ``include_flagged`` (a flag means "do not trust these labels").
    A pseudonymised label export (json, coco, csv without ``keep_names``) writes de-identified
    copies of its images beside the labels unless ``write_images`` is false. ``key_file``:
    where to write the pseudonym -> original path table (never inside the export folder).
    ``deidentify_sr`` (dicom-sr): de-identified reports referencing de-identified copies.
    ``readers`` (json): each image also carries every reader's blind and revised annotation.
    """

    all_images: bool = False
    include_flagged: bool = False
    keep_names: bool = False
    sigma: float = 2.0
    size: int = 512
    workers: int = 2
    write_images: bool = True
    key_file: Path | None = None
    deidentify_sr: bool = False
    readers: bool = False  # json: every reader's annotations too (a reader study), not only the consensus

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise ExportError(f"sigma must be positive, got {self.sigma}")
        if self.size <= 0 or self.size % 32:
            raise ExportError(f"S must be a positive multiple of 32, got {self.size}")

    def describe(self) -> dict[str, Any]:
        described = {"images": "all" if self.all_images else "accepted", "include_flagged": self.include_flagged,
                     "names": "original" if self.keep_names else "pseudonyms"}
        if self.readers:
            described["readers"] = True
        return described


@dataclass
class ExportReport:
    format: str
    out_dir: Path
    files: list[Path] = field(default_factory=list)  # the files written (dataset: the manifest)
    images: int = 0  # images exported
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (exported name, reason): failures
    unlabelled: list[str] = field(default_factory=list)  # dataset: left out, no labelled point
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (name, reason): not applicable, e.g. no DICOM
    notes: list[str] = field(default_factory=list)  # what the user should know about files written
    key_file: Path | None = None  # the key file written, if asked for


def select_images(study: Study, options: ExportOptions) -> list[ImageInfo]:
    """The ImageInfo rows an export covers, in study order; ExportError when none."""
    rows = []
    for info in study.list_images():
        if info.status == "flagged":
            if options.include_flagged:
                rows.append(info)
        elif options.all_images or info.status == "accepted":
            rows.append(info)
    if not rows:
        what = "image" if options.all_images else "accepted image"
        hint = "" if options.all_images else " (export all images with --all / 'All images')"
        if not options.include_flagged and study.counts_by_status().get("flagged"):
            hint += "; flagged images need --include-flagged"
        raise ExportError(f"nothing to export: the study has no {what}{hint}")
    return rows


def check_cancel(cancel: Cancel | None) -> None:
    if cancel is not None and cancel():
        raise InterruptedError("export cancelled")


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


class _Pauses:
    """How many exports are running with the cyclic collector off, and whether to turn it
    back on when the last one ends."""

    lock = threading.Lock()
    count = 0
    resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a label export builds and encodes its
    document: it makes no cycles, and each pass of the collector walked every object already
    built (a sixth of a large export's run). Concurrent exports share one pause; the collector
    comes back, if it was on, when the last of them ends."""
    with _Pauses.lock:
        if _Pauses.count == 0:
            _Pauses.resume = gc.isenabled()
            gc.disable()
        _Pauses.count += 1
    try:
        yield
    finally:
        with _Pauses.lock:
            _Pauses.count -= 1
            if _Pauses.count == 0 and _Pauses.resume:
                gc.enable()
