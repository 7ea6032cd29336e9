"""Guided re-prediction ("Predict here"): the second stage of the two-stage predictor, run on
a crop the reviewer chose, looking for each corner near where the reviewer put it.

The crop is a region the reviewer dragged, or else the predictor's own second-pass crop
(``core.crop.column_crop``, the same margin) around the *guide* points: those the reviewer
placed or moved (source "placed" or "moved": a fitted template, a moved column, single drags).
The guides are also the priors of the search windows: each of their corners is looked for
in an ellipse about where it is now (``ALONG`` heights along the column, ``ACROSS`` across
it). A corner without a guide is looked for, in the same ellipse, about the predictor's own
two-pass point (the crop alone often mistakes one level for the next; the whole film does
not). The result goes into the study through the ``PredictHere`` command
(``vam_gui.core.commands``), which keeps the reviewer's own points exactly; which points those
are is ``vam_gui.io.template.reviewer_points``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vam_gui.core.annotation import Annotation
from vam_gui.core.crop import REFINE_MARGIN, column_crop, vertebral_height
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.schema import Schema
from vam_gui.core.template import anchor_points
from vam_gui.model.dark import dark_decode
from vam_gui.model.predictor import Predictor

# Where a guide's corner is looked for, in vertebral heights: an ellipse about the guide,
# narrow along the column (the same corner of the next vertebra is 1 + a disc = about 1.25
# heights away: half of that keeps a corner on its own level) and wide across it (a template
# fitted from two clicks is straight, and a curved column leaves its middle a vertebra or
# more to the side).
ALONG = 0.6
ACROSS = 1.5

GUIDE_SOURCES = ("placed", "moved")


def guide_points(annotation: Annotation) -> np.ndarray:
    """[K] bool: the points the reviewer placed or moved (and that have a position)."""
    source = np.asarray(annotation.source, dtype=object)
    return np.isin(source, GUIDE_SOURCES) & np.isfinite(annotation.xy).all(axis=1)


def region_crop(region: Sequence[float], out_hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """``region`` (x0, y0, x1, y1) widened about its centre along one axis to the model
    input's aspect, so the crop shows more film rather than padding."""
    x0, y0, x1, y1 = (float(v) for v in region)
    x0, x1 = min(x0, x1), max(x0, x1)
    y0, y1 = min(y0, y1), max(y0, y1)
    w, h = x1 - x0, y1 - y0
    if not (np.isfinite([x0, y0, x1, y1]).all() and w > 1 and h > 1):
        raise ValueError(f"a region to predict in must be wider and higher than a pixel, got {tuple(region)}")
    out_h, out_w = out_hw
    if h / w < out_h / out_w:
        h = w * out_h / out_w
    else:
        w = h * out_w / out_h
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _axes(priors: np.ndarray, schema: Schema) -> np.ndarray:
    """[K, 2] unit vectors along the column at each keypoint: its vertebra's upper-endplate
    middle to lower-endplate middle in the guides, else the column's two anchors, else down."""
    where = schema.index_by_corner()
    top, bottom = anchor_points(priors, schema)
    column = bottom - top if np.isfinite(top).all() and np.isfinite(bottom).all() else np.array([0.0, 1.0])
    out = np.empty((schema.k, 2))
    for i, v in enumerate(schema.vertebra):
        corners = [where.get((v, c)) for c in range(4)]
        axis = column
        if all(c is not None for c in corners):
            a, b, c, d = (priors[j] for j in corners)  # type: ignore[index]
            local = (c + d - a - b) / 2
            if np.isfinite(local).all() and np.hypot(*local) > 0:
                axis = local
        n = float(np.hypot(*axis))
        out[i] = axis / n if n > 0 else (0.0, 1.0)
    return out


