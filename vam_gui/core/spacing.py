"""Pixel spacing: the one rule for what counts as a usable (dy, dx) in mm.

A spacing is a pair of finite, positive numbers (row spacing dy, column spacing dx). Readers
that meet a bad one in a file ignore it (:func:`valid_spacing` gives None); code that is
handed one by a caller refuses it (:func:`check_spacing` raises).
"""

from __future__ import annotations

import math
from typing import Any


def _pair(spacing: Any) -> tuple[float, float]:
    dy, dx = (float(v) for v in spacing)
    return dy, dx


def _usable(dy: float, dx: float) -> bool:
    return math.isfinite(dy) and math.isfinite(dx) and dy > 0 and dx > 0


def valid_spacing(spacing: Any) -> tuple[float, float] | None:
    """(dy, dx) in mm if usable, else None: zero, negative or malformed spacing means none."""
    if spacing is None:
        return None
    try:
        dy, dx = _pair(spacing)
    except (TypeError, ValueError):
        return None
    return (dy, dx) if _usable(dy, dx) else None


def check_spacing(spacing: Any) -> tuple[float, float] | None:
    """(dy, dx) in mm, or None for None; ``ValueError`` for anything else that is not usable."""
    if spacing is None:
        return None
    try:
        dy, dx = _pair(spacing)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"spacing must be (dy, dx) in mm or None, got {spacing!r}") from exc
    if not _usable(dy, dx):
        raise ValueError(f"spacing must be finite and positive, got {spacing!r}")
    return (dy, dx)
