"""Read a radiograph from disk: raster images (PNG, JPEG, TIFF, BMP) and DICOM.

``load_radiograph(path)`` is the single entry point. It sniffs the file: DICOM (the
``DICM`` magic at byte 128, a bare data set without preamble, or a ``.dcm`` / ``.dicom``
suffix on a file that is not a raster image) goes to :mod:`vam_gui.io.dicom` (pydicom),
everything else to :mod:`vam_gui.io.raster` (header by Pillow, pixels by OpenCV).
Both refuse an image above the size limits (:mod:`vam_gui.io.image_limits`) from its
header, before decoding.
Every failure is reported as :class:`RadiographError` (``str(err)`` is
``"<file name>: <reason>"``, ready for the GUI); no decoder exception escapes.
"""

from __future__ import annotations

import os
from pathlib import Path

from vam_gui.core.radiograph import Radiograph
from vam_gui.io.dicom import looks_like_raw_dicom, read_dicom
from vam_gui.io.image_file import NOT_AN_IMAGE, TRUNCATED, RadiographError, describe, read_head
from vam_gui.io.image_limits import DEFAULT_MAX_SIDE, ImageLimits
from vam_gui.io.raster import load_raster
from vam_gui.io.raster_header import sniff_format

__all__ = ["DEFAULT_MAX_SIDE", "NOT_AN_IMAGE", "TRUNCATED", "RadiographError", "load_radiograph"]

DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})


def load_radiograph(
    path: str | os.PathLike[str], *, max_side: int = DEFAULT_MAX_SIDE, max_pixels: int | None = None,
    known_id: str | None = None,
) -> Radiograph:
    """Read one radiograph; raise :class:`RadiographError` when that is not possible.

    Raster files (PNG, JPEG, TIFF, BMP; 8/16-bit integer, signed or float samples) give
    ``pixels`` as ``uint16`` (unsigned 8/16-bit) or ``float32`` (anything else), colour is
    converted to BT.601 luminance with a warning, ``spacing`` is ``None``, ``photometric``
    is ``"MONOCHROME2"`` and ``image_id`` is ``"sha256:"`` + the first 32 hex digits of the
    SHA-256 of the file bytes. DICOM files are described in :func:`vam_gui.io.dicom.read_dicom`.

    Images with a side above ``max_side``, or more than ``max_pixels`` pixels (DICOM: rows x
    columns x frames; ``None``: the user's ``max_image_pixels`` setting, 200 million by
    default) are refused from the header, before decoding.

    ``known_id``: the image's id where the caller already knows it (a study's image, shown or
    predicted): a raster file is then not hashed (SHA-256 costs about 2 ms a megabyte here,
    20 ms for a full-length 16-bit film) and the radiograph carries that id, without the
    ``sha256`` metadata entry.
    """
    path = Path(os.fspath(path))
    limits = ImageLimits.resolve(max_side=max_side, max_pixels=max_pixels)
    try:
        head = read_head(path, 132)
        rg = _load_dicom(path, limits) if is_dicom(path, head) else load_raster(path, limits, known_id=known_id)
        limits.check(path, rg.height, rg.width)
        return rg
    except RadiographError:
        raise
    except MemoryError as exc:
        raise RadiographError(path, "not enough memory to read the image") from exc
    except Exception as exc:  # a decoder or numpy failure: never let it escape raw
        raise RadiographError(path, f"could not read the image ({describe(exc)})") from exc


def _load_dicom(path: Path, limits: ImageLimits) -> Radiograph:
    return read_dicom(path, max_side=limits.max_side, max_pixels=limits.max_pixels)


def is_dicom(path: Path, head: bytes) -> bool:
    """DICOM by content; the suffix counts only when the content is no raster image."""
    if head[128:132] == b"DICM" or head[:4] == b"DICM" or looks_like_raw_dicom(head):
        return True
    return path.suffix.lower() in DICOM_SUFFIXES and sniff_format(head) is None
