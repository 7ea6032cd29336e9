"""Where the second prediction pass looks: a crop around a set of vertebrae.

The first pass on the whole film finds the study schema's vertebrae; the second predicts on a
crop around them, with a margin of vertebral heights on every side and the crop's aspect
matched to the model input, at the model's full resolution. Training cuts its crops with the
same function (plus jitter), so the second stage sees what the first hands it.
"""

from __future__ import annotations

import numpy as np

# The margin the predictor asks for, in vertebral heights on every side: at least one
# vertebra above and below (design.md §12), half a vertebra more for a first pass that is off.
REFINE_MARGIN = 1.5


def vertebral_height(xy: np.ndarray, vertebra: np.ndarray, corner: np.ndarray) -> float | None:
    """Median middle height (upper endplate midpoint to lower endplate midpoint) over the
    vertebrae whose four corners are known; None when there is none."""
    xy = np.asarray(xy, dtype=np.float64)
    heights = []
    for v in np.unique(vertebra):
        pts = {int(c): xy[i] for i, c in zip(np.flatnonzero(vertebra == v), corner[vertebra == v])}
        if all(c in pts and np.isfinite(pts[c]).all() for c in range(4)):
            upper = (pts[0] + pts[1]) / 2
            lower = (pts[2] + pts[3]) / 2
            heights.append(float(np.hypot(*(lower - upper))))
    heights = [h for h in heights if h > 0]
    return float(np.median(heights)) if heights else None


def column_crop(xy: np.ndarray, vertebra: np.ndarray, corner: np.ndarray, out_hw: tuple[int, int], *,
                margin: float = REFINE_MARGIN, centre_shift: tuple[float, float] = (0.0, 0.0),
                zoom: float = 1.0) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) pixel edges in original px of a crop holding the given points with
    ``margin`` vertebral heights on every side, widened along one axis so that its aspect is
    the model input's. ``centre_shift`` (in vertebral heights) and ``zoom`` (> 1: a larger
    crop) are for training jitter. None when fewer than two points are known. The crop may
    reach past the image: that part is padding, as in the letterbox."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    known = np.isfinite(xy).all(axis=1)
    if known.sum() < 2:
        return None
    pts = xy[known]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    h = vertebral_height(xy, np.asarray(vertebra), np.asarray(corner))
    if h is None:  # no complete vertebra: a share of the points' extent
        h = max(float((hi - lo).max()) / max(len(np.unique(np.asarray(vertebra)[known])), 1), 1.0)
    lo, hi = lo - margin * h, hi + margin * h
    out_h, out_w = out_hw
    w, ht = hi - lo
    # Widen the narrow side so that the crop has the input's aspect (nothing is cut off).
    if ht / w < out_h / out_w:
        ht = w * out_h / out_w
    else:
        w = ht * out_w / out_h
    centre = (lo + hi) / 2 + np.asarray(centre_shift, dtype=np.float64) * h
    half = np.array([w, ht]) * zoom / 2
    x0, y0 = centre - half
    x1, y1 = centre + half
    return float(x0), float(y0), float(x1), float(y1)
