"""Percentiles of 8- and 16-bit pixel values from their histogram, bit for bit what
``np.percentile`` (its default, linear method) gives, several times faster on a radiograph's
million values: a count and a cumulative sum instead of a partition of the values. The display
window (core.radiograph) and the model input's intensity clip (core.letterbox) both use it."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["integer_percentiles"]


def integer_percentiles(sample: np.ndarray, pcts: tuple[float, ...]) -> list[float]:
    """``np.percentile(sample, pcts)`` (its default, linear method, to the last bit) of 8- or
    16-bit values, from their histogram: a count and a cumulative sum instead of a partition
    of the values (several times faster on a radiograph's million values)."""
    counts = np.bincount(sample.reshape(-1))
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    out = []
    for pct in pcts:
        position = np.true_divide(pct, 100) * (n - 1)
        below = math.floor(position)
        # the value of the k-th smallest: the first level whose cumulative count exceeds k
        a, b = (float(np.searchsorted(cumulative, k, side="right")) for k in (below, min(below + 1, n - 1)))
        t = position - below
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)  # numpy's _lerp
    return out
