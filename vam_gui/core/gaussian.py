"""The Gaussian window: the one formula for heatmap targets (design.md §3.5), in numpy.

``vam_gui.model.targets.gaussian_heatmaps`` builds the same maps in torch for training; the
dataset writer (io) builds the targets it stores with this module, so io never waits for
torch. tests/unit/test_targets.py holds the two to 1e-6 of each other.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def gaussian_windows(
    xy: npt.ArrayLike,
    size: int | tuple[int, int],
    sigma: float = 2.0,
    *,
    dtype: npt.DTypeLike = np.float32,
) -> np.ndarray:
    """[K, H, W] maps exp(-((x - x0)^2 + (y - y0)^2) / (2 sigma^2)), one per row (x0, y0)
    of ``xy`` ([K, 2], in the maps' pixels; pixel (i, j) has its centre at x = j, y = i).

    A row that is not finite gets an all-zero map. Built as the outer product of a column
    and a row profile (the Gaussian is separable), each computed in float32 and cast to
    ``dtype`` before the product, exactly as the torch generator does.
    """
    pts = np.asarray(xy, dtype=np.float32)
    if pts.ndim != 2 or pts.shape[-1] != 2:
        raise ValueError(f"xy must be [K, 2], got {list(pts.shape)}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    ok = np.asarray(np.isfinite(pts).all(axis=1))
    pts = np.where(ok[:, None], pts, np.float32(0.0))
    inv = np.float32(-0.5 / float(sigma) ** 2)
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)
    gx = np.exp((xs - pts[:, 0:1]) ** 2 * inv)  # [K, W]
    gy = np.exp((ys - pts[:, 1:2]) ** 2 * inv) * ok[:, None]  # [K, H]
    out_dtype = np.dtype(dtype)
    out: np.ndarray = gy.astype(out_dtype)[:, :, None] * gx.astype(out_dtype)[:, None, :]
    return out
