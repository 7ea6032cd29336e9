"""The shortcuts in core/checks.py give what the plain computation gives, bit for bit."""

from __future__ import annotations

import numpy as np

from vam_gui.core.checks import _middle_height, median_middle_height
from vam_gui.core.outlines import apart, bounds, overlaps


def _plain_median_middle_height(table: np.ndarray) -> float | None:
    heights = [_middle_height(c) for c in table if np.isfinite(c).all()]
    return float(np.median(heights)) if heights else None


def test_median_middle_height_is_np_median_of_the_heights():
    rng = np.random.default_rng(7)
    for _ in range(3000):
        nv = int(rng.integers(0, 18))
        table = rng.normal(0, 10 ** rng.uniform(-2, 3), (nv, 4, 2)) + rng.uniform(-500, 500)
        table[rng.random((nv, 4, 2)) < rng.uniform(0, 0.25)] = np.nan
        if rng.random() < 0.3:
            table = np.round(table)  # ties and equal heights
        assert median_middle_height(table) == _plain_median_middle_height(table)


def test_apart_boxes_never_overlap():
    rng = np.random.default_rng(3)
    for _ in range(2000):
        a = rng.uniform(0, 10, (4, 2))
        b = rng.uniform(0, 10, (4, 2)) + rng.uniform(-8, 8, 2)
        if apart(bounds(a), bounds(b)):
            assert not overlaps(a, b)
