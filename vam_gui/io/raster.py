"""Read a raster radiograph (PNG, JPEG, TIFF, BMP): the header is checked first
(:mod:`vam_gui.io.raster_header`: format, completeness, size against the limits), then
OpenCV decodes the first image, ``core.grey`` reduces colour to one channel, and the
pixels are stored as ``uint16`` (unsigned 8/16-bit) or ``float32`` (anything else).

cv2 is imported lazily, inside the functions that decode, so importing ``vam_gui.io``
stays fast.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from vam_gui.core.grey import to_grey
from vam_gui.core.radiograph import Radiograph, to_storage_dtype
from vam_gui.io.image_file import RadiographError, describe, read_bytes
from vam_gui.io.image_limits import ImageLimits
from vam_gui.io.raster_header import RasterHeader, read_header

__all__ = ["load_raster"]

_CV2_DEFAULT_MAX_PIXELS = 1 << 30


def load_raster(path: Path, limits: ImageLimits, *, known_id: str | None = None) -> Radiograph:
    """Read a raster file; see :func:`vam_gui.io.radiograph.load_radiograph` (``known_id``:
    the file is not hashed, the radiograph takes that id)."""
    data = read_bytes(path)
    header = read_header(path, data)
    _check_before_decoding(path, header, limits)
    warnings: list[str] = []
    if header.more_pages:
        warnings.append("the TIFF holds more than one image; only the first was read")

    img = _decode(path, header.format, data)
    if img.size == 0:
        raise RadiographError(path, f"empty image (shape {img.shape})")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    channels = 1 if img.ndim == 2 else int(img.shape[2])
    if not (img.ndim == 2 or (img.ndim == 3 and channels in (2, 3, 4))):
        raise RadiographError(
            path,
            f"unsupported image layout {tuple(img.shape)}: expected one grayscale or colour image",
        )
    limits.check(path, img.shape[0], img.shape[1])  # the decoder's answer, should the header lie

    source_dtype = img.dtype
    metadata = {"format": header.format, "bit_depth": str(source_dtype.itemsize * 8), "dtype": str(source_dtype),
                "channels": str(channels)}
    if known_id is None:
        digest = hashlib.sha256(data).hexdigest()  # the file's content hash, as io.files.file_sha256 gives it
        metadata["sha256"] = digest  # a study records it: adding an image reads and hashes the file once
        known_id = "sha256:" + digest[:32]
    pixels = _stored_pixels(path, img, warnings)
    return Radiograph(pixels=pixels, spacing=None, photometric="MONOCHROME2", image_id=known_id,
                      source=path.absolute(), warnings=warnings, metadata=metadata)


def raster_facts(path: Path, limits: ImageLimits) -> tuple[str, int, int, str]:
    """(format, width, height, sha256 of the bytes) of a raster file from its header, without
    decoding the pixels: the checks ``load_raster`` makes before decoding (a raster format,
    complete, a readable header, within the limits), for adding files to a study."""
    data = read_bytes(path)
    header = read_header(path, data)
    _check_before_decoding(path, header, limits)
    return header.format, header.width, header.height, hashlib.sha256(data).hexdigest()


def _check_before_decoding(path: Path, header: RasterHeader, limits: ImageLimits) -> None:
    limits.check(path, header.height, header.width)
    decoder_limit = _cv2_max_pixels()
    if header.height * header.width > decoder_limit:
        raise RadiographError(
            path,
            f"image of {header.width} x {header.height} pixels is too large to decode "
            f"(OpenCV's limit, OPENCV_IO_MAX_IMAGE_PIXELS: {decoder_limit} pixels)",
        )


def _stored_pixels(path: Path, img: np.ndarray, warnings: list[str]) -> np.ndarray:
    """One channel (cv2's BGR / BGRA order) in the storage dtype, finite."""
    source_dtype = img.dtype
    pixels = to_storage_dtype(to_grey(img, "BGR", warnings))
    if pixels.dtype == np.float32:
        if not np.isfinite(pixels).all():
            raise RadiographError(path, "image contains NaN or infinite values")
        if np.issubdtype(source_dtype, np.integer) and source_dtype.itemsize >= 4:
            if float(np.abs(pixels).max()) > 2**24:
                warnings.append(f"{source_dtype} values beyond 2^24 lose precision when stored as float32")
    return pixels


def _decode(path: Path, fmt: str, data: bytes) -> np.ndarray:
    cv2 = _cv2()
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        with _quiet_opencv(cv2):
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise RadiographError(path, f"the {fmt} decoder failed ({describe(exc)})") from exc
    if img is None:
        raise RadiographError(
            path, f"corrupt, truncated or unsupported {fmt} file (the decoder could not read it)"
        )
    return np.asarray(img)


def _cv2() -> Any:
    import cv2  # lazy: importing OpenCV costs ~0.1 s and is not needed to import vam_gui.io

    return cv2


def _cv2_max_pixels() -> int:
    """OpenCV's decode limit (``OPENCV_IO_MAX_IMAGE_PIXELS``, default 2**30 pixels)."""
    try:
        return int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", _CV2_DEFAULT_MAX_PIXELS))
    except ValueError:
        return _CV2_DEFAULT_MAX_PIXELS


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: int | None = None


@contextmanager
def _quiet_opencv(cv2: Any) -> Iterator[None]:
    """Silence OpenCV's log (corrupt-file warnings on stderr) while decoding.

    Reference counted so concurrent loads in several threads restore the level once.
    Messages libpng prints by itself are not OpenCV log output and still appear.
    """
    global _quiet_depth, _quiet_saved
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None or not hasattr(log, "setLogLevel"):
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_saved = log.getLogLevel() if hasattr(log, "getLogLevel") else None
            log.setLogLevel(log.LOG_LEVEL_SILENT)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved is not None:
                log.setLogLevel(_quiet_saved)
