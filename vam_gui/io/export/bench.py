"""Dataset-export throughput for ``vam-gui bench``: a study of 16-bit DICOMs, K = 20, every
image accepted with labels, exported at S = 512 with compressed float16 targets.

Besides images per second it reports a single-thread breakdown per image (read, letterbox,
PNG, targets, npz) so a slow machine shows where the time goes.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vam_gui.io.study import Study

__all__ = ["bench_export"]


def _write_dicoms(folder: Path, n: int, side: int) -> list[Path]:
    from vam_gui.io.dicom_write import dx_dataset

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    # a smooth body with noise compresses like a radiograph, unlike pure noise
    base = 1500 + 1800 * np.exp(-((xx - 0.5) ** 2) / 0.05) * (0.6 + 0.4 * np.cos(yy * 30) ** 2)
    paths = []
    for i in range(n):
        arr = np.clip(base + rng.normal(0, 40, base.shape), 0, 4095).astype(np.uint16)
        ds = dx_dataset(arr, spacing=(0.15, 0.15), bits_stored=12)
        path = folder / f"bench-{i:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _label(study: Study, side: int) -> None:
    from vam_gui.core.annotation import PointState, ReviewState

    schema = study.schema
    rng = np.random.default_rng(1)
    for image_id in study.image_ids():
        points = {}
        for i, (v, c) in enumerate(zip(schema.vertebra, schema.corner)):
            x = side * (0.4 + 0.2 * (c % 2)) + rng.normal(0, 3)
            y = side * (0.1 + 0.16 * v + 0.1 * (c // 2)) + rng.normal(0, 3)
            points[i] = PointState(float(x), float(y), True, "moved" if i % 5 == 0 else "predicted")
        study.apply_edit(image_id, user="bench", kind="bench", points=points,
                         review=ReviewState("accepted", None, "bench"))


def _stage_breakdown(study: Study, size: int) -> dict[str, float]:
    """Median single-thread ms per image of each stage of one item."""
    import io

    import cv2

    from vam_gui.core.letterbox import letterbox_image
    from vam_gui.io.dataset import _savez_targets, sparse_targets

    times: dict[str, list[float]] = {k: [] for k in ("read", "letterbox", "png", "targets", "npz")}
    for image_id in study.image_ids()[:4]:
        t0 = time.perf_counter()
        rad = study.load_radiograph(image_id)
        ann = study.annotation(image_id)
        t1 = time.perf_counter()
        img01, box = letterbox_image(rad.pixels, size)
        t2 = time.perf_counter()
        cv2.imencode(".png", np.rint(img01 * 65535).astype(np.uint16))
        t3 = time.perf_counter()
        maps = sparse_targets(box.to_model(ann.xy), ann.visible, size, 2.0)
        t4 = time.perf_counter()
        _savez_targets(io.BytesIO(), maps)
        t5 = time.perf_counter()
        for key, a, b in (("read", t0, t1), ("letterbox", t1, t2), ("png", t2, t3), ("targets", t3, t4),
                          ("npz", t4, t5)):
            times[key].append((b - a) * 1e3)
    return {f"export_{k}_ms": statistics.median(v) for k, v in times.items()}


def bench_export(tmpdir: str | os.PathLike[str], n: int = 12, *, side: int = 2000, size: int = 512,
                 workers: int = 2, repeats: int = 3) -> dict[str, float]:
    """Images per second of a dataset export (best of ``repeats``), with a stage breakdown."""
    from vam_gui.io.dataset import DatasetSource, encode_item
    from vam_gui.io.export.common import ExportOptions
    from vam_gui.io.export.dataset import export_dataset
    from vam_gui.io.study import Study

    folder = Path(tmpdir) / "bench-export"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    paths = _write_dicoms(folder / "images", n, side)
    with Study.create(folder / "bench.vamstudy", schema="lumbar-ap-20") as study:
        study.add_images(paths)
        _label(study, side)
        k = study.schema.k
        # warm-up: torch import, OpenCV and zlib first calls are not export throughput
        encode_item(DatasetSource("warm", np.zeros((64, 64), np.uint16), np.full((k, 2), 10.0),
                                  np.ones(k, bool)), study.schema, size=size, sigma=2.0)
        options = ExportOptions(size=size, workers=workers)
        rates = []
        for r in range(max(1, repeats)):
            t0 = time.perf_counter()
            report = export_dataset(study, folder / f"out{r}", options)
            rates.append(report.images / (time.perf_counter() - t0))
        result = {"export_images_per_s": max(rates), "export_images_per_s_median": statistics.median(rates),
                  "export_workers": float(workers), "export_side_px": float(side), "export_size": float(size)}
        result.update(_stage_breakdown(study, size))
    return result
