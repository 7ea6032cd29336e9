"""Spine-aware review from the study store: measurements, label checks and the correction
report of an image or a whole study (the numbers come from ``vam_gui.core``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from vam_gui.core.annotation import Annotation
from vam_gui.core.checks import Flag, check
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.measure import Measurements, measure
from vam_gui.core.report import CorrectionReport, correction_report
from vam_gui.core.schema import Schema
from vam_gui.core.store import ImageRecord, PredictionRecord, StudyStore

if TYPE_CHECKING:
    from vam_gui.io.study import Study


def heatmap_peaks(study: StudyStore, image_id: str) -> np.ndarray | None:
    """[K, 2] original px of each stored heatmap's maximum (NaN for an all-zero map), through
    the letterbox of the pass the maps came from; None without stored heatmaps (or when they
    do not match the schema)."""
    return peaks_of(study.heatmaps(image_id), study.prediction(image_id), study.schema.k)


def peaks_of(maps: np.ndarray | None, pred: PredictionRecord | None, k: int) -> np.ndarray | None:
    """:func:`heatmap_peaks` from maps and prediction already read (the window keeps both
    while an image is shown)."""
    if pred is None:
        return None
    return peaks_in(maps, pred.letterbox, k)


def peaks_in(maps: np.ndarray | None, box: Letterbox, k: int) -> np.ndarray | None:
    """:func:`peaks_of` given the letterbox of the pass the maps came from (the store keeps
    these peaks with the prediction, computed from the quantised maps it stores)."""
    if maps is None or maps.ndim != 3 or maps.shape[0] != k:
        return None
    k, h, w = maps.shape
    flat = maps.reshape(k, -1)
    rows, cols = np.divmod(flat.argmax(axis=1), w)
    # maps at the model input's size (the usual case) need no scaling; others are stretched to it
    sx, sy = box.out_w / w, box.out_h / h
    peaks_model = np.stack([(cols + 0.5) * sx - 0.5, (rows + 0.5) * sy - 0.5], axis=1)
    peaks = box.to_original(peaks_model)
    peaks[flat.max(axis=1) == 0] = np.nan
    return peaks


def image_review(study: StudyStore, image_id: str, *, with_measurements: bool = True
                 ) -> tuple[Measurements | None, list[Flag]]:
    """Measurements and flags of one image's current annotation. "Far from its peak" compares
    each point with the maximum of its stored heatmap (:func:`heatmap_peaks`), so it flags a
    point the network's own map disagrees with; images without heatmaps get no such flag.
    The level-shift check compares with the decoded prediction."""
    ann = study.annotation(image_id)
    if ann.is_empty():
        return None, []
    info = study.image_info(image_id)
    pred = study.prediction(image_id)
    peaks = peaks_of(study.heatmaps(image_id), pred, study.schema.k) if pred is not None else None
    return annotation_review(study.schema, ann, info=info, prediction=pred, peaks=peaks,
                             with_measurements=with_measurements)


def annotation_review(schema: Schema, ann: Annotation, *, info: ImageRecord,
                      prediction: PredictionRecord | None, peaks: np.ndarray | None,
                      with_measurements: bool = True) -> tuple[Measurements | None, list[Flag]]:
    """:func:`image_review` of an annotation held in memory, with the image's info, prediction
    and heatmap peaks already read: no query (the window recomputes this after every edit)."""
    if ann.is_empty():
        return None, []
    result = annotation_measurements(schema, ann, info=info) if with_measurements else None
    flags = annotation_flags(schema, ann, spacing=info.spacing, facing=info.facing, peaks=peaks,
                             prediction_xy=prediction.xy if prediction is not None else None)
    return result, flags


def annotation_measurements(schema: Schema, ann: Annotation, *, info: ImageRecord) -> Measurements | None:
    """The measurements :func:`annotation_review` reports (None for an empty annotation)."""
    if ann.is_empty():
        return None
    return measure(schema, ann.xy, ann.visible, spacing=info.spacing, facing=info.facing,
                   spacing_is_detector=info.spacing_is_detector)


def annotation_flags(schema: Schema, ann: Annotation, *, spacing: tuple[float, float] | None,
                     facing: str | None, prediction_xy: np.ndarray | None,
                     peaks: np.ndarray | None) -> list[Flag]:
    """The flags of an annotation (none for an empty one): what :func:`annotation_review`
    reports and what the store counts into ``ImageInfo.flags`` with every write."""
    if ann.is_empty():
        return []
    return check(schema, ann.xy, ann.visible, heatmap_peaks=peaks, prediction_xy=prediction_xy,
                 spacing=spacing, facing=facing)


def count_flags(study: Study, image_ids: Sequence[str], *, progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None, emit: Callable[[dict[str, int]], None] | None = None,
                batch: int = 256) -> dict[str, int]:
    """Number of flags per image (for the worklist); ``emit({image_id: n, ...})`` once per
    ``batch`` images, so a worker fills the worklist while the reviewer already works without
    one Qt signal per image (each emit crosses threads and costs the UI a slot call).

    A study of format 5 or later keeps the counts with every write (``ImageInfo.flags``):
    they are read in one query. Older files opened read-only, images whose stored count is
    unknown (a damaged row) and stores without stored counts are recounted image by image."""
    stored_flags = getattr(study, "stored_flags", None)
    stored = stored_flags() if stored_flags is not None else None
    counts: dict[str, int] = {}
    pending: dict[str, int] = {}
    total = len(image_ids)
    for n, image_id in enumerate(image_ids, 1):
        if cancel is not None and cancel():
            break
        known = stored.get(image_id) if stored is not None else None
        counts[image_id] = pending[image_id] = (
            known if known is not None else len(image_review(study, image_id, with_measurements=False)[1]))
        if len(pending) >= batch or n == total:
            if emit is not None:
                emit(pending)
            if progress is not None:
                progress(n, total)
            pending = {}
    if pending and emit is not None:  # cancelled part-way: what was counted still shows
        emit(pending)
    return counts


REVIEWED = ("accepted", "flagged")  # images whose review is finished


def study_report(study: Study, reviewer: str | None = None, *,
                 statuses: tuple[str, ...] = REVIEWED) -> CorrectionReport:
    """The correction report over the images whose review is finished (``statuses``): moves
    counted from the final state against the prediction. An image nobody has finished says
    nothing about the model's errors (its points are still the prediction), so it is left out.
    Images are named by their per-study pseudonyms (as in every export), never by UID or
    file name."""
    from dataclasses import replace

    from vam_gui.io.export.pseudonyms import image_pseudonym

    predictions, annotations, spacings, seconds = {}, {}, {}, {}
    name = {}
    for info in study.list_images():
        if info.status not in statuses:
            continue
        pred = study.prediction(info.image_id)
        if pred is None:
            continue
        key = name[info.image_id] = image_pseudonym(study.study_uid, info.image_id)
        predictions[key] = pred.xy
        annotations[key] = study.annotation(info.image_id)
        spacings[key] = info.spacing
        seconds[key] = study.review_seconds(info.image_id)
    log = [replace(e, image_id=name.get(e.image_id, "?")) for e in study.edit_log() if e.image_id in name]
    report = correction_report(study.schema, log, predictions, annotations, spacings, seconds, reviewer)
    report.notes.append(f"{len(predictions)} predicted image(s) with status {' or '.join(statuses)}; "
                        "images still unreviewed or in progress are left out")
    return report
