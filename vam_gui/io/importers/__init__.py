"""Importers of existing labels into a study, for review (design.md §7).

Formats: our JSON, COCO keypoints, the scoliosis-challenge ``.mat`` and CSV layouts, and
per-endplate CSV. Labels in another schema of the same view are converted (spine-ap-68 ->
lumbar-ap-20 keeps L1-L5); AP <-> lateral is refused. Every image is written as one logged
"import" edit, with source "imported" (our JSON keeps the sources and status it carries), all
of them in one store transaction (``study.apply_edits``). Records that match no image, and
files that are not of the format at all (a stray file in a folder), are reported in the
returned ImportReport, not fatal.

All or nothing: every file is read and every record checked before the write. A file of
the format with a bad record (a value that is not a finite number or lies far outside its
image, a wrong type, a keypoint named twice or unknown to the labels' schema, only some
keypoints of an image without ``partial``) raises one LabelImportError, whose ``str()`` is one
line naming the file and the record, and the study is left unchanged; a store write that fails
(a full disk, the write lock lost) raises one StudyWriteError line and writes no image at all.
No Qt, no torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from vam_gui.io.importers.coco import read_coco
from vam_gui.io.importers.common import ImportReport, LabelRecord, apply_records
from vam_gui.io.importers.convert import (
    LabelImportError,
    ViewMismatchError,
    convert_points,
    index_map,
    infer_schema,
)
from vam_gui.io.importers.endplates import read_endplates
from vam_gui.io.importers.ours import read_ours
from vam_gui.io.importers.scoliosis import read_scoliosis_csv, read_scoliosis_mat

if TYPE_CHECKING:
    from vam_gui.io.study import Study



class Reader(Protocol):
    def __call__(self, paths: Iterable[str | os.PathLike[str]], study: Study, *,
                 partial: bool = False) -> Iterator[LabelRecord]: ...


READERS: dict[str, Reader] = {
    "json": read_ours,
    "coco": read_coco,
    "scoliosis-mat": read_scoliosis_mat,
    "scoliosis-csv": read_scoliosis_csv,
    "endplates": read_endplates,
}
FORMATS = tuple(READERS)


def import_labels(study: Study, fmt: str, paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], *,
                  user: str | None = None, partial: bool = False, reader: str | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> ImportReport:
    """Read ``paths`` as ``fmt`` (one of FORMATS) and write the labels into ``study``.

    Everything is read and checked before the first write, so a file that cannot be imported
    (LabelImportError, one line) changes nothing. ``partial``: an image whose labels name only
    some keypoints of their schema is imported (those keypoints only, the others untouched)
    instead of refused. ``progress(done, total)`` counts the images written: (0, total) before
    the one write, (total, total) once it is committed. ``reader``: the labels are that
    reader's annotations, not the consensus (see ``apply_records``)."""
    from vam_gui.core.commands import default_user

    try:
        read = READERS[fmt]
    except KeyError:
        raise LabelImportError(f"unknown import format {fmt!r}; one of {', '.join(FORMATS)}") from None
    if reader is not None and not reader.strip():
        raise LabelImportError("the reader's name is empty")
    if reader is not None and not study.has_readers:
        raise LabelImportError(f"{study.path.name} (format {study.format_version}) keeps no readers: open it "
                               "for writing once to migrate it")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    records = list(read(list(paths), study, partial=partial))
    if not records:
        raise LabelImportError("no label files found")
    return apply_records(study, records, fmt, user=user or default_user(), progress=progress, cancel=cancel,
                         reader=reader)


__all__ = [
    "FORMATS", "ImportReport", "LabelImportError", "LabelRecord", "READERS", "ViewMismatchError",
    "convert_points", "import_labels", "index_map", "infer_schema",
]
