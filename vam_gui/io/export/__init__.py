"""Exports of a study: label files (our JSON, COCO keypoints, CSV) and training datasets.

Every export takes a Study and :class:`ExportOptions`, reports ``progress(done, total)``,
stops when ``cancel()`` turns true (raising InterruptedError before anything is renamed into
place), writes every file atomically, and de-identifies by default: exported names and ids
are stable per-study pseudonyms (``pseudonyms``), never patient data, original UIDs or
original file names. A pseudonymised label export writes de-identified copies of its images
beside the labels (``images``); a key file (pseudonym -> original path) only where asked and
never inside the export folder (``folders``). ``dicom-sr`` writes TID 1500 measurement reports
(``sr``). No torch here at import time; no Qt at all.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vam_gui.io.export.common import Cancel, ExportError, ExportOptions, ExportReport, Progress, select_images
from vam_gui.io.export.dataset import export_dataset
from vam_gui.io.export.folders import check_key_file, default_export_folder, write_key_file
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
from vam_gui.io.export.sr import export_dicom_sr

if TYPE_CHECKING:
    from vam_gui.io.study import Study

EXPORTERS = {"json": export_json, "coco": export_coco, "csv": export_csv, "dataset": export_dataset,
             "dicom-sr": export_dicom_sr}
FORMATS = tuple(EXPORTERS)


def export_study(study: Study, fmt: str, out_dir: str | os.PathLike[str], options: ExportOptions = ExportOptions(), *,
                 progress: Progress | None = None, cancel: Cancel | None = None) -> ExportReport:
    """Export ``study`` as ``fmt`` (one of FORMATS) into the folder ``out_dir``; then, when
    ``options.key_file`` is set, write the key file there (refused, before anything is
    written, when it would be inside ``out_dir``)."""
    try:
        exporter = EXPORTERS[fmt]
    except KeyError:
        raise ExportError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}") from None
    check_key_file(options.key_file, out_dir)
    report = exporter(study, out_dir, options, progress=progress, cancel=cancel)
    if options.key_file is not None:
        report.key_file = write_key_file(study, select_images(study, options), options.key_file)
    return report


__all__ = [
    "COCO_FILE", "CSV_FILE", "EXPORTERS", "FORMATS", "JSON_FILE", "Cancel", "ExportError", "ExportOptions",
    "ExportReport", "Progress", "coco_document", "default_export_folder", "export_coco", "export_csv",
    "export_dataset", "export_dicom_sr", "export_json", "export_study", "image_pseudonym", "labels_document",
    "select_images", "study_pseudonym",
]
