"""Whole-column shapes and rigid moves of points (numpy only): what the gestures compute.

A *shape* is [K, 2] points of a schema in any frame. Its two *anchors* are the middle of the
first vertebra's upper endplate and the middle of the last vertebra's lower endplate: the two
points a reviewer clicks to fit a template (:func:`fit_shape`). Shapes are compared and
averaged in a *canonical frame* (:func:`canonical_shape`): top anchor at (0, 0), bottom anchor
at (0, 1), and on lateral schemas the anterior side towards -x (facing "left"), so that films
of patients facing either way average into one shape.

Angles turn counter-clockwise *as displayed*: image y points down, so in image coordinates a
positive angle is x' = cx + c(x - cx) + s(y - cy), y' = cy - s(x - cx) + c(y - cy).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from vam_gui.core.schema import Schema

# The default shape, in vertebral body heights: body width and disc height (AP and lateral
# alike: a lumbar body is about 1.4 times as wide, or as deep, as it is high).
BODY_WIDTH = 1.4
DISC_HEIGHT = 0.25


def template_anchors(schema: Schema) -> tuple[tuple[int, int], tuple[int, int]]:
    """((i, j), (k, l)): the keypoints whose middles are the two anchors: corners 0 and 1 of
    the first vertebra that has both, corners 2 and 3 of the last vertebra that has both (on
    lumbar-lat-22, L5's lower endplate: S1 has only its upper one)."""
    where = schema.index_by_corner()
    levels = sorted(set(schema.vertebra))
    upper = [(where[(v, 0)], where[(v, 1)]) for v in levels if (v, 0) in where and (v, 1) in where]
    lower = [(where[(v, 2)], where[(v, 3)]) for v in levels if (v, 2) in where and (v, 3) in where]
    if not upper or not lower:
        raise ValueError(f"schema {schema.name!r} has no complete upper or lower endplate to fit a template to")
    return upper[0], lower[-1]


def anchor_names(schema: Schema) -> tuple[str, str]:
    """What to ask the reviewer to click, e.g. ("L1 upper endplate", "L5 lower endplate")."""
    (top, _), (bottom, _) = template_anchors(schema)
    return (f"{schema.vertebrae[schema.vertebra[top]]} upper endplate",
            f"{schema.vertebrae[schema.vertebra[bottom]]} lower endplate")


def anchor_points(xy: np.ndarray, schema: Schema) -> tuple[np.ndarray, np.ndarray]:
    """(top, bottom) anchor points of a shape (NaN where a corner is missing)."""
    xy = np.asarray(xy, dtype=np.float64)
    (a, b), (c, d) = template_anchors(schema)
    return (xy[a] + xy[b]) / 2, (xy[c] + xy[d]) / 2


def default_shape(schema: Schema) -> np.ndarray:
    """[K, 2] a plausible straight column from the schema alone, in vertebral heights: the
    vertebrae stacked downwards in the schema's order, bodies ``BODY_WIDTH`` wide with
    ``DISC_HEIGHT`` discs, corner 0/2 on the left (AP: UL, LL; lateral: anterior, facing left)."""
    out = np.empty((schema.k, 2))
    for i, (v, c) in enumerate(zip(schema.vertebra, schema.corner)):
        x = BODY_WIDTH / 2 * (1 if c in (1, 3) else -1)
        y = v * (1 + DISC_HEIGHT) + (1.0 if c in (2, 3) else 0.0)
        out[i] = (x, y)
    return out


def _similarity(src: tuple[np.ndarray, np.ndarray], dst: tuple[np.ndarray, np.ndarray], xy: np.ndarray) -> np.ndarray:
    """Map ``xy`` by the rotation + uniform scale + translation taking src[0] -> dst[0] and
    src[1] -> dst[1] (as complex numbers: z' = d0 + (z - s0) (d1 - d0) / (s1 - s0))."""
    s0, s1 = complex(*src[0]), complex(*src[1])
    d0, d1 = complex(*dst[0]), complex(*dst[1])
    if s1 == s0:
        raise ValueError("the shape's two anchors coincide: it cannot be fitted")
    m = (d1 - d0) / (s1 - s0)
    z = xy[:, 0] + 1j * xy[:, 1]
    w = d0 + (z - s0) * m
    return np.stack([w.real, w.imag], axis=1)


def _anterior_side(xy: np.ndarray, schema: Schema, top: np.ndarray, bottom: np.ndarray) -> float:
    """> 0 when the anterior corners (0, 2) lie on the displayed left of the column axis
    (top -> bottom), < 0 on the right, 0 when unknown."""
    corner = schema.corner_array()
    ant, post = xy[np.isin(corner, (0, 2))], xy[np.isin(corner, (1, 3))]
    ant, post = ant[np.isfinite(ant).all(axis=1)], post[np.isfinite(post).all(axis=1)]
    if not len(ant) or not len(post):
        return 0.0
    axis = bottom - top
    v = ant.mean(axis=0) - post.mean(axis=0)
    return float(axis[0] * v[1] - axis[1] * v[0])


def _mirror(xy: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Reflect about the line through the two anchors (which stay where they are)."""
    u = (bottom - top) / np.hypot(*(bottom - top))
    rel = xy - top
    along = rel @ u
    out: np.ndarray = top + 2 * along[:, None] * u - rel
    return out


def canonical_shape(xy: np.ndarray, schema: Schema) -> np.ndarray | None:
    """The shape in the canonical frame (anchors at (0, 0) and (0, 1); lateral: anterior
    towards -x), or None when an anchor is missing or the two coincide."""
    xy = np.asarray(xy, dtype=np.float64).reshape(schema.k, 2)
    top, bottom = anchor_points(xy, schema)
    if not (np.isfinite(top).all() and np.isfinite(bottom).all()) or np.array_equal(top, bottom):
        return None
    zero, one = np.zeros(2), np.array([0.0, 1.0])
    out = _similarity((top, bottom), (zero, one), xy)
    if schema.view == "LAT" and _anterior_side(out, schema, zero, one) < 0:
        out = _mirror(out, zero, one)
    return out


def fit_shape(shape: np.ndarray, schema: Schema, top_xy: Iterable[float], bottom_xy: Iterable[float], *,
              facing: str | None = None) -> np.ndarray:
    """[K, 2] ``shape`` scaled, rotated and moved so that its top anchor lands on ``top_xy``
    and its bottom anchor on ``bottom_xy`` (image px). Lateral schemas: with ``facing``
    ("left"/"right") the anterior corners are put on that side of the column."""
    shape = np.asarray(shape, dtype=np.float64).reshape(schema.k, 2)
    top, bottom = np.asarray(list(top_xy), dtype=np.float64), np.asarray(list(bottom_xy), dtype=np.float64)
    if not (np.isfinite(top).all() and np.isfinite(bottom).all()):
        raise ValueError("the template's two points must be finite")
    if np.array_equal(top, bottom):
        raise ValueError("the template's two points coincide: click the top and the bottom of the column")
    out = _similarity(anchor_points(shape, schema), (top, bottom), shape)
    if schema.view == "LAT" and facing in ("left", "right"):
        side = _anterior_side(out, schema, top, bottom)
        if (side < 0) == (facing == "left") and side != 0:
            out = _mirror(out, top, bottom)
    return out


def _cos_sin(angle_deg: float) -> tuple[float, float]:
    """cos and sin, exact at whole quarter turns (so a 90 degree turn gives exact corners)."""
    quarter = angle_deg / 90.0
    if quarter == round(quarter):
        return ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))[int(round(quarter)) % 4]
    a = math.radians(angle_deg)
    return math.cos(a), math.sin(a)


def move_points(xy: np.ndarray, dx: float, dy: float, angle_deg: float = 0.0) -> np.ndarray:
    """Turn the finite points of ``xy`` by ``angle_deg`` (counter-clockwise as displayed)
    about their centroid, then translate them by (dx, dy); NaN rows stay NaN."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    known = np.isfinite(xy).all(axis=1)
    out: np.ndarray = xy.copy()
    if not known.any():
        return out
    cx, cy = xy[known].mean(axis=0)
    c, s = _cos_sin(float(angle_deg))
    x, y = xy[known, 0] - cx, xy[known, 1] - cy
    out[known, 0] = cx + c * x + s * y + dx
    out[known, 1] = cy - s * x + c * y + dy
    return out
