"""Appearance above difficulty 1: surgical hardware over the column -- rods, pedicle screws and
interbody cages, drawn opaque over the normalised film after the anatomy (never moving a
landmark). Every draw comes from the extras' stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vam_gui.synth.anatomy import Level
from vam_gui.synth.projection import LevelToImage
from vam_gui.synth.raster import ONE, SUB_BITS, cv_points, paint, rect

# how likely each level is the caudal end of a construct: mostly lumbar / thoracolumbar
_CAUDAL_END = {"T8": 0.2, "T9": 0.2, "T10": 0.3, "T11": 0.4, "T12": 0.6, "L1": 0.8, "L2": 1.0,
               "L3": 1.0, "L4": 1.2, "L5": 1.2, "S1": 1.0}


@dataclass(frozen=True)
class Scene:
    """What every hardware part needs: the levels, their placement and the film's scale."""

    levels: list[Level]
    l2i: LevelToImage
    lat: bool
    px_mm: float  # image px per mm
    mm_c: float  # canonical px per mm
    blur: float  # the acquisition blur (metal is as sharp as the anatomy)
    rng: np.random.Generator
    info: dict[str, Any]


@dataclass(frozen=True)
class _Construct:
    mode: str  # "rods", "screws" or "cage"
    run: list[int]  # instrumented levels (indices), cranial to caudal
    rod_r: float  # mm
    gap: float  # rod centre beyond the body edge (AP), mm
    screw_r: float  # mm
    metal: float  # grey value of the metal


def draw_hardware(img: np.ndarray, sc: Scene) -> None:
    """Rods, pedicle screws, cages, into ``img`` (in place)."""
    import cv2

    c = _choose_construct(img.shape, sc)
    if c is None:
        return
    shafts, heads = _screws(c, sc)
    if shafts:
        paint(img, lambda L: cv2.fillPoly(L, [cv_points(s) for s in shafts], 255, cv2.LINE_AA, SUB_BITS),
              0.95 * c.metal, sc.blur)
    if c.mode == "rods":
        _rods(img, c, sc)
    if heads:
        paint(img, lambda L: cv2.fillPoly(L, [cv_points(h) for h in heads], 255, cv2.LINE_AA, SUB_BITS),
              c.metal, sc.blur)
    if c.mode == "cage" or sc.rng.random() < 0.3:
        _cage(img, c, sc)


def _choose_construct(shape: tuple[int, ...], sc: Scene) -> _Construct | None:
    """The kind of construct and the levels it spans (None: too few levels in the film)."""
    H, W = shape
    levels, rng = sc.levels, sc.rng
    cand = []
    for i, lv in enumerate(levels):
        c = sc.l2i(lv, np.zeros((1, 2)))[0]
        if (not lv.name.startswith("C") and 0.03 * W < c[0] < 0.97 * W
                and 0.02 * H < c[1] < 0.98 * H):
            cand.append(i)
    if len(cand) < 2:
        return None
    u = float(rng.random())
    mode = "rods" if u < 0.6 else ("screws" if u < 0.8 else "cage")
    n_run = int(rng.integers(4, 11)) if mode == "rods" else int(rng.integers(2, 4))
    n_run = min(n_run, len(cand))
    wt = np.array([_CAUDAL_END.get(levels[i].name, 0.1) for i in cand[n_run - 1 :]])
    if mode == "rods":
        wt[[levels[i].name == "S1" for i in cand[n_run - 1 :]]] *= 0.5
    end = int(rng.choice(len(wt), p=wt / wt.sum())) + n_run - 1
    run = cand[end - n_run + 1 : end + 1]
    rod_r = 0.5 * float(rng.uniform(4.5, 6.35))
    gap = float(rng.uniform(0.0, 6.0))
    screw_r = 0.5 * float(rng.uniform(5.0, 7.0))
    metal = float(rng.uniform(0.93, 1.0))
    sc.info.update(hardware=mode, hardware_levels=[levels[i].name for i in run])
    return _Construct(mode=mode, run=run, rod_r=rod_r, gap=gap, screw_r=screw_r, metal=metal)


def _rod_u(lv: Level, sgn: float, c: _Construct, sc: Scene) -> float:
    """A rod's u in the level frame: AP beside the body; LAT over the pedicles / facets."""
    if sc.lat:
        return float(-0.5 * lv.w - 0.32 * lv.w + sgn * 1.2 * sc.mm_c)
    return float(sgn * (0.5 * lv.w + (c.rod_r + c.gap) * sc.mm_c))