def guided_windows(box: Letterbox, priors: np.ndarray, schema: Schema, shape: tuple[int, int], *,
                   sigma: float, along: float = ALONG, across: float = ACROSS) -> torch.Tensor:
    """bool [K, H, W] (model px of ``box``): for a keypoint with a prior, an ellipse about it
    ``along`` x ``across`` vertebral heights (half-axes, along and across the column; at least
    3 sigma); for one without, the whole map."""
    h, w = shape
    height = vertebral_height(priors, schema.vertebra_array(), schema.corner_array())
    centre = box.to_model(priors)
    axes = _axes(priors, schema)
    yy = torch.arange(h, dtype=torch.float32)[None, :, None]
    xx = torch.arange(w, dtype=torch.float32)[None, None, :]
    a = max(along * (height or 0.0) * box.scale, 3 * sigma)
    b = max(across * (height or 0.0) * box.scale, 3 * sigma)
    c = torch.from_numpy(np.nan_to_num(centre)).float()
    u = torch.from_numpy(axes).float()
    dx, dy = xx - c[:, 0, None, None], yy - c[:, 1, None, None]
    t = dx * u[:, 0, None, None] + dy * u[:, 1, None, None]  # along the column
    n = -dx * u[:, 1, None, None] + dy * u[:, 0, None, None]  # across it
    win = (t / a) ** 2 + (n / b) ** 2 <= 1.0
    win[torch.from_numpy(~np.isfinite(priors).all(axis=1))] = True
    return win


def _on_edge(xy_model: np.ndarray, windows: torch.Tensor) -> np.ndarray:
    """[K] bool: the peak's pixel touches the edge of its window (the tail of a peak outside
    the window, not a peak of its own); a window that is the whole map has no such edge."""
    k, h, w = windows.shape
    win = windows.cpu().numpy()
    out = np.zeros(k, dtype=bool)
    for i, (x, y) in enumerate(np.rint(xy_model).astype(int)):
        if win[i].all():
            continue
        x, y = min(max(x, 0), w - 1), min(max(y, 0), h - 1)
        near = win[i, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
        out[i] = not near.all() or not win[i, y, x]
    return out


def predict_here(predictor: Predictor, radiograph, annotation: Annotation, schema: Schema, *,
                 region: Sequence[float] | None = None) -> np.ndarray:
    """[K, 2] new points (original px) from the second stage on a crop around ``region``
    ((x0, y0, x1, y1) original px) or, without one, around the guide points (placed or moved;
    margin as the predictor's own crop). Each guide's corner is looked for near it
    (``guided_windows``), the others near the predictor's own points (one extra whole
    ``predictor.predict``, only when some keypoint has no guide). NaN where nothing was found: a peak
    that only reaches into its window from outside, or a point outside the region (or the
    crop); ``PredictHere`` leaves such points as they are. ``radiograph``: a Radiograph or an
    [H, W] array."""
    if annotation.k != schema.k:
        raise ValueError(f"annotation of {annotation.k} points for schema {schema.name!r} of {schema.k}")
    guides = guide_points(annotation)
    priors = np.where(guides[:, None], annotation.xy, np.nan)
    hw = predictor.config.input_hw
    if region is not None:
        crop = region_crop(region, hw)
        x0, y0, x1, y1 = (float(v) for v in region)
        inside = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    else:
        found = column_crop(priors, schema.vertebra_array(), schema.corner_array(), hw, margin=REFINE_MARGIN)
        if found is None:
            raise ValueError("place or move at least two points first, or drag a region to predict in")
        crop = inside = found
    if not guides.all():
        # The second stage alone mistakes one level for the next; where the reviewer gave no
        # guide, the predictor's own points (the whole film fixes which vertebra is which)
        # are the priors, as in its second pass.
        own = np.asarray(predictor.predict(radiograph, schema=schema).xy, dtype=np.float64)
        priors = np.where(guides[:, None], priors, own)
    maps, box = predictor.crop_heatmaps(radiograph, crop, schema=schema)
    sigma = predictor.config.sigma
    windows = guided_windows(box, priors, schema, (maps.shape[-2], maps.shape[-1]), sigma=sigma)
    xy_model = dark_decode(maps[None], sigma=sigma, search=windows[None])[0][0].cpu().numpy()
    xy = np.asarray(box.to_original(xy_model), dtype=np.float64)
    x0, y0, x1, y1 = inside
    outside = ~((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))
    xy[outside | _on_edge(xy_model, windows)] = np.nan
    return xy
