"""Reader benchmarks: how much :func:`load_radiograph` adds to the bare decoder.

pydicom is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np

__all__ = ["bench_dicom_load"]


def bench_dicom_load(
    tmpdir: str | os.PathLike[str], *, side: int = 2000, repeats: int = 7
) -> dict[str, float]:
    """Time :func:`load_radiograph` against bare ``pydicom.dcmread(path).pixel_array``.

    Writes a ``side`` x ``side`` uint16 MONOCHROME2 file with PixelSpacing and window
    tags into ``tmpdir`` and returns the medians over ``repeats`` runs in ms
    (``dicom_load_ms``, ``dicom_pydicom_bare_ms``) and their ratio
    (``dicom_load_ratio``; about 1 means the reader adds little to pydicom itself).
    """
    import pydicom

    from vam_gui.io.dicom_write import dx_dataset
    from vam_gui.io.radiograph import load_radiograph

    arr = np.random.default_rng(0).integers(0, 4096, (side, side), dtype=np.uint16)
    ds = dx_dataset(arr, spacing=(0.15, 0.15), bits_stored=12, window=(2048, 4096))
    path = Path(tmpdir) / "bench_dicom_load.dcm"
    ds.save_as(path, enforce_file_format=True)

    def bare() -> None:
        _ = pydicom.dcmread(path).pixel_array

    def ours() -> None:
        load_radiograph(path)

    times: dict[str, list[float]] = {"ours": [], "bare": []}
    bare()  # warm-up: imports, plugin discovery, page cache
    ours()
    for _ in range(max(1, repeats)):
        for name, fn in (("bare", bare), ("ours", ours)):  # interleaved: fair to drift
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000.0)
    ours_ms, bare_ms = statistics.median(times["ours"]), statistics.median(times["bare"])
    return {
        "dicom_load_ms": ours_ms,
        "dicom_pydicom_bare_ms": bare_ms,
        "dicom_load_ratio": ours_ms / bare_ms if bare_ms > 0 else float("inf"),
    }
