"""Study -> training dataset (design.md §7), written by :func:`vam_gui.io.dataset.write_dataset`.

Per exported image: the letterboxed S x S 16-bit PNG, float16 Gaussian targets regenerated
from the corrected points, keypoints in model and original pixels; a manifest with the
schema, sigma, S, letterbox and file hashes per item, the model(s) that predicted and the
counts of accepted / moved / placed / imported points. Radiographs are read in the calling
thread while ``workers`` threads encode (OpenCV, zlib and torch release the GIL).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui.io.dataset import DatasetSource, write_dataset
from vam_gui.io.export.common import (
    Cancel,
    ExportOptions,
    ExportReport,
    Progress,
    check_cancel,
    prepare_out_dir,
    select_images,
)
from vam_gui.io.export.pseudonyms import Namer

if TYPE_CHECKING:
    from vam_gui.io.study import Study

# How a point's source reads in the manifest: "predicted" in an exported (reviewed) image
# means the reviewer accepted the prediction as it was.
_COUNT_NAMES = {"predicted": "accepted", "moved": "moved", "placed": "placed", "imported": "imported"}


def _point_counts(visible: np.ndarray, xy: np.ndarray, sources: Iterable[str]) -> dict[str, int]:
    labelled = visible & np.isfinite(xy).all(axis=1)
    counts = {name: 0 for name in _COUNT_NAMES.values()}
    for ok, src in zip(labelled, sources):
        if ok and src in _COUNT_NAMES:
            counts[_COUNT_NAMES[src]] += 1
    counts["missing"] = int((~labelled).sum())
    return counts


def export_dataset(study: Study, out_dir: str | os.PathLike[str], options: ExportOptions = ExportOptions(), *,
                   progress: Progress | None = None, cancel: Cancel | None = None) -> ExportReport:
    """Write a training dataset folder; returns the report (files: the manifest).

    Images without a single labelled point are left out (``report.unlabelled``); images
    whose file cannot be read are skipped and reported (``report.skipped``). Any other
    failure propagates; the manifest, written last, is then absent, so the folder never
    looks complete (write_dataset's contract)."""
    from vam_gui.io.radiograph import RadiographError

    out = prepare_out_dir(out_dir)
    namer = Namer(study.study_uid, keep_names=options.keep_names)
    report = ExportReport("dataset", out)
    plan = []
    for info in select_images(study, options):
        ann = study.annotation(info.image_id)
        item = namer.item_id(info.image_id, info.rel_path)
        if not (ann.visible & np.isfinite(ann.xy).all(axis=1)).any():
            report.unlabelled.append(item)
            continue
        plan.append((info, ann, item))

    totals: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    models: set[str] = set()
    # Filled once every source has been read: write_dataset reads ``info`` only after the
    # last item, when it builds the manifest.
    manifest_info: dict[str, Any] = {}

    def sources() -> Iterator[DatasetSource]:
        for info, ann, item in plan:
            check_cancel(cancel)
            try:
                rad = study.load_radiograph(info.image_id)
            except RadiographError as exc:
                # the reason only: the exception's text names the original file
                report.skipped.append((item, f"cannot read the image: {exc.reason}"))
                continue
            if rad.pixels.shape != (info.height, info.width):
                report.skipped.append((item, f"the image file now holds {rad.pixels.shape[1]} x "
                                             f"{rad.pixels.shape[0]} pixels, not {info.width} x {info.height}"))
                continue
            pred = study.prediction(info.image_id)
            model = pred.model_id if pred is not None else None
            counts = _point_counts(ann.visible, ann.xy, ann.source)
            totals.update(counts)
            statuses[info.status] += 1
            if model:
                models.add(model)
            yield DatasetSource(
                item_id=item, pixels=rad.pixels, xy=ann.xy, visible=ann.visible, spacing=info.spacing,
                sources=[str(s) for s in ann.source],
                extra={"file": namer.file_name(info.image_id, info.rel_path), "status": info.status,
                       "model": model, "points": counts},
            )
        manifest_info.update({
            "study": namer.study,
            "selection": options.describe(),
            "models": sorted(models),
            "points": {k: int(totals.get(k, 0)) for k in (*_COUNT_NAMES.values(), "missing")},
            "status": dict(statuses),
            "skipped": len(report.skipped),
            "unlabelled": len(report.unlabelled),
        })

    path = write_dataset(sources(), out, study.schema, size=options.size, sigma=options.sigma,
                         total=len(plan), info=manifest_info, progress=progress, cancel=cancel,
                         workers=options.workers)
    report.files.append(path)
    report.images = sum(statuses.values())
    return report