def _screws(c: _Construct, sc: Scene) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(threaded shafts, tulip heads) as image polygons; records the screwed levels."""
    rng, lat, px_mm = sc.rng, sc.lat, sc.px_mm
    shafts, heads = [], []
    screw_levels = []
    with_screws = c.mode != "cage" or rng.random() < 0.5
    for j, i in enumerate(c.run):
        lv = sc.levels[i]
        if not with_screws or (0 < j < len(c.run) - 1 and rng.random() < 0.3):
            continue
        screw_levels.append(lv.name)
        for sgn in (-1.0, 1.0):
            if not lat and 0 < j < len(c.run) - 1 and rng.random() < 0.1:
                continue
            vp = (-0.05 if lat else -0.17) * lv.h + float(rng.uniform(-0.05, 0.05)) * lv.h
            head_l = np.array([_rod_u(lv, sgn, c, sc), vp])
            if lat:
                tip_l = np.array([-0.5 * lv.w + float(rng.uniform(0.55, 0.85)) * lv.w,
                                  vp + float(rng.uniform(-0.06, 0.1)) * lv.h])
            else:
                tip_l = np.array([sgn * float(rng.uniform(0.03, 0.22)) * lv.w,
                                  vp + float(rng.uniform(-0.04, 0.08)) * lv.h])
            head, tip = sc.l2i(lv, head_l[None])[0], sc.l2i(lv, tip_l[None])[0]
            shafts.append(_screw_outline(head, tip, c.screw_r * px_mm, 2.8 * px_mm))
            along = sc.l2i(lv, (head_l + [0.0, 1.0])[None])[0] - head
            e = along / max(float(np.hypot(*along)), 1e-9)
            heads.append(rect(head, e, 5.0 * px_mm * float(rng.uniform(0.9, 1.1)),
                              6.0 * px_mm * float(rng.uniform(0.9, 1.1))))
    sc.info["screw_levels"] = screw_levels
    return shafts, heads


def _rods(img: np.ndarray, c: _Construct, sc: Scene) -> None:
    """Two rods through the screw heads, each a smooth curve with a brighter core."""
    for sgn in (-1.0, 1.0):
        ctrl = []
        for j, i in enumerate(c.run):
            lv = sc.levels[i]
            uu = _rod_u(lv, sgn, c, sc)
            if j == 0:
                ctrl.append(sc.l2i(lv, np.array([[uu, -0.5 * lv.h - 0.25 * lv.h]]))[0])
            ctrl.append(sc.l2i(lv, np.array([[uu, -0.1 * lv.h]]))[0])
            if j == len(c.run) - 1:
                ctrl.append(sc.l2i(lv, np.array([[uu, 0.5 * lv.h]]))[0])
        curve = _catmull_rom(np.array(ctrl), 10)
        t = max(1, round(2 * c.rod_r * sc.px_mm))
        paint(img, _polyline(curve, t), 0.93 * c.metal, sc.blur)
        tc = max(1, round(0.9 * c.rod_r * sc.px_mm))
        paint(img, _polyline(curve, tc), c.metal, sc.blur + 0.5)


def _cage(img: np.ndarray, c: _Construct, sc: Scene) -> None:
    """An interbody cage in one instrumented lumbar disc: a thin outline and marker dots."""
    import cv2

    levels, rng, px_mm = sc.levels, sc.rng, sc.px_mm
    pairs = [(i, i + 1) for i in c.run if i + 1 < len(levels) and levels[i].name[0] == "L"]
    if not pairs:
        return
    i, k = pairs[int(rng.integers(0, len(pairs)))]
    a, b = levels[i], levels[k]
    quad = np.concatenate([sc.l2i(a, a.corners[[2, 3]]), sc.l2i(b, b.corners[[1, 0]])])
    ctr = quad.mean(axis=0)
    across = 0.5 * ((quad[1] - quad[0]) + (quad[2] - quad[3]))
    e = across / max(float(np.hypot(*across)), 1e-9)
    n = np.array([-e[1], e[0]])
    height = float(np.mean(np.abs((quad[2:] - quad[:2][::-1]) @ n)))
    cage = rect(ctr, e, float(rng.uniform(0.25, 0.4)) * float(np.hypot(*across)),
                0.5 * max(height * float(rng.uniform(0.75, 0.95)), 3.0 * px_mm))
    th = max(1, round(1.0 * px_mm))
    paint(img, lambda L: cv2.polylines(L, [cv_points(cage)], True, 255, th, cv2.LINE_AA, SUB_BITS),
          0.85 * c.metal, sc.blur)
    dots = [ctr + f * (cage[q] - ctr) for q in range(4) for f in (0.7,) if rng.random() < 0.7]
    rr = max(1, round(1.2 * px_mm * ONE))
    paint(img, lambda L: [cv2.circle(L, tuple(int(v) for v in np.round(d * ONE)), rr, 255, -1,
                                     cv2.LINE_AA, SUB_BITS) for d in dots], c.metal, sc.blur)
    sc.info["cage"] = f"{a.name}-{b.name}"


# ---------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------


def _polyline(curve: np.ndarray, thickness: int) -> Callable[[np.ndarray], object]:
    """A drawer of one open anti-aliased polyline (binds its arguments now, not at call time)."""
    import cv2

    return lambda L: cv2.polylines(L, [cv_points(curve)], False, 255, thickness, cv2.LINE_AA, SUB_BITS)


def _catmull_rom(pts: np.ndarray, per: int = 12) -> np.ndarray:
    p = np.asarray(pts, dtype=np.float64)
    if len(p) < 3:
        t = np.linspace(0.0, 1.0, per * max(1, len(p) - 1) + 1)[:, None]
        line: np.ndarray = p[0] + t * (p[-1] - p[0])
        return line
    ext = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    out = []
    t = np.linspace(0.0, 1.0, per, endpoint=False)[:, None]
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(p[-1:])
    return np.concatenate(out)


def _screw_outline(head: np.ndarray, tip: np.ndarray, radius: float, pitch_px: float) -> np.ndarray:
    """Threaded shaft from ``head`` to ``tip`` (image px): serrated sides, a pointed tip."""
    d = tip - head
    length = max(float(np.hypot(*d)), 1e-6)
    e = d / length
    n = np.array([-e[1], e[0]])
    k = max(2, int(length / max(pitch_px * 0.5, 1.0)))
    s = np.linspace(0.0, 1.0, k + 1)
    rr = radius * np.where(np.arange(k + 1) % 2 == 0, 1.0, 0.78)
    rr = rr * np.clip((1.0 - s) / 0.12, 0.25, 1.0)  # taper at the tip
    left = head + s[:, None] * d + rr[:, None] * n
    right = head + s[:, None] * d - rr[:, None] * n
    return np.concatenate([left, tip[None], right[::-1]])
