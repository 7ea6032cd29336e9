"""Values read from a DICOM header, defensively: numbers, code strings, UIDs and pixel spacing.

A missing, empty or malformed value reads as None (the caller decides what that means),
and nothing here quotes a value back: a Code String is returned only when it looks like
one, so free text (names, institutions) never leaks into metadata or warnings.
"""

from __future__ import annotations

import math
import re
from typing import Any

from vam_gui.core.spacing import spacing_problem, valid_spacing

__all__ = ["as_list", "code_string", "float_tag", "int_tag", "pixel_spacing", "uid_is_valid", "valid_uid"]

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
