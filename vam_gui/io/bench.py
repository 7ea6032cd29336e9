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
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from vam_gui.io.radiograph import load_radiograph

    arr = np.random.default_rng(0).integers(0, 4096, (side, side), dtype=np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.Rows = ds.Columns = side
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation, ds.SamplesPerPixel = 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelSpacing = [0.15, 0.15]
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.PixelData = arr.tobytes()
    path = Path(tmpdir) / "bench_dicom_load.dcm"
    ds.save_as(path, enforce_file_format=True)

    def bare() -> None:
        pydicom.dcmread(path).pixel_array

    def ours() -> None:
        load_radiograph(path)

    times: dict[str, list[float]] = {"ours": [], "bare": []}
    bare(), ours()  # warm-up: imports, plugin discovery, page cache
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
