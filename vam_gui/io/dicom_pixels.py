"""From a DICOM's decoded stored values to what the reviewer sees: the modality LUT
(pydicom's :func:`~pydicom.pixels.apply_modality_lut`), the initial window (VOI tags),
MONOCHROME1 inversion so that bone is bright (the window inverted with the pixels),
palette and colour reduced to grey by ``core.grey``, and the storage dtype.

pydicom is imported inside the functions that need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vam_gui.core.grey import to_grey
from vam_gui.core.radiograph import Window
from vam_gui.io.dicom_tags import float_tag, int_tag
from vam_gui.io.image_file import RadiographError

__all__ = ["display_pixels"]


def display_pixels(
    path: Path, arr: np.ndarray, ds: Any, *, photometric: str, pixel_kw: str, warnings: list[str]
) -> tuple[np.ndarray, Window | None, float | None]:
    """``(pixels, window, inverted_total)``: pixels in the storage dtype (``uint16`` when
    integral within 0..65535, else ``float32``), the initial window from the file's VOI tags
    (None without: the Radiograph computes one from the pixels when it is displayed), and for an inverted
    MONOCHROME1 image the ``low + high`` it was inverted over (None otherwise)."""
    inverted_total: float | None = None
    window: Window | None
    if arr.ndim == 3 or photometric == "PALETTE COLOR":
        pixels = _to_storage(path, _colour_to_gray(arr, ds, photometric, warnings))
        window = None
    else:
        out, low, high = _modality(arr, ds, pixel_kw, warnings)
        window = _window_from_tags(ds, warnings)
        if photometric == "MONOCHROME1":
            out, inverted_total = _invert(out, low, high)
        pixels = _to_storage(path, out)
        if window is not None and inverted_total is not None:
            window = Window(inverted_total - window.center, window.width)
    return pixels, window, inverted_total


def _modality(
    arr: np.ndarray, ds: Any, pixel_kw: str, warnings: list[str]
) -> tuple[np.ndarray, float | None, float | None]:
    """Apply the modality LUT; also return the representable output range (or Nones)."""
    from pydicom.pixels import apply_modality_lut

    low: float | None = None
    high: float | None = None
    if pixel_kw == "PixelData":
        bits = int_tag(ds, "BitsStored") or 16
        if int_tag(ds, "PixelRepresentation") == 1:
            low, high = -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
        else:
            low, high = 0.0, 2.0**bits - 1

    if ds.get("ModalityLUTSequence"):
        out = apply_modality_lut(arr, ds)
        depth = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
        return out, 0.0, 2.0**depth - 1
    if "RescaleSlope" not in ds and "RescaleIntercept" not in ds:
        return arr, low, high
    slope, intercept = float_tag(ds, "RescaleSlope"), float_tag(ds, "RescaleIntercept")
    if slope is None or intercept is None or slope == 0:
        warnings.append("RescaleSlope / RescaleIntercept missing or invalid: not applied")
        return arr, low, high
    if slope == 1 and intercept == 0:
        return arr, low, high  # the common case: skip a float64 copy of the image
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept  # parsed once, clean values
    out = apply_modality_lut(arr, ds)
    if low is not None and high is not None:
        low, high = sorted((low * slope + intercept, high * slope + intercept))
    return out, low, high


def _invert(arr: np.ndarray, low: float | None, high: float | None) -> tuple[np.ndarray, float]:
    """MONOCHROME1 -> bone bright: ``low + high - value`` over the representable range.

    The range grows to the actual data when values lie outside it (wrong BitsStored),
    so inverted values stay within the same range.
    """
    amin, amax = float(arr.min()), float(arr.max())
    low = amin if low is None else min(low, amin)
    high = amax if high is None else max(high, amax)
    total = low + high
    if arr.dtype in (np.uint8, np.uint16) and 0 <= total <= 65535 and total == int(total):
        return np.subtract(np.uint16(total), arr, dtype=np.uint16), total
    if np.issubdtype(arr.dtype, np.integer) and abs(total) < 2**62:
        return np.int64(total) - arr.astype(np.int64), total
    return total - arr.astype(np.float64), total


def _to_storage(path: Path, arr: np.ndarray) -> np.ndarray:
    """``uint16`` when integral and within 0..65535, else ``float32``."""
    if arr.dtype == np.uint16:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.uint8:
        return arr.astype(np.uint16)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() >= 0 and arr.max() <= 65535:
            return arr.astype(np.uint16)
        return arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise RadiographError(path, "image contains NaN or infinite values")
    if arr.min() >= 0 and arr.max() <= 65535 and np.array_equal(arr, np.trunc(arr)):
        return arr.astype(np.uint16)
    return arr.astype(np.float32)


def _colour_to_gray(arr: np.ndarray, ds: Any, photometric: str, warnings: list[str]) -> np.ndarray:
    """BT.601 luminance of RGB (pydicom already converted YBR; palettes are applied)."""
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
    return to_grey(arr[:, :, :3], "RGB", warnings, what=f"colour DICOM ({photometric})")


def _window_from_tags(ds: Any, warnings: list[str]) -> Window | None:
    """WindowCenter/WindowWidth (first values), else the VOI LUT's input range."""
    if "WindowCenter" in ds or "WindowWidth" in ds:
        center, width = float_tag(ds, "WindowCenter"), float_tag(ds, "WindowWidth")
        if center is not None and width is not None and width > 0:
            return Window(center, width)
        warnings.append("WindowCenter / WindowWidth missing or invalid: window ignored")
    try:
        seq = ds.get("VOILUTSequence")
        if seq:
            n, first = (int(v) for v in list(seq[0].LUTDescriptor)[:2])
            return Window.from_bounds(first, first + (n or 65536))
    except Exception:  # a malformed sequence only costs the initial window
        warnings.append("VOILUTSequence malformed: window ignored")
    return None
