"""Appearance: soft tissue -- the body silhouette, lungs and heart, bowel gas, and (difficulty
above 1) thicker tissue with abdominal folds or the arms, and gas over the bodies.

Smooth fields are computed on a coarse grid in the canonical frame and resized to the film.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vam_gui.synth.anatomy import ORDER, Level
from vam_gui.synth.dice import Dice
from vam_gui.synth.projection import Projection, affine_apply
from vam_gui.synth.raster import ONE, SUB_BITS


def smooth_in(dist: np.ndarray, soft: float) -> np.ndarray:
    """1 inside (dist < 0), 0 outside, a tanh ramp ``soft`` wide between."""
    return 0.5 * (1.0 + np.tanh(-dist / max(soft, 1e-3)))


@dataclass(frozen=True)
class Torso:
    """Where the column and the body lie in the canonical frame (px)."""

    col_x: float  # the schema's bodies' mean x
    w_ref: float  # their mean width
    pitch: float  # mean distance between neighbouring levels
    y_of: dict[str, float]  # drawn level -> centre y
    top: str  # first and last drawn level
    bottom: str
    tissue: float = 0.0  # the silhouette's density
    mid_u: float = 0.0  # the silhouette's centre and half width
    half: float = 0.0
    y_dia: float = 0.0  # the diaphragm

    @classmethod
    def measure(cls, levels: list[Level], schema_pos: list[int]) -> Torso:
        return cls(col_x=float(np.mean([levels[p].center[0] for p in schema_pos])),
                   w_ref=float(np.mean([levels[p].w for p in schema_pos])),
                   pitch=float(np.mean(np.diff([lv.center[1] for lv in levels]))),
                   y_of={lv.name: float(lv.center[1]) for lv in levels},
                   top=levels[0].name, bottom=levels[-1].name)

    def level_y(self, name: str) -> float:
        """Centre y of level ``name``, extrapolated by the pitch beyond the drawn levels."""
        if name in self.y_of:
            return self.y_of[name]
        i_ref = ORDER.index(self.top)
        i = ORDER.index(name)
        if i < i_ref:
            return self.y_of[self.top] - (i_ref - i) * self.pitch
        return self.y_of[self.bottom] + (i - ORDER.index(self.bottom)) * self.pitch


def draw_background(dice: Dice, proj: Projection, levels: list[Level], schema_pos: list[int],
                    *, lat: bool) -> tuple[Torso, np.ndarray]:
    """(torso, [H, W] float32 field): silhouette, air, lungs and heart (AP), bowel gas."""
    import cv2

    rng = dice.rng
    _, _, X, Y = proj.canonical_grid(8)
    t = Torso.measure(levels, schema_pos)
    bg = np.zeros_like(X)
    tissue = float(rng.uniform(0.28, 0.42))
    if lat:
        post_edge = t.col_x - t.w_ref * float(rng.uniform(2.9, 3.6))
        ant_edge = t.col_x + t.w_ref * float(rng.uniform(2.8, 4.5))
        mid_u, half = 0.5 * (post_edge + ant_edge), 0.5 * (ant_edge - post_edge)
    else:
        half = t.w_ref * float(rng.uniform(2.6, 3.8))
        mid_u = t.col_x + t.w_ref * float(rng.uniform(-0.3, 0.3))
    r = np.clip((X - mid_u) / half, -1.5, 1.5)
    thick = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0))
    bg += tissue * (0.15 + 0.85 * thick) * smooth_in(np.abs(r) - 1.0, 0.03)
    bg += 0.02  # air is not quite black
    y_dia = t.level_y("T11") - float(rng.uniform(0.2, 1.0)) * t.pitch
    torso = Torso(col_x=t.col_x, w_ref=t.w_ref, pitch=t.pitch, y_of=t.y_of, top=t.top,
                  bottom=t.bottom, tissue=tissue, mid_u=mid_u, half=half, y_dia=y_dia)
    if not lat:
        _lungs_and_heart(bg, rng, X, Y, torso, thick)
    dice.params["bowel_gas"] = _bowel_gas(bg, rng, X, Y, torso, lat=lat)
    out: np.ndarray = cv2.resize(bg.astype(np.float32), (proj.width, proj.height),
                                 interpolation=cv2.INTER_LINEAR)
    return torso, out


def _lungs_and_heart(bg: np.ndarray, rng: np.random.Generator, X: np.ndarray, Y: np.ndarray,
                     t: Torso, thick: np.ndarray) -> None:
    """Lung fields (dark) and the heart shadow above the diaphragm, into ``bg``."""
    col_x, w_ref, pitch = t.col_x, t.w_ref, t.pitch
    lung_amp = float(rng.uniform(0.15, 0.24))
    apex = t.level_y("T1") - 1.5 * pitch
    for sgn in (-1.0, 1.0):
        inner = w_ref * 0.95
        outer = t.half * 0.92
        cxl = col_x + sgn * 0.5 * (inner + outer)
        rxl = 0.5 * (outer - inner)
        ax = (X - cxl) / rxl
        dome = t.y_dia + 0.9 * pitch * np.clip(np.abs(X - col_x) - inner, 0, None) / rxl
        ry = 0.5 * (dome - apex)
        ay = (Y - 0.5 * (dome + apex)) / np.maximum(ry, 1.0)
        dist = (np.sqrt(ax * ax + ay * ay) - 1.0) * rxl
        bg -= lung_amp * thick * smooth_in(dist, 0.08 * rxl)
    hx = col_x + w_ref * float(rng.uniform(0.6, 1.0))
    hy = t.y_dia - 2.2 * pitch
    dist = (np.hypot((X - hx) / (1.6 * w_ref), (Y - hy) / (2.6 * pitch)) - 1.0) * w_ref
    bg += 0.6 * lung_amp * smooth_in(dist, 0.2 * w_ref)


def _bowel_gas(bg: np.ndarray, rng: np.random.Generator, X: np.ndarray, Y: np.ndarray, t: Torso,
               *, lat: bool) -> int:
    """Soft dark pockets below the diaphragm, into ``bg``; their number."""
    n_gas = int(rng.integers(2, 9))
    for _ in range(n_gas):
        if lat:
            gxp = t.col_x + t.w_ref * float(rng.uniform(0.7, 3.5))
        else:
            gxp = t.col_x + t.w_ref * float(rng.uniform(-2.5, 2.5))
        gyp = float(rng.uniform(t.y_dia + t.pitch, t.level_y("L5") + 2 * t.pitch))
        rg = t.w_ref * float(rng.uniform(0.2, 0.6))
        amp_g = float(rng.uniform(0.02, 0.08))
        bg -= amp_g * np.exp(-(((X - gxp) ** 2 + ((Y - gyp) * 1.3) ** 2) / (rg * rg)))
    return n_gas


# ---------------------------------------------------------------------------------------
# Difficulty above 1 (the extras' stream)
# ---------------------------------------------------------------------------------------


def more_soft_tissue(img: np.ndarray, proj: Projection, t: Torso, *, lat: bool, dice: Dice) -> None:
    """Add (in place) thicker soft tissue, folds or arms, and bowel gas over the column."""
    import cv2

    x, rng = dice.x, dice.xrng
    _, _, X, Y = proj.canonical_grid(4)
    r = np.clip((X - t.mid_u) / t.half, -1.5, 1.5)
    thick = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0)) * smooth_in(np.abs(r) - 1.0, 0.03)
    extra = x * float(rng.uniform(0.2, 0.6))
    add = t.tissue * extra * (0.3 + 0.7 * thick) * smooth_in(np.abs(r) - 1.0, 0.03)
    if lat:
        folds = _arms(add, X, Y, t, x, rng)
    else:
        folds = _aprons(add, X, Y, t, thick, x, rng)
    img += cv2.resize(add.astype(np.float32), (proj.width, proj.height),
                      interpolation=cv2.INTER_LINEAR)
    dice.extras.update(tissue_extra=extra, folds=folds)
    dice.extras["gas_pockets"] = _gas_over_column(img, proj, t, lat=lat, x=x, rng=rng)


def _arms(add: np.ndarray, X: np.ndarray, Y: np.ndarray, t: Torso, x: float,
          rng: np.random.Generator) -> list[str]:
    """The arms, held forward in a standing lateral film, across the upper column."""
    folds = []
    for _ in range(int(rng.integers(1, 3))):
        cy = float(rng.uniform(t.y_dia - 3.0 * t.pitch, t.y_dia + 1.5 * t.pitch))
        cx = t.col_x + t.w_ref * float(rng.uniform(-0.5, 1.5))
        ang = math.radians(float(rng.uniform(-35.0, 35.0)))
        length, width = t.w_ref * float(rng.uniform(5.0, 9.0)), t.w_ref * float(rng.uniform(0.9, 1.6))
        u = (X - cx) * math.cos(ang) + (Y - cy) * math.sin(ang)
        v = -(X - cx) * math.sin(ang) + (Y - cy) * math.cos(ang)
        prof = (np.sqrt(np.clip(1.0 - (v / width) ** 2, 0.0, 1.0))
                * smooth_in(np.abs(u) - length / 2, 0.1 * width))
        amp_arm = x * float(rng.uniform(0.08, 0.18))
        add += amp_arm * prof
        # the humerus inside it: a faint band
        add += 0.35 * amp_arm * smooth_in(np.abs(v) - 0.22 * width, 0.05 * width) * smooth_in(
            np.abs(u) - 0.45 * length, 0.1 * width)
        folds.append("arm")
    return folds


def _aprons(add: np.ndarray, X: np.ndarray, Y: np.ndarray, t: Torso, thick: np.ndarray, x: float,
            rng: np.random.Generator) -> list[str]:
    """Abdominal apron / skin folds: extra tissue below a soft, sagging edge."""
    folds = []
    y_l5 = t.level_y("L5")
    for _ in range(int(rng.integers(1, 3))):
        y0 = float(rng.uniform(y_l5 - 3.0 * t.pitch, y_l5 + 1.0 * t.pitch))
        sag = t.pitch * float(rng.uniform(0.3, 1.5))
        edge = y0 + sag * (1.0 - np.clip(((X - t.col_x) / t.half) ** 2, 0.0, 1.0))
        add += x * float(rng.uniform(0.04, 0.1)) * thick * smooth_in(edge - Y, 0.15 * t.pitch)
        folds.append("apron")
    return folds


def _gas_over_column(img: np.ndarray, proj: Projection, t: Torso, *, lat: bool, x: float,
                     rng: np.random.Generator) -> int:
    """Bowel gas pockets and mottled stool over (lateral: and in front of) the bodies."""
    import cv2

    w_ref, scale = t.w_ref, proj.scale
    gas = np.zeros((proj.height, proj.width), dtype=np.float32)
    n_pockets = round(x * rng.integers(6, 16) if lat else x * rng.integers(2, 7))
    for _ in range(n_pockets):
        if lat:
            gxp = t.col_x + w_ref * float(rng.uniform(-0.9, 2.5))
        else:
            gxp = t.col_x + w_ref * float(rng.uniform(-1.6, 1.6))
        gyp = float(rng.uniform(t.y_dia + 0.5 * t.pitch, t.level_y("L5") + 1.5 * t.pitch))
        centre = affine_apply(proj.a, np.array([[gxp, gyp]]))[0]
        depth = float(rng.uniform(0.03, 0.1))
        if rng.random() < 0.4:  # mottled: a cluster of small bubbles
            for _ in range(int(rng.integers(5, 14))):
                off = rng.normal(0.0, 0.35 * w_ref * scale, 2)
                rad = w_ref * scale * float(rng.uniform(0.04, 0.1))
                cv2.circle(gas, tuple(int(v) for v in np.round((centre + off) * ONE)),
                           max(1, round(rad * ONE)), depth, -1, cv2.LINE_AA, SUB_BITS)
        else:
            rx = w_ref * scale * float(rng.uniform(0.2, 0.7))
            ry = rx * float(rng.uniform(0.4, 1.0))
            cv2.ellipse(gas, tuple(int(v) for v in np.round(centre * ONE)),
                        (max(1, int(rx * ONE)), max(1, int(ry * ONE))),
                        float(rng.uniform(0, 180)), 0, 360, depth, -1, cv2.LINE_AA, SUB_BITS)
    if n_pockets:
        gas = np.asarray(cv2.GaussianBlur(gas, (0, 0), max(1.0, 0.06 * w_ref * scale)))
        img -= gas * (0.6 + 0.4 * t.tissue / 0.35)
    return int(n_pockets)
