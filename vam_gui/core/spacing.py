"""Pixel spacing: the one rule for what counts as a usable (dy, dx) in mm.

A spacing is a pair of finite numbers (row spacing dy, column spacing dx), each within
:data:`MIN_SPACING_MM` .. :data:`MAX_SPACING_MM`: radiographs are digitised at 0.05-0.5 mm,
so a value outside 0.01-5 mm is a broken or hostile header (1e300 would make every
distance infinite), never a real detector. Readers that meet a bad one in a file ignore it
with a warning (:func:`spacing_problem` says why, :func:`valid_spacing` gives None); code
that is handed one by a caller refuses it (:func:`check_spacing` raises).
"""

from __future__ import annotations

import math
from typing import Any

MIN_SPACING_MM = 0.01
MAX_SPACING_MM = 5.0


def _pair(spacing: Any) -> tuple[float, float]:
    dy, dx = (float(v) for v in spacing)
    return dy, dx


def _problem(dy: float, dx: float) -> str | None:
    if not (math.isfinite(dy) and math.isfinite(dx)):
        return "not finite"
    if dy <= 0 or dx <= 0:
        return "zero or negative"
    if not (MIN_SPACING_MM <= dy <= MAX_SPACING_MM and MIN_SPACING_MM <= dx <= MAX_SPACING_MM):
        return f"outside {MIN_SPACING_MM:g}-{MAX_SPACING_MM:g} mm"
    return None


def spacing_problem(spacing: Any) -> str | None:
    """Why ``spacing`` is not a usable (dy, dx) in mm, as a short phrase; None when it is
    (and for None, which means "unknown"). The phrase never quotes the values."""
    if spacing is None:
        return None
    try:
        dy, dx = _pair(spacing)
    except (TypeError, ValueError):
        return "not two numbers"
    return _problem(dy, dx)


def valid_spacing(spacing: Any) -> tuple[float, float] | None:
    """(dy, dx) in mm if usable, else None: malformed, non-finite, zero, negative or
    implausible (outside 0.01-5 mm) spacing means none."""
    if spacing is None:
        return None
    try:
        dy, dx = _pair(spacing)
    except (TypeError, ValueError):
        return None
    return (dy, dx) if _problem(dy, dx) is None else None


def check_spacing(spacing: Any) -> tuple[float, float] | None:
    """(dy, dx) in mm, or None for None; ``ValueError`` for anything else that is not usable."""
    if spacing is None:
        return None
    try:
        dy, dx = _pair(spacing)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"spacing must be (dy, dx) in mm or None, got {spacing!r}") from exc
    problem = _problem(dy, dx)
    if problem is not None:
        raise ValueError(
            f"spacing must be finite and within {MIN_SPACING_MM:g}-{MAX_SPACING_MM:g} mm, "
            f"got {spacing!r} ({problem})"
        )
    return (dy, dx)
