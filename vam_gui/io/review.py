"""Spine-aware review from the study store: measurements, label checks and the correction
report of an image or a whole study (the numbers come from ``vam_gui.core``)."""

from __future__ import annotations

from vam_gui.core.checks import Flag, check
from vam_gui.core.measure import Measurements, measure
from vam_gui.core.report import CorrectionReport, correction_report


def image_review(study, image_id: str, *, with_measurements: bool = True
                 ) -> tuple[Measurements | None, list[Flag]]:
    """Measurements and flags of one image's current annotation. The heatmap peaks are the
    decoded prediction (DARK's points), which is what "far from its peak" compares against."""
    ann = study.annotation(image_id)
    if ann.is_empty():
        return None, []
    info = study.image_info(image_id)
    pred = study.prediction(image_id)
    peaks = pred.xy if pred is not None else None
    result = measure(study.schema, ann.xy, ann.visible, spacing=info.spacing, facing=info.facing,
                     spacing_is_detector=info.spacing_is_detector) if with_measurements else None
    flags = check(study.schema, ann.xy, ann.visible, heatmap_peaks=peaks, prediction_xy=peaks,
                  spacing=info.spacing, facing=info.facing)
    return result, flags


def count_flags(study, image_ids, *, progress=None, cancel=None, emit=None,
                batch: int = 256) -> dict[str, int]:
    """Number of flags per image (for the worklist); ``emit({image_id: n, ...})`` once per
    ``batch`` images, so a worker fills the worklist while the reviewer already works without
    one Qt signal per image (each emit crosses threads and costs the UI a slot call)."""
    counts: dict[str, int] = {}
    pending: dict[str, int] = {}
    total = len(image_ids)
    for n, image_id in enumerate(image_ids, 1):
        if cancel is not None and cancel():
            break
        counts[image_id] = pending[image_id] = len(image_review(study, image_id, with_measurements=False)[1])
        if len(pending) >= batch or n == total:
            if emit is not None:
                emit(pending)
            if progress is not None:
                progress(n, total)
            pending = {}
    if pending and emit is not None:  # cancelled part-way: what was counted still shows
        emit(pending)
    return counts


def study_report(study, reviewer: str | None = None) -> CorrectionReport:
    """The correction report: moves counted from the final state against the prediction.
    Images are named by their per-study pseudonyms (as in every export), never by UID or
    file name."""
    from dataclasses import replace

    from vam_gui.io.export.pseudonyms import image_pseudonym

    predictions, annotations, spacings, seconds = {}, {}, {}, {}
    name = {}
    for info in study.list_images():
        pred = study.prediction(info.image_id)
        if pred is None:
            continue
        key = name[info.image_id] = image_pseudonym(study.study_uid, info.image_id)
        predictions[key] = pred.xy
        annotations[key] = study.annotation(info.image_id)
        spacings[key] = info.spacing
        seconds[key] = study.review_seconds(info.image_id)
    log = [replace(e, image_id=name.get(e.image_id, "?")) for e in study.edit_log() if e.image_id in name]
    return correction_report(study.schema, log, predictions, annotations, spacings, seconds, reviewer)
