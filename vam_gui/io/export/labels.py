"""Label exports: our JSON, COCO keypoints and CSV (design.md §7).

Coordinates are (x, y) in original-image pixels with the pixel convention of design.md §2
(the centre of pixel (row i, column j) is x = j, y = i) in every format, COCO included.
Every name and id written is a pseudonym unless ``keep_names`` (see ``pseudonyms``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui import __version__
from vam_gui.core.atomic import write_bytes_atomic, write_json_atomic
from vam_gui.io.export.common import (
    Cancel,
    ExportOptions,
    ExportReport,
    Progress,
    check_cancel,
    collector_paused,
    prepare_out_dir,
    select_images,
)
from vam_gui.io.export.images import write_image_copies
from vam_gui.io.export.pseudonyms import Namer, content_key
from vam_gui.io.labels_file import FORMAT, VERSION, ExportOrigin, LabelEntry, keypoints_json, labels_json, timestamp
from vam_gui.io.labels_file import labels_document as build_document

if TYPE_CHECKING:
    from vam_gui.core.annotation import Annotation
    from vam_gui.core.measure import Measurements
    from vam_gui.core.schema import Schema
    from vam_gui.io.study import ImageInfo, StoredPrediction, Study

JSON_FORMAT = FORMAT  # the layout is vam_gui.io.labels_file's
JSON_VERSION = VERSION
JSON_FILE = "vam-labels.json"
COCO_FILE = "coco-keypoints.json"
CSV_FILE = "keypoints.csv"
MEASUREMENTS_CSV = "measurements.csv"
MEASUREMENT_COLUMNS = ("image_id", "file", "measurement", "value", "unit", "note")
CSV_COLUMNS = ("image_id", "file", "index", "name", "vertebra", "corner", "x_px", "y_px", "x_mm", "y_mm",
               "visible", "source", "confidence", "status")


@dataclass
class _Row:
    """One selected image with everything a label file says about it."""

    info: ImageInfo
    xy: np.ndarray  # [K, 2], NaN where unset
    visible: np.ndarray  # [K] bool
    source: list[str]
    confidence: np.ndarray | None  # [K] of the latest prediction
    model: str | None
    id: str  # pseudonym
    file: str  # pseudonym file name, or the original name with keep_names


def _rows(study: Study, options: ExportOptions, progress: Progress | None, cancel: Cancel | None,
          namer: Namer) -> Iterator[_Row]:
    infos = select_images(study, options)
    ids = [info.image_id for info in infos]
    # one query each for every image's points and predictions (two per image took a fifth of the time)
    annotations, predictions = study.annotations(ids), study.predictions(ids)
    for n, info in enumerate(infos, 1):
        check_cancel(cancel)
        yield _row(info, annotations[info.image_id], predictions.get(info.image_id), namer)
        if progress is not None:
            progress(n, len(infos))


def _row(info: ImageInfo, ann: Annotation, pred: StoredPrediction | None, namer: Namer) -> _Row:
    return _Row(info=info, xy=ann.xy, visible=ann.visible, source=[str(s) for s in ann.source],
                confidence=None if pred is None else pred.confidence,
                model=None if pred is None else pred.model_id,
                id=namer.image_id(info.image_id), file=namer.file_name(info.image_id, info.rel_path))


def _with_images(fmt: str, study: Study, options: ExportOptions, out: Path, progress: Progress | None,
                 cancel: Cancel | None) -> tuple[Namer, ExportReport]:
    """The namer of a label export and its report; a pseudonymised export first writes the
    de-identified image copies its labels name (:mod:`vam_gui.io.export.images`)."""
    report = ExportReport(fmt, out)
    if options.keep_names or not options.write_images:
        return Namer(study.study_uid, keep_names=options.keep_names), report
    namer = Namer(study.study_uid)
    copies = write_image_copies(study, select_images(study, options), out, namer, progress=progress, cancel=cancel)
    report.files += copies.files
    report.skipped += copies.skipped
    report.notes += copies.notes
    return Namer(study.study_uid, file_names=copies.names), report


def _batch(schema: Schema, rows: list[_Row], measure: Callable[..., list[Any]]) -> list[Any]:
    """``measure`` (measure_many or measurement_dicts) of every row at once: one image at a
    time, measuring was most of a large export's run."""
    if not rows:
        return []
    return measure(schema, np.stack([row.xy for row in rows]), np.stack([row.visible for row in rows]),
                   spacings=[row.info.spacing for row in rows], facings=[row.info.facing for row in rows],
                   spacing_is_detector=[row.info.spacing_is_detector for row in rows])


