"""The patient / study / series / view attributes of a DICOM file, and the files a DICOMDIR lists.

These identify the patient, so they never reach a :class:`Radiograph` (io/dicom.py); a study
keeps them per image, apart from the pixels, for its worklist (io/study_dicom.py), which shows
them only when the study does not hide identifiers. Reading them parses the header only
(``stop_before_pixels``): a few kilobytes per file.
"""

from __future__ import annotations

import os
from pathlib import Path

from vam_gui.io.dicom_tags import identity_attributes

__all__ = ["DICOMDIR_CLASS", "dicomdir_files", "is_dicomdir", "read_identity"]

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage


def read_identity(path: str | os.PathLike[str]) -> dict[str, str] | None:
    """The identity attributes of the DICOM file ``path`` (possibly none: ``{}``), or None
    when its header cannot be read."""
    import pydicom

    try:
        ds = pydicom.dcmread(os.fspath(path), stop_before_pixels=True, force=True)
        return identity_attributes(ds)
    except Exception:  # a damaged header: the worklist shows the file name only
        return None


def is_dicomdir(path: Path) -> bool:
    """A file named DICOMDIR, or one whose file meta says Media Storage Directory."""
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return head[128:132] == b"DICM" and DICOMDIR_CLASS.encode() in head


def dicomdir_files(path: Path) -> list[Path] | str:
    """The image files a DICOMDIR references (in the order of its records, existing or
    not: a missing one is reported by the add), or why it cannot be read (a str)."""
    import pydicom

    try:
        ds = pydicom.dcmread(os.fspath(path), force=True)
        records = list(ds.DirectoryRecordSequence)
    except Exception as exc:
        return f"not a readable DICOMDIR ({type(exc).__name__})"
    files: list[Path] = []
    for record in records:
        parts = record.get("ReferencedFileID")
        if parts is None or record.get("DirectoryRecordType", "") not in ("IMAGE", ""):
            continue
        names = [str(parts)] if isinstance(parts, str) else [str(p) for p in parts]
        if names and all(n and n not in (".", "..") and "/" not in n and "\\" not in n for n in names):
            files.append(path.parent.joinpath(*names))
    return files
