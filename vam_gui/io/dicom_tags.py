"""Values read from a DICOM header, defensively: numbers, code strings, UIDs and pixel spacing.

A missing, empty or malformed value reads as None (the caller decides what that means),
and nothing here quotes a value back: a Code String is returned only when it looks like
one, so free text (names, institutions) never leaks into metadata or warnings. The one
exception is :func:`identity_attributes` (patient, study, series, view), which a study stores
for its worklist apart from the radiograph (io/dicom_identity.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import MutableSequence
from typing import Any

from vam_gui.core.spacing import spacing_problem, valid_spacing

__all__ = ["IDENTITY_KEYWORDS", "as_list", "code_string", "float_tag", "identity_attributes", "int_tag",
           "pixel_spacing", "text_tag", "uid_is_valid", "valid_uid"]

_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_CS_RE = re.compile(r"^[A-Z0-9 _]{1,16}$")  # the Code String character set

# Where the spacing comes from, in order; True: measured at the detector (ImagerPixelSpacing).
_SPACING_TAGS = (("PixelSpacing", False), ("ImagerPixelSpacing", True))


def pixel_spacing(ds: Any, warnings: list[str]) -> tuple[tuple[float, float] | None, bool]:
    """``(dy, dx)`` mm and whether it is detector spacing, from the first usable tag.

    A tag that is present but unusable (by the one rule, :mod:`vam_gui.core.spacing`:
    malformed, non-finite, or outside 0.01-5 mm on either axis) is ignored with a warning.
    """
    for kw, detector in _SPACING_TAGS:
        if kw not in ds:
            continue
        try:
            values: list[float] | None = [float(v) for v in as_list(ds[kw].value)]
        except Exception:  # unparseable DS
            values = None
        pair = valid_spacing(values)
        if pair is None:
            problem = spacing_problem(values) or "not numbers"
            warnings.append(f"{kw} is malformed or implausible ({problem}): ignored")
            continue
        if detector:
            warnings.append(
                "spacing from ImagerPixelSpacing (at the detector): the geometric "
                "magnification is not corrected, so distances are slightly overestimated"
            )
        return pair, detector
    return None, False


def float_tag(ds: Any, kw: str) -> float | None:
    """The first value of a numeric tag, or None when missing, empty or malformed."""
    try:
        values = as_list(ds[kw].value)
        value = float(values[0])
    except Exception:
        return None
    return value if math.isfinite(value) else None


def int_tag(ds: Any, kw: str) -> int | None:
    value = float_tag(ds, kw)
    if value is None or value != int(value) or value < 0:
        return None
    return int(value)


def as_list(value: Any) -> list[Any]:
    if value is None or isinstance(value, (str, bytes)):
        return [value] if value not in (None, "", b"") else []
    try:
        return list(value)
    except TypeError:
        return [value]


def code_string(ds: Any, kw: str) -> str | None:
    """A Code String value when it looks like one (so free text never leaks through)."""
    try:
        values = as_list(ds[kw].value) if kw in ds else []
        value = str(values[0]).strip() if values else ""
    except Exception:
        return None
    return value if _CS_RE.match(value) else None


def valid_uid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    uid = value.strip("\x00 ")
    return uid if 0 < len(uid) <= 64 and _UID_RE.match(uid) else None


def uid_is_valid(uid: str) -> bool:
    """Whether ``uid`` has the UID syntax (digits and dots, at most 64 characters)."""
    return len(uid) <= 64 and bool(_UID_RE.match(uid))


# The patient / study / series / view attributes a study keeps of a DICOM image for its worklist
# (io/dicom_identity.py). They identify the patient: they never reach a Radiograph.
IDENTITY_KEYWORDS = ("PatientName", "PatientID", "StudyDate", "StudyDescription", "StudyInstanceUID",
                     "SeriesNumber", "SeriesDescription", "SeriesInstanceUID", "ViewPosition",
                     "ImageLaterality", "Laterality")
_TEXT_MAX = 128  # longer than any of these VRs allows (LO 64, PN 64 per component group)
_UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID")
_CODE_KEYWORDS = ("ViewPosition", "ImageLaterality", "Laterality")


def text_tag(ds: Any, kw: str) -> str | None:
    """A short single-line text value (names, descriptions, dates): control characters and
    surrounding blanks removed; None when missing, empty or unreadable."""
    try:
        raw = ds[kw].value if kw in ds else None
        if isinstance(raw, MutableSequence):  # several values (a MultiValue): the first
            raw = raw[0] if raw else None
        value = "" if raw is None else str(raw)  # a PersonName reads as its text
    except Exception:
        return None
    value = "".join(c for c in value if c.isprintable()).strip(" \x00")[:_TEXT_MAX]
    return value or None


def identity_attributes(ds: Any) -> dict[str, str]:
    """The IDENTITY_KEYWORDS present in ``ds`` with a usable value, as text (UIDs checked,
    code strings as code strings, SeriesNumber a whole number)."""
    found: dict[str, str] = {}
    for kw in IDENTITY_KEYWORDS:
        value: str | None
        if kw in _UID_KEYWORDS:
            value = valid_uid(text_tag(ds, kw))
        elif kw in _CODE_KEYWORDS:
            value = code_string(ds, kw)
        elif kw == "SeriesNumber":
            number = float_tag(ds, kw)
            value = None if number is None or number != int(number) else str(int(number))
        else:
            value = text_tag(ds, kw)
        if value:
            found[kw] = value
    return found