def _measurements(schema: Schema, rows: list[_Row]) -> list[Measurements]:
    from vam_gui.core.measure_batch import measure_many

    return _batch(schema, rows, measure_many)


def _entry(namer: Namer, row: _Row, measurements: dict[str, Any]) -> LabelEntry:
    info = row.info
    return LabelEntry(
        id=row.id, file=row.file, width=info.width, height=info.height, spacing=info.spacing,
        status=info.status, facing=info.facing, xy=row.xy, visible=row.visible, sources=row.source,
        confidence=row.confidence, content_key=content_key(namer.study, info.content_hash),
        spacing_is_detector=info.spacing_is_detector, comment=info.comment, reviewer=info.reviewer,
        model=row.model, measurements=measurements)


def labels_document(study: Study, options: ExportOptions = ExportOptions(), *, progress: Progress | None = None,
                    cancel: Cancel | None = None, namer: Namer | None = None) -> dict[str, Any]:
    """Our JSON labels as a dict (what :func:`export_json` writes); ``namer`` names the files
    (by default pseudonyms with the source's suffix, or the original names)."""
    schema = study.schema
    namer = namer or Namer(study.study_uid, keep_names=options.keep_names)
    rows = list(_rows(study, options, progress, cancel, namer))
    from vam_gui.core.measure_batch import measurement_dicts

    entries = [_entry(namer, row, m) for row, m in zip(rows, _batch(schema, rows, measurement_dicts))]
    # content_key = sha256(salt, sha256 of the image file): matches re-imports by content
    origin = ExportOrigin(study=namer.study, selection=options.describe(), content_key_salt=namer.study)
    doc = build_document(schema, entries, origin=origin)
    if options.readers:
        readings = {phase: study.readings(phase) for phase in ("blind", "revised")}
        for image, row in zip(doc["images"], rows):
            image["readers"] = _readers(schema, {phase: by_image.get(row.info.image_id, {})
                                                 for phase, by_image in readings.items()})
    return doc


def _readers(schema: Schema, by_phase: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """reader -> phase -> {status, at, keypoints}: one image's readings in a JSON export."""
    out: dict[str, Any] = {}
    for phase, by_reader in by_phase.items():
        for reader, reading in sorted(by_reader.items()):
            ann = reading.annotation
            out.setdefault(reader, {})[phase] = {
                "status": reading.status, "at": reading.at,
                "keypoints": keypoints_json(schema, ann.xy, ann.visible, ann.source)}
    return out


@collector_paused()
def export_json(study: Study, out_dir: str | os.PathLike[str], options: ExportOptions = ExportOptions(), *,
                progress: Progress | None = None, cancel: Cancel | None = None) -> ExportReport:
    """Write ``vam-labels.json`` (format "vam-gui-labels") into ``out_dir``."""
    out = prepare_out_dir(out_dir)
    namer, report = _with_images("json", study, options, out, progress, cancel)
    doc = labels_document(study, options, progress=progress, cancel=cancel, namer=namer)
    check_cancel(cancel)
    report.files.insert(0, write_bytes_atomic(out / JSON_FILE, labels_json(doc)))
    report.images = len(doc["images"])
    return report


def _bbox(points: np.ndarray) -> list[float]:
    if len(points) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def coco_document(study: Study, options: ExportOptions = ExportOptions(), *, progress: Progress | None = None,
                  cancel: Cancel | None = None, namer: Namer | None = None) -> dict[str, Any]:
    """COCO keypoints: one image and one annotation per radiograph, one "spine" category.
    A point is labelled (v = 2) when it is visible and has a position; otherwise v = 0 with
    x = y = 0, as COCO requires."""
    schema = study.schema
    namer = namer or Namer(study.study_uid, keep_names=options.keep_names)
    images, annotations = [], []
    for n, row in enumerate(_rows(study, options, progress, cancel, namer), 1):
        labelled = row.visible & np.isfinite(row.xy).all(axis=1)
        flat: list[float] = []
        for (x, y), ok in zip(row.xy, labelled):
            flat += [float(x), float(y), 2] if ok else [0.0, 0.0, 0]
        box = _bbox(row.xy[labelled])
        images.append({"id": n, "file_name": row.file, "width": row.info.width, "height": row.info.height,
                       "vam_content_key": content_key(namer.study, row.info.content_hash)})
        annotations.append({"id": n, "image_id": n, "category_id": 1, "keypoints": flat,
                            "num_keypoints": int(labelled.sum()), "bbox": box,
                            "area": box[2] * box[3], "iscrowd": 0})
    return {
        # vam_*: extra fields other COCO readers ignore; they let ours find the same image
        # files again in another study (see pseudonyms.content_key)
        "info": {"description": "vam-gui keypoint export", "version": __version__, "date_created": timestamp(),
                 "vam_content_key_salt": namer.study},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{
            "id": 1, "name": "spine", "supercategory": "spine",
            "keypoints": list(schema.keypoints),
            "skeleton": [[i + 1, j + 1] for i, j in schema.edges],
            "vam_schema": schema.name,  # lets our importer convert without guessing
        }],
    }


