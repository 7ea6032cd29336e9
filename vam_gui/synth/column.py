"""Anatomy: the column's curve (lordosis or scoliosis) and the levels placed along it.

The curve is a heading ``alpha(s)`` over the arc length ``s`` (canonical px), integrated into
centre-line points; each level sits at its arc length, turned by the heading plus its own tilt.
Above difficulty 1 the AP curve grows towards a drawn Cobb angle and the apical bodies rotate
axially (:func:`scoliosis_amp`, :func:`axial_rotation`, from the extras' own stream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vam_gui.synth.anatomy import Column, Level
from vam_gui.synth.dice import Dice


@dataclass(frozen=True)
class Curve:
    s_grid: np.ndarray  # arc length samples, 0.5 px apart
    alpha: np.ndarray  # heading at each sample (radians from +y towards +x)
    cx: np.ndarray  # centre line, canonical px
    cy: np.ndarray
    g: np.ndarray | None  # AP: lateral displacement of the scoliotic curve; LAT: None
    facing: str | None  # LAT: the side the anterior is displayed on
    s1_extra: float  # LAT: the sacrum's extra turn (radians)

    def along(self, sv: float) -> tuple[np.ndarray, float]:
        """(centre point, heading) at arc length ``sv``."""
        return (np.array([np.interp(sv, self.s_grid, self.cx), np.interp(sv, self.s_grid, self.cy)]),
                float(np.interp(sv, self.s_grid, self.alpha)))


def _lordosis(dice: Dice, col: Column, s_grid: np.ndarray) -> tuple[np.ndarray, str, float]:
    """LAT heading: lordotic (concave posteriorly) from the top of the span to the sacrum."""
    rng, d = dice.rng, dice.d
    facing = "left" if rng.random() < 0.5 else "right"
    lordosis = 50.0 + float(rng.uniform(-4, 4)) + d * float(rng.uniform(-12, 12))
    sacral_slope = 38.0 + float(rng.uniform(-3, 3)) + d * float(rng.uniform(-8, 8))
    power = float(rng.uniform(1.3, 2.0))
    s1_extra = math.radians(float(rng.uniform(4.0, 12.0)))
    s_l1 = col.levels[col.span.first].s
    t = np.clip((s_grid - s_l1) / max(col.s_bot - s_l1, 1.0), 0.0, 1.0)
    alpha = np.deg2rad(lordosis - sacral_slope - lordosis * t**power)
    dice.params.update(facing=facing, lordosis_deg=lordosis, sacral_slope_deg=sacral_slope,
                       lordosis_power=power, s1_extra_deg=math.degrees(s1_extra))
    return alpha, facing, s1_extra


def _scoliosis(dice: Dice, col: Column, s_grid: np.ndarray, tilt: np.ndarray,
               width: int) -> tuple[np.ndarray, np.ndarray]:
    """AP heading and lateral displacement: a C or S curve pinned at both ends of the span."""
    rng = dice.rng
    amp_max = (0.16 if col.span.tall else 0.12) * width
    amp = dice.d * float(rng.uniform(0.0, 1.0)) * amp_max * (1 if rng.random() < 0.5 else -1)
    waves = int(rng.integers(1, 3))
    phase = float(rng.uniform(-0.3, 0.3)) * math.pi
    u = (s_grid - col.s_top) / max(col.s_bot - col.s_top, 1.0)
    g = np.sin(math.pi * waves * u + phase)
    g0 = math.sin(phase)
    g1 = math.sin(math.pi * waves + phase)
    g = g - (g0 + (g1 - g0) * u)
    in_span = (u >= 0) & (u <= 1)
    shape = g / max(float(np.abs(g[in_span]).max()), 1e-6)
    g = shape * amp
    if dice.x > 0:
        pos = col.span.schema_pos
        amp = scoliosis_amp(shape, s_grid, [col.levels[p].s for p in pos], tilt[pos], amp,
                            dice.x, dice.xrng, dice.extras)
        g = shape * amp
    alpha = np.arctan(np.gradient(g, s_grid))
    dice.params.update(scoliosis_px=amp, scoliosis_waves=waves, scoliosis_phase=phase)
    return alpha, g


def column_curve(dice: Dice, col: Column, tilt: np.ndarray, *, lat: bool, width: int) -> Curve:
    s_grid = np.arange(-2.0 * col.unit, (col.tail + 6.0) * col.unit, 0.5)
    facing: str | None = None
    g: np.ndarray | None = None
    s1_extra = 0.0
    if lat:
        alpha, facing, s1_extra = _lordosis(dice, col, s_grid)
    else:
        alpha, g = _scoliosis(dice, col, s_grid, tilt, width)
    ds = 0.5
    cx = np.concatenate([[0.0], np.cumsum(np.sin(0.5 * (alpha[1:] + alpha[:-1])) * ds)])
    cy = np.concatenate([[0.0], np.cumsum(np.cos(0.5 * (alpha[1:] + alpha[:-1])) * ds)])
    return Curve(s_grid=s_grid, alpha=alpha, cx=cx, cy=cy, g=g, facing=facing, s1_extra=s1_extra)


def place_levels(col: Column, curve: Curve, tilt: np.ndarray, *, lat: bool, x: float) -> None:
    """Centre and heading of every level on the curve; AP: the axial-rotation proxy."""
    for i, lv in enumerate(col.levels):
        if lat and lv.name == "S1":
            # The sacrum turns a little further than the curve, about its posterior-superior
            # corner: the L5/S1 disc opens anteriorly (wedge-shaped, as in real films).
            top, a = curve.along(col.tops[i] * col.unit)
            lv.theta = a + tilt[i] * 0.5 - curve.s1_extra
            sp_on_curve = top - 0.5 * lv.w * np.array([math.cos(a), -math.sin(a)])
            eu = np.array([math.cos(lv.theta), -math.sin(lv.theta)])
            ev = np.array([math.sin(lv.theta), math.cos(lv.theta)])
            lv.center = sp_on_curve + 0.5 * lv.w * eu + 0.5 * lv.h * ev
        else:
            lv.center, a = curve.along(lv.s)
            lv.theta = a + tilt[i]
        lv.rot = float(np.clip(a * 0.8, -0.3, 0.3)) if not lat else 0.0
    if x > 0 and curve.g is not None:
        axial_rotation(col.levels, curve.s_grid, curve.g, x)


def open_discs(levels: list[Level]) -> None:
    """Push the column apart wherever neighbouring bodies would touch (keeps every disc open)."""
    for i in range(1, len(levels)):
        upper, lower = levels[i - 1], levels[i]
        for _ in range(3):
            a_bot = upper.to_canon(upper.corners[2:])
            b_top = lower.to_canon(lower.corners[:2])
            na = a_bot[1] - a_bot[0]
            na = np.array([-na[1], na[0]]) / np.hypot(*na)
            if na @ upper.frame()[1] < 0:
                na = -na
            nb = b_top[1] - b_top[0]
            nb = np.array([-nb[1], nb[0]]) / np.hypot(*nb)
            if nb @ lower.frame()[1] < 0:
                nb = -nb
            gap = min(float(np.min((b_top - a_bot[0]) @ na)),
                      float(np.min((b_top[0] - a_bot) @ nb)))
            need = max(0.12 * upper.h, 2.0)
            if gap >= need:
                break
            shift = (need - gap + 0.5) * lower.frame()[1]
            for lv in levels[i:]:
                lv.center = lv.center + shift


# ---------------------------------------------------------------------------------------
# Difficulty above 1: stronger curves, apical rotation
# ---------------------------------------------------------------------------------------


def scoliosis_amp(shape: np.ndarray, s_grid: np.ndarray, s_levels: npt.ArrayLike,
                  tilt: np.ndarray, amp: float, x: float, rng: np.random.Generator,
                  info: dict[str, Any]) -> float:
    """Signed amplitude (px) of the AP curve ``shape`` (max |shape| = 1 on the span).

    The Cobb angle of the schema's levels (range of the body headings: curve slope plus the
    per-vertebra tilt) moves from the d = 1 value towards a target drawn in 25..60 degrees.
    """
    slope = np.interp(np.asarray(s_levels, dtype=np.float64), s_grid, np.gradient(shape, s_grid))
    tilt = np.asarray(tilt, dtype=np.float64)

    def cobb(a: float) -> float:
        th = np.arctan(a * slope) + tilt
        return math.degrees(float(th.max() - th.min()))

    sign = 1.0 if amp >= 0 else -1.0
    base = cobb(abs(amp))
    goal = float(rng.uniform(25.0, 60.0))
    target = base + x * (goal - base)
    info.update(cobb_d1_deg=base, cobb_goal_deg=goal, cobb_target_deg=target)
    if cobb(0.0) >= target:
        return 0.0
    lo, hi = 0.0, max(abs(amp), 1.0)
    while cobb(hi) < target and hi < 1e7:
        lo, hi = hi, hi * 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if cobb(mid) < target else (lo, mid)
    return sign * 0.5 * (lo + hi)


def axial_rotation(levels: list[Level], s_grid: np.ndarray, g: np.ndarray, x: float) -> None:
    """Blend each body's rotation (``lv.rot``) towards the apical rotation of the curve.

    A scoliotic vertebra rotates into the convexity, most at the apex (largest deviation from
    the line through the end vertebrae): the convex pedicle migrates towards the midline, the
    spinous process towards the concavity.
    """
    disp = np.array([np.interp(lv.s, s_grid, g) for lv in levels])
    slope = np.array([np.interp(lv.s, s_grid, np.gradient(g, s_grid)) for lv in levels])
    cobb = math.degrees(float(np.arctan(slope).max() - np.arctan(slope).min()))
    strength = min(1.0, cobb / 45.0)
    m = max(float(np.abs(disp).max()), 1e-6)
    for lv, dd in zip(levels, disp):
        apex = -0.45 * strength * dd / m
        lv.rot = float(np.clip((1.0 - x) * lv.rot + x * apex, -0.45, 0.45))
