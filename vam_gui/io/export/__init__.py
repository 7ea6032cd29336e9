"""Exports of a study: label files (our JSON, COCO keypoints, CSV) and training datasets.

Every export takes a Study and :class:`ExportOptions`, reports ``progress(done, total)``,
stops when ``cancel()`` turns true (raising InterruptedError before anything is renamed into
place), writes every file atomically, and de-identifies by default: exported names and ids
are stable per-study pseudonyms (``pseudonyms``), never patient data, original UIDs or
original file names. No torch here at import time; no Qt at all.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vam_gui.io.export.common import Cancel, ExportError, ExportOptions, ExportReport, Progress, select_images
from vam_gui.io.export.dataset import export_dataset
from vam_gui.io.export.labels import (
    COCO_FILE,
    CSV_FILE,
    JSON_FILE,
    coco_document,
    export_coco,
    export_csv,
    export_json,
    labels_document,
)
from vam_gui.io.export.pseudonyms import image_pseudonym, study_pseudonym

if TYPE_CHECKING:
    from vam_gui.io.study import Study

EXPORTERS = {"json": export_json, "coco": export_coco, "csv": export_csv, "dataset": export_dataset}
FORMATS = tuple(EXPORTERS)


def export_study(study: Study, fmt: str, out_dir: str | os.PathLike[str], options: ExportOptions = ExportOptions(), *,
                 progress: Progress | None = None, cancel: Cancel | None = None) -> ExportReport:
    """Export ``study`` as ``fmt`` (one of FORMATS) into the folder ``out_dir``."""
    try:
        exporter = EXPORTERS[fmt]
    except KeyError:
        raise ExportError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}") from None
    return exporter(study, out_dir, options, progress=progress, cancel=cancel)


__all__ = [
    "COCO_FILE", "CSV_FILE", "EXPORTERS", "FORMATS", "JSON_FILE", "Cancel", "ExportError", "ExportOptions",
    "ExportReport", "Progress", "coco_document", "export_coco", "export_csv", "export_dataset", "export_json",
    "export_study", "image_pseudonym", "labels_document", "select_images", "study_pseudonym",
]
