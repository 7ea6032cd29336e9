"""The image files of a pseudonymised label export, written beside the labels under the
names the labels use, so that labels and images match without any original file.

- DICOM sources become de-identified DICOM copies (:mod:`vam_gui.io.deid`: PS3.15 Basic
  Profile, pixel data unchanged), named ``<pseudonym>.dcm``.
- Raster sources are decoded as our reader decodes them (OpenCV, unchanged depth and
  channels, so the labels' coordinates hold) and written again without any metadata (PNG
  text chunks, EXIF and TIFF tags can name the patient): 8- and 16-bit images as
  ``<pseudonym>.png`` (lossless: for a JPEG source the pixels are the decoded JPEG's),
  other sample types as ``<pseudonym>.tiff``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui.core.atomic import write_bytes_atomic
from vam_gui.io.export.common import Cancel, Progress, check_cancel

if TYPE_CHECKING:
    from vam_gui.io.export.pseudonyms import Namer
    from vam_gui.io.study import ImageInfo, Study


@dataclass
class ImageCopies:
    names: dict[str, str] = field(default_factory=dict)  # image id -> exported file name
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (exported name, reason)
    notes: list[str] = field(default_factory=list)


def is_dicom_file(path: Path) -> bool:
    """The reader's own rule (vam_gui.io.radiograph), so a copy is of the kind the study read."""
    from vam_gui.io.image_file import read_head
    from vam_gui.io.radiograph import is_dicom

    return is_dicom(path, read_head(path, 132))


def guessed_name(namer: Namer, info: ImageInfo) -> str:
    """The name of an image whose file cannot be read now (reported as skipped)."""
    suffix = ".dcm" if info.image_id.startswith("uid:") else ".png"
    return namer.image_id(info.image_id) + suffix


def dicom_copy(path: Path, salt: str) -> tuple[bytes, bool]:
    """(de-identified DICOM file bytes, whether the source says burned-in annotation)."""
    import pydicom

    from vam_gui.io.deid import deidentify, to_bytes

    source = pydicom.dcmread(path, force=True)
    burned = str(source.get("BurnedInAnnotation", "")).upper() == "YES"
    return to_bytes(deidentify(source, salt=salt)), burned


def raster_copy(path: Path) -> tuple[bytes, str]:
    """(encoded bytes without metadata, suffix) of a raster image's decoded pixels."""
    import cv2

    from vam_gui.io.image_file import read_bytes

    data = np.frombuffer(read_bytes(path), dtype=np.uint8)
    img: Any = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError("the image could not be decoded")
    if img.ndim == 3 and img.shape[2] == 2:  # grey + alpha: PNG via OpenCV has no such layout
        img = img[:, :, 0]
    suffix = ".png" if img.dtype in (np.uint8, np.uint16) else ".tiff"
    ok, buf = cv2.imencode(suffix, img)
    if not ok:
        raise ValueError(f"{img.dtype} pixels could not be encoded as {suffix}")
    return bytes(buf), suffix


def write_image_copies(study: Study, infos: list[ImageInfo], out: Path, namer: Namer, *,
                       progress: Progress | None = None, cancel: Cancel | None = None) -> ImageCopies:
    """Write a de-identified copy of every image of ``infos`` into ``out``; the names used
    are in ``names`` (a guess for those that failed, which are in ``skipped``)."""
    from vam_gui.io.image_file import describe

    result = ImageCopies()
    for n, info in enumerate(infos, 1):
        check_cancel(cancel)
        pseudo = namer.image_id(info.image_id)
        path = study.image_path(info.image_id)
        try:
            if is_dicom_file(path):
                data, burned = dicom_copy(path, namer.study_uid)
                name = pseudo + ".dcm"
                if burned:
                    result.notes.append(f"{name}: the source says BurnedInAnnotation=YES; the pixels are "
                                        "copied unchanged and may show identifying text")
            else:
                data, suffix = raster_copy(path)
                name = pseudo + suffix
        except Exception as exc:  # a file gone or unreadable: the labels still name it
            name = guessed_name(namer, info)
            result.names[info.image_id] = name
            result.skipped.append((name, f"image not copied ({describe(exc)})"))
            continue
        result.names[info.image_id] = name
        result.files.append(write_bytes_atomic(out / name, data))
        if progress is not None:
            progress(n, len(infos))
    return result