@collector_paused()
def export_coco(study: Study, out_dir: str | os.PathLike[str], options: ExportOptions = ExportOptions(), *,
                progress: Progress | None = None, cancel: Cancel | None = None) -> ExportReport:
    """Write ``coco-keypoints.json`` into ``out_dir``."""
    out = prepare_out_dir(out_dir)
    namer, report = _with_images("coco", study, options, out, progress, cancel)
    doc = coco_document(study, options, progress=progress, cancel=cancel, namer=namer)
    check_cancel(cancel)
    report.files.insert(0, write_json_atomic(out / COCO_FILE, doc, indent=None))
    report.images = len(doc["images"])
    return report


def _cell(value: float | None, digits: int | None = 4) -> str:
    # repr keeps every bit of a coordinate; mm are rounded (spacing is not that precise)
    if value is None or not np.isfinite(value):
        return ""
    return repr(float(value)) if digits is None else f"{value:.{digits}f}"


@collector_paused()
def export_csv(study: Study, out_dir: str | os.PathLike[str], options: ExportOptions = ExportOptions(), *,
               progress: Progress | None = None, cancel: Cancel | None = None) -> ExportReport:
    """Write ``keypoints.csv``: one row per image and keypoint, px and mm (mm empty when the
    image has no spacing); and ``measurements.csv``: one row per image and measurement, with
    its unit (mm with spacing, px without)."""
    out = prepare_out_dir(out_dir)
    schema = study.schema
    namer, report = _with_images("csv", study, options, out, progress, cancel)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    mbuf = io.StringIO()
    mwriter = csv.writer(mbuf, lineterminator="\n")
    mwriter.writerow(MEASUREMENT_COLUMNS)
    rows = list(_rows(study, options, progress, cancel, namer))
    for row, measurements in zip(rows, _measurements(schema, rows)):
        for name, value, unit, note in measurements.rows():
            mwriter.writerow([row.id, row.file, name, "" if value is None else value, unit, note])
        spacing = row.info.spacing
        for i, name in enumerate(schema.keypoints):
            x, y = float(row.xy[i, 0]), float(row.xy[i, 1])
            x_mm = x * spacing[1] if spacing is not None else None
            y_mm = y * spacing[0] if spacing is not None else None
            conf = None if row.confidence is None else float(row.confidence[i])
            writer.writerow([row.id, row.file, i, name, schema.vertebrae[schema.vertebra[i]],
                             schema.corner_names[schema.corner[i]], _cell(x, None), _cell(y, None),
                             _cell(x_mm), _cell(y_mm), int(bool(row.visible[i])), row.source[i],
                             _cell(conf), row.info.status])
    check_cancel(cancel)
    path = write_bytes_atomic(out / CSV_FILE, buf.getvalue().encode("utf-8"))
    mpath = write_bytes_atomic(out / MEASUREMENTS_CSV, mbuf.getvalue().encode("utf-8"))
    report.files[:0] = [path, mpath]
    report.images = len(rows)
    return report
