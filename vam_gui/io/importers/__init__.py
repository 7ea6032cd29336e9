"""Importers of existing labels into a study, for review (design.md §7).

Formats: our JSON, COCO keypoints, the scoliosis-challenge ``.mat`` and CSV layouts, and
per-endplate CSV. Labels in another schema of the same view are converted (spine-ap-68 ->
lumbar-ap-20 keeps L1-L5); AP <-> lateral is refused. Every image is written as one logged
``study.apply_edit(kind="import")``, with source "imported" (our JSON keeps the sources and
status it carries). Files that match no image are reported in the returned ImportReport,
not fatal. No Qt, no torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

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

READERS = {
    "json": read_ours,
    "coco": read_coco,
    "scoliosis-mat": read_scoliosis_mat,
    "scoliosis-csv": read_scoliosis_csv,
    "endplates": read_endplates,
}
FORMATS = tuple(READERS)


def import_labels(study: Study, fmt: str, paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], *,
                  user: str | None = None, progress: Callable[[int, int], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> ImportReport:
    """Read ``paths`` as ``fmt`` (one of FORMATS) and write the labels into ``study``.

    Everything is read (and the schema checked) before the first write, so a file that
    cannot be imported at all (LabelImportError) changes nothing."""
    from vam_gui.core.commands import default_user

    try:
        reader = READERS[fmt]
    except KeyError:
        raise LabelImportError(f"unknown import format {fmt!r}; one of {', '.join(FORMATS)}") from None
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    records = list(reader(list(paths), study))
    if not records:
        raise LabelImportError("no label files found")
    return apply_records(study, records, fmt, user=user or default_user(), total=len(records),
                         progress=progress, cancel=cancel)


__all__ = [
    "FORMATS", "ImportReport", "LabelImportError", "LabelRecord", "READERS", "ViewMismatchError",
    "convert_points", "import_labels", "index_map", "infer_schema",
]
