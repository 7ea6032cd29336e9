"""Projection: the film's size, the column placed in it, and the bodies' outlines in the image.

The canonical frame (column upright, schema span centred) maps to the image by one similarity
``A`` ([2, 3]: rotation, scale, shift; mirrored for a lateral film facing left). Everything
drawn later is placed through :meth:`Projection.to_image`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vam_gui.synth.anatomy import Column, Level, sacrum_outline
from vam_gui.synth.dice import Dice

# (level, points in the level's local frame) -> image px
LevelToImage = Callable[[Level, np.ndarray], np.ndarray]


def affine_apply(a: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64)
    out: np.ndarray = pts @ a[:, :2].T + a[:, 2]
    return out


def affine_inv(a: np.ndarray) -> np.ndarray:
    m = np.linalg.inv(a[:, :2])
    return np.concatenate([m, -(m @ a[:, 2])[:, None]], axis=1)


def film_size(dice: Dice, size: tuple[int, int] | None, *, tall: bool) -> tuple[int, int]:
    """(H, W): ``size`` or drawn (H 640..1024; W 0.7..0.9 H, 0.4..0.55 H for a tall column).

    The draws happen either way, so an explicit size leaves every later number unchanged.
    """
    rng = dice.rng
    h_draw = int(rng.integers(640, 1025))
    aspect = float(rng.uniform(0.4, 0.55) if tall else rng.uniform(0.7, 0.9))
    if size is None:
        H, W = h_draw, int(round(h_draw * aspect))
    else:
        H, W = int(size[0]), int(size[1])
        if H < 16 or W < 16:
            raise ValueError(f"phantom size must be at least 16x16, got {size}")
    dice.params["size"] = [H, W]
    return H, W


@dataclass(frozen=True)
class Projection:
    height: int
    width: int
    a: np.ndarray  # [2, 3] canonical -> image
    scale: float  # the global scale (canonical -> image px)
    spacing: float  # image mm per px

    def to_image(self, lv: Level, local: np.ndarray) -> np.ndarray:
        """Points in ``lv``'s local frame -> image px."""
        return affine_apply(self.a, lv.to_canon(local))

    def canonical_grid(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(GX, GY, X, Y): a coarse image grid about ``step`` px apart (covering the film, for
        smooth fields resized to full size) and its points in the canonical frame."""
        H, W = self.height, self.width
        hc, wc = (H + step - 1) // step + 1, (W + step - 1) // step + 1
        gy = (np.arange(hc) + 0.5) * (H / hc) - 0.5
        gx = (np.arange(wc) + 0.5) * (W / wc) - 0.5
        GX, GY = np.meshgrid(gx, gy)
        inv = affine_inv(self.a)
        X = inv[0, 0] * GX + inv[0, 1] * GY + inv[0, 2]
        Y = inv[1, 0] * GX + inv[1, 1] * GY + inv[1, 2]
        return GX, GY, X, Y


def fit_in_image(a: np.ndarray, pts_canon: np.ndarray, width: int, height: int,
                 margin: float = 0.02) -> tuple[np.ndarray, float]:
    """(A', f): the canonical -> image transform shrunk by f <= 1 and shifted so that every
    point of ``pts_canon`` lies at least ``margin`` (fraction of the size) inside the image."""
    pts = affine_apply(a, pts_canon)
    lo_b = np.array([margin * (width - 1), margin * (height - 1)])
    hi_b = np.array([(1 - margin) * (width - 1), (1 - margin) * (height - 1)])
    p0, p1 = pts.min(axis=0), pts.max(axis=0)
    ext = np.maximum(p1 - p0, 1e-9)
    f = float(min(1.0, *((hi_b - lo_b) / ext)))
    c = 0.5 * (p0 + p1)
    q0, q1 = c - f * 0.5 * ext, c + f * 0.5 * ext
    shift = np.maximum(lo_b - q0, 0.0) - np.maximum(q1 - hi_b, 0.0)
    out = np.concatenate([f * a[:, :2], (f * (a[:, 2] - c) + c + shift)[:, None]], axis=1)
    return out, f


def _centre_span(col: Column, *, lat: bool, height: int, width: int) -> np.ndarray:
    """Shift the levels so the schema's bodies are centred; their corners, canonical frame."""
    levels, span = col.levels, col.span
    span_pts = np.concatenate([levels[p].to_canon(levels[p].corners) for p in span.schema_pos])
    if span.names[span.last] == "S1" and lat:  # only the sacrum's top edge is labelled
        span_pts = np.concatenate([span_pts[:-4], levels[span.last].to_canon(
            levels[span.last].corners[:2])])
    mid = 0.5 * (span_pts.min(axis=0) + span_pts.max(axis=0))
    offset = np.array([(width - 1) / 2.0, (height - 1) / 2.0]) - mid
    for lv in levels:
        lv.center = lv.center + offset
    out: np.ndarray = span_pts + offset
    return out


def project(dice: Dice, col: Column, *, lat: bool, facing: str | None, height: int,
            width: int) -> Projection:
    """Centre the schema's span, then draw the global rotation, scale and shift."""
    H, W, d = height, width, dice.d
    span_pts = _centre_span(col, lat=lat, height=H, width=W)
    rot = d * float(dice.rng.uniform(-10.0, 10.0))
    scale = 1.0 + d * float(dice.rng.uniform(-0.15, 0.15))
    trans = d * dice.rng.uniform(-0.05, 0.05, 2) * np.array([W, H])
    dice.params.update(rotation_deg=rot, scale=scale, translation_px=trans.tolist())
    c0 = np.array([(W - 1) / 2.0, (H - 1) / 2.0])
    ca, sa = math.cos(math.radians(rot)), math.sin(math.radians(rot))
    R = scale * np.array([[ca, -sa], [sa, ca]])
    mirror = np.eye(2)
    mirror_t = np.zeros(2)
    if facing == "left":
        mirror = np.array([[-1.0, 0.0], [0.0, 1.0]])
        mirror_t = np.array([W - 1.0, 0.0])
    lin = R @ mirror
    A = np.concatenate([lin, (R @ (mirror_t - c0) + c0 + trans)[:, None]], axis=1)
    if dice.x > 0:  # stronger curves: keep every landmark inside the image
        A, f_fit = fit_in_image(A, span_pts, W, H)
        scale *= f_fit
        dice.extras["fit_scale"] = f_fit
    spacing = col.spacing_mm / scale
    dice.params["spacing_mm"] = spacing
    return Projection(height=H, width=W, a=A, scale=scale, spacing=spacing)


def image_outlines(levels: list[Level], proj: Projection, *, lat: bool) -> list[np.ndarray]:
    """Each drawn body's outline in image px (the sacrum's starts with its SP, SA corners)."""
    outlines: list[np.ndarray] = []
    for lv in levels:
        if lv.name == "S1":
            outlines.append(proj.to_image(lv, sacrum_outline(lv, lat)))
            lv.corner_idx = (1, 0)  # the sacrum outline starts SP, SA
        else:
            outlines.append(proj.to_image(lv, lv.outline))
    return outlines
