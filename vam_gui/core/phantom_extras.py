"""Harder phantoms: what ``make_phantom(..., difficulty=d)`` adds for d in (1, 2].

With strength ``x = d - 1`` (0..1) the generator (``vam_gui.core.phantom``) calls these helpers:

* :func:`scoliosis_amp`: the AP curve amplitude for a Cobb angle drawn up to about 60 degrees
  (a d = 1 phantom's curve is moved towards it by ``x``); :func:`axial_rotation`: pedicles and
  spinous processes shifted by the apical (not the tilt) rotation of a scoliotic column.
* :func:`fit_in_image`: shrinks/shifts the global transform so every landmark stays inside.
* :func:`fainter_bone`: lower body and cortical-rim contrast, thinner rims.
* :func:`more_soft_tissue`: thicker soft tissue, abdominal folds (AP) or the arms (lateral)
  over the column, and bowel gas over the bodies (mostly lateral).
* :func:`overlays`: metal drawn over the normalised image after the anatomy (so it never moves a
  landmark): rods, pedicle screws, interbody cages; a ruler; lead skin markers and the L/R
  marker; and burned-in text (returned separately, applied after the noise by :func:`burn_in`).

Every random draw comes from :func:`extras_rng` (its own stream, derived from the seed), so the
main generator draws exactly the same numbers as for d = 1, and nothing here runs for d <= 1:
phantoms with difficulty in [0, 1] are byte-identical to those made before these extras existed.
Only numpy at import; OpenCV inside the functions. No torch, no Qt.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

_SH = 4  # sub-pixel bits for OpenCV drawing
# (level, points in the level's canonical frame) -> image px, as the generator defines it
LevelToImage = Callable[[Any, np.ndarray], np.ndarray]
_ONE = float(1 << _SH)


def extras_rng(seed: int) -> np.random.Generator:
    """The random stream of the extras (independent of the generator's own stream)."""
    return np.random.default_rng([int(seed) % (1 << 63), 0x0E47_2A5])


def _p(pts: np.ndarray) -> np.ndarray:
    """Points for OpenCV's sub-pixel drawing (vam_gui pixel centres are OpenCV's too)."""
    return np.round(np.asarray(pts, dtype=np.float64) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _affine(a: np.ndarray, pts: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.asarray(pts, dtype=np.float64) @ a[:, :2].T + a[:, 2]
    return out


# ---------------------------------------------------------------------------------------
# Geometry: scoliosis, axial rotation, fitting into the image
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


def axial_rotation(levels: list[Any], s_grid: np.ndarray, g: np.ndarray, x: float) -> None:
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


def fit_in_image(a: np.ndarray, pts_canon: np.ndarray, width: int, height: int,
                 margin: float = 0.02) -> tuple[np.ndarray, float]:
    """(A', f): the canonical -> image transform shrunk by f <= 1 and shifted so that every
    point of ``pts_canon`` lies at least ``margin`` (fraction of the size) inside the image."""
    pts = _affine(a, pts_canon)
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


# ---------------------------------------------------------------------------------------
# Contrast and soft tissue (added to the anatomy before the acquisition step)
# ---------------------------------------------------------------------------------------


def fainter_bone(body: float, rim: float, rim_px: float, x: float, rng: np.random.Generator,
                 info: dict[str, Any]) -> tuple[float, float, float]:
    """Lower body density and fainter, thinner cortical rims (osteopenia, thick patients)."""
    kb = 1.0 - x * float(rng.uniform(0.15, 0.45))
    kr = 1.0 - x * float(rng.uniform(0.3, 0.65))
    kt = 1.0 - x * float(rng.uniform(0.1, 0.45))
    info.update(body_factor=kb, rim_factor=kr, rim_px_factor=kt)
    return body * kb, rim * kr, rim_px * kt


def more_soft_tissue(img: np.ndarray, a: np.ndarray, geo: dict[str, float], lat: bool,
                     scale: float, x: float, rng: np.random.Generator, info: dict[str, Any]) -> None:
    """Add (in place) thicker soft tissue, folds or arms, and bowel gas over the column.

    ``geo`` holds canonical-frame positions: col_x, w_ref, pitch, y_dia, y_l5, mid_u, half,
    tissue (the silhouette's density).
    """
    import cv2

    H, W = img.shape
    col_x, w_ref, pitch = geo["col_x"], geo["w_ref"], geo["pitch"]
    y_dia, y_l5 = geo["y_dia"], geo["y_l5"]
    step = 4
    hc, wc = (H + step - 1) // step + 1, (W + step - 1) // step + 1
    gy = (np.arange(hc) + 0.5) * (H / hc) - 0.5
    gx = (np.arange(wc) + 0.5) * (W / wc) - 0.5
    GX, GY = np.meshgrid(gx, gy)
    m = np.linalg.inv(a[:, :2])
    t = -(m @ a[:, 2])
    X = m[0, 0] * GX + m[0, 1] * GY + t[0]
    Y = m[1, 0] * GX + m[1, 1] * GY + t[1]

    def smooth_in(dist: np.ndarray, soft: float) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(-dist / max(soft, 1e-3)))

    r = np.clip((X - geo["mid_u"]) / geo["half"], -1.5, 1.5)
    thick = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0)) * smooth_in(np.abs(r) - 1.0, 0.03)
    extra = x * float(rng.uniform(0.2, 0.6))
    add = geo["tissue"] * extra * (0.3 + 0.7 * thick) * smooth_in(np.abs(r) - 1.0, 0.03)
    folds = []
    if lat:
        # the arms, held forward in a standing lateral film, cross the upper column
        for _ in range(int(rng.integers(1, 3))):
            cy = float(rng.uniform(y_dia - 3.0 * pitch, y_dia + 1.5 * pitch))
            cx = col_x + w_ref * float(rng.uniform(-0.5, 1.5))
            ang = math.radians(float(rng.uniform(-35.0, 35.0)))
            length, width = w_ref * float(rng.uniform(5.0, 9.0)), w_ref * float(rng.uniform(0.9, 1.6))
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
    else:
        # abdominal apron / skin folds: extra tissue below a soft, sagging edge
        for _ in range(int(rng.integers(1, 3))):
            y0 = float(rng.uniform(y_l5 - 3.0 * pitch, y_l5 + 1.0 * pitch))
            sag = pitch * float(rng.uniform(0.3, 1.5))
            edge = y0 + sag * (1.0 - np.clip(((X - col_x) / geo["half"]) ** 2, 0.0, 1.0))
            add += x * float(rng.uniform(0.04, 0.1)) * thick * smooth_in(edge - Y, 0.15 * pitch)
            folds.append("apron")
    img += cv2.resize(add.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)

    # bowel gas: pockets and mottled stool over (lateral: and in front of) the bodies
    gas = np.zeros((H, W), dtype=np.float32)
    n_pockets = round(x * rng.integers(6, 16) if lat else x * rng.integers(2, 7))
    for _ in range(n_pockets):
        if lat:
            gxp = col_x + w_ref * float(rng.uniform(-0.9, 2.5))
        else:
            gxp = col_x + w_ref * float(rng.uniform(-1.6, 1.6))
        gyp = float(rng.uniform(y_dia + 0.5 * pitch, y_l5 + 1.5 * pitch))
        centre = _affine(a, np.array([[gxp, gyp]]))[0]
        depth = float(rng.uniform(0.03, 0.1))
        if rng.random() < 0.4:  # mottled: a cluster of small bubbles
            for _ in range(int(rng.integers(5, 14))):
                off = rng.normal(0.0, 0.35 * w_ref * scale, 2)
                rad = w_ref * scale * float(rng.uniform(0.04, 0.1))
                cv2.circle(gas, tuple(int(v) for v in np.round((centre + off) * _ONE)),
                           max(1, round(rad * _ONE)), depth, -1, cv2.LINE_AA, _SH)
        else:
            rx = w_ref * scale * float(rng.uniform(0.2, 0.7))
            ry = rx * float(rng.uniform(0.4, 1.0))
            cv2.ellipse(gas, tuple(int(v) for v in np.round(centre * _ONE)),
                        (max(1, int(rx * _ONE)), max(1, int(ry * _ONE))),
                        float(rng.uniform(0, 180)), 0, 360, depth, -1, cv2.LINE_AA, _SH)
    if n_pockets:
        gas = np.asarray(cv2.GaussianBlur(gas, (0, 0), max(1.0, 0.06 * w_ref * scale)))
        img -= gas * (0.6 + 0.4 * geo["tissue"] / 0.35)
    info.update(tissue_extra=extra, folds=folds, gas_pockets=n_pockets)


# ---------------------------------------------------------------------------------------
# Overlays on the normalised image: hardware, ruler, markers, text
# ---------------------------------------------------------------------------------------


def _polyline(curve: np.ndarray, thickness: int) -> Callable[[np.ndarray], object]:
    """A drawer of one open anti-aliased polyline (binds its arguments now, not at call time)."""
    import cv2

    return lambda L: cv2.polylines(L, [_p(curve)], False, 255, thickness, cv2.LINE_AA, _SH)


def _paint(img: np.ndarray, draw: Callable[[np.ndarray], object], value: float, blur: float) -> None:
    """Composite one opaque layer (drawn by ``draw`` into a uint8 mask) at ``value``."""
    import cv2

    layer = np.zeros(img.shape, dtype=np.uint8)
    draw(layer)
    alpha = layer.astype(np.float32) * (1.0 / 255.0)
    if blur > 0.3:
        alpha = np.asarray(cv2.GaussianBlur(alpha, (0, 0), blur))
    img += alpha * (value - img)


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


def _rect(c: np.ndarray, e: np.ndarray, half_along: float, half_across: float) -> np.ndarray:
    n = np.array([-e[1], e[0]])
    return np.array([c - half_along * e - half_across * n, c + half_along * e - half_across * n,
                     c + half_along * e + half_across * n, c - half_along * e + half_across * n])


_CAUDAL_END = {"T8": 0.2, "T9": 0.2, "T10": 0.3, "T11": 0.4, "T12": 0.6, "L1": 0.8, "L2": 1.0,
               "L3": 1.0, "L4": 1.2, "L5": 1.2, "S1": 1.0}


def _hardware(img: np.ndarray, levels: list[Any], L2I: LevelToImage, lat: bool, px_mm: float, mm_c: float,
              blur: float, rng: np.random.Generator, info: dict[str, Any]) -> None:
    """Rods, pedicle screws, cages. ``px_mm``: image px per mm; ``mm_c``: canonical px per mm."""
    import cv2

    H, W = img.shape
    cand = []
    for i, lv in enumerate(levels):
        c = L2I(lv, np.zeros((1, 2)))[0]
        if (not lv.name.startswith("C") and 0.03 * W < c[0] < 0.97 * W
                and 0.02 * H < c[1] < 0.98 * H):
            cand.append(i)
    if len(cand) < 2:
        return
    u = float(rng.random())
    mode = "rods" if u < 0.6 else ("screws" if u < 0.8 else "cage")
    n_run = int(rng.integers(4, 11)) if mode == "rods" else int(rng.integers(2, 4))
    n_run = min(n_run, len(cand))
    # the caudal end of the construct: mostly lumbar / thoracolumbar
    wt = np.array([_CAUDAL_END.get(levels[i].name, 0.1) for i in cand[n_run - 1 :]])
    if mode == "rods":
        wt[[levels[i].name == "S1" for i in cand[n_run - 1 :]]] *= 0.5
    end = int(rng.choice(len(wt), p=wt / wt.sum())) + n_run - 1
    run = cand[end - n_run + 1 : end + 1]
    rod_r = 0.5 * float(rng.uniform(4.5, 6.35))  # mm
    gap = float(rng.uniform(0.0, 6.0))  # rod centre beyond the body edge, mm
    screw_r = 0.5 * float(rng.uniform(5.0, 7.0))
    metal = float(rng.uniform(0.93, 1.0))
    info.update(hardware=mode, hardware_levels=[levels[i].name for i in run])

    def rod_u(lv: Any, sgn: float) -> float:
        if lat:  # over the pedicles / facets, just behind the posterior wall
            return float(-0.5 * lv.w - 0.32 * lv.w + sgn * 1.2 * mm_c)
        return float(sgn * (0.5 * lv.w + (rod_r + gap) * mm_c))

    shafts, heads = [], []
    screw_levels = []
    with_screws = mode != "cage" or rng.random() < 0.5
    for j, i in enumerate(run):
        lv = levels[i]
        if not with_screws or (0 < j < len(run) - 1 and rng.random() < 0.3):
            continue
        screw_levels.append(lv.name)
        for sgn in (-1.0, 1.0):
            if not lat and 0 < j < len(run) - 1 and rng.random() < 0.1:
                continue
            vp = (-0.05 if lat else -0.17) * lv.h + float(rng.uniform(-0.05, 0.05)) * lv.h
            if lat:
                head_l = np.array([rod_u(lv, sgn), vp])
                tip_l = np.array([-0.5 * lv.w + float(rng.uniform(0.55, 0.85)) * lv.w,
                                  vp + float(rng.uniform(-0.06, 0.1)) * lv.h])
            else:
                head_l = np.array([rod_u(lv, sgn), vp])
                tip_l = np.array([sgn * float(rng.uniform(0.03, 0.22)) * lv.w,
                                  vp + float(rng.uniform(-0.04, 0.08)) * lv.h])
            head, tip = L2I(lv, head_l[None])[0], L2I(lv, tip_l[None])[0]
            shafts.append(_screw_outline(head, tip, screw_r * px_mm, 2.8 * px_mm))
            along = L2I(lv, (head_l + [0.0, 1.0])[None])[0] - head
            e = along / max(float(np.hypot(*along)), 1e-9)
            heads.append(_rect(head, e, 5.0 * px_mm * float(rng.uniform(0.9, 1.1)),
                               6.0 * px_mm * float(rng.uniform(0.9, 1.1))))
    info["screw_levels"] = screw_levels

    if shafts:
        _paint(img, lambda L: cv2.fillPoly(L, [_p(s) for s in shafts], 255, cv2.LINE_AA, _SH),
               0.95 * metal, blur)
    if mode == "rods":
        for sgn in (-1.0, 1.0):
            ctrl = []
            for j, i in enumerate(run):
                lv = levels[i]
                uu = rod_u(lv, sgn)
                if j == 0:
                    ctrl.append(L2I(lv, np.array([[uu, -0.5 * lv.h - 0.25 * lv.h]]))[0])
                ctrl.append(L2I(lv, np.array([[uu, -0.1 * lv.h]]))[0])
                if j == len(run) - 1:
                    ctrl.append(L2I(lv, np.array([[uu, 0.5 * lv.h]]))[0])
            curve = _catmull_rom(np.array(ctrl), 10)
            t = max(1, round(2 * rod_r * px_mm))
            _paint(img, _polyline(curve, t), 0.93 * metal, blur)
            tc = max(1, round(0.9 * rod_r * px_mm))
            _paint(img, _polyline(curve, tc), metal, blur + 0.5)
    if heads:
        _paint(img, lambda L: cv2.fillPoly(L, [_p(h) for h in heads], 255, cv2.LINE_AA, _SH),
               metal, blur)
    if mode == "cage" or rng.random() < 0.3:
        pairs = [(i, i + 1) for i in run if i + 1 < len(levels) and levels[i].name[0] == "L"]
        if pairs:
            i, k = pairs[int(rng.integers(0, len(pairs)))]
            a, b = levels[i], levels[k]
            quad = np.concatenate([L2I(a, a.corners[[2, 3]]), L2I(b, b.corners[[1, 0]])])
            c = quad.mean(axis=0)
            across = 0.5 * ((quad[1] - quad[0]) + (quad[2] - quad[3]))
            e = across / max(float(np.hypot(*across)), 1e-9)
            n = np.array([-e[1], e[0]])
            height = float(np.mean(np.abs((quad[2:] - quad[:2][::-1]) @ n)))
            cage = _rect(c, e, float(rng.uniform(0.25, 0.4)) * float(np.hypot(*across)),
                         0.5 * max(height * float(rng.uniform(0.75, 0.95)), 3.0 * px_mm))
            th = max(1, round(1.0 * px_mm))
            _paint(img, lambda L: cv2.polylines(L, [_p(cage)], True, 255, th, cv2.LINE_AA, _SH),
                   0.85 * metal, blur)
            dots = [c + f * (cage[q] - c) for q in range(4) for f in (0.7,) if rng.random() < 0.7]
            rr = max(1, round(1.2 * px_mm * _ONE))
            _paint(img, lambda L: [cv2.circle(L, tuple(int(v) for v in np.round(d * _ONE)), rr, 255, -1,
                                              cv2.LINE_AA, _SH) for d in dots], metal, blur)
            info["cage"] = f"{a.name}-{b.name}"


def _ruler(img: np.ndarray, px_mm: float, blur: float, rng: np.random.Generator, info: dict[str, Any]) -> None:
    import cv2

    H, W = img.shape
    strip = float(rng.uniform(18.0, 30.0)) * px_mm
    left = rng.random() < 0.5
    x0 = float(rng.uniform(0.01, 0.06)) * W
    x0 = x0 if left else W - 1 - x0 - strip
    y_top = float(rng.uniform(-0.1, 0.15)) * H
    y_bot = H * float(rng.uniform(0.9, 1.1))
    body = np.array([[x0, y_top], [x0 + strip, y_top], [x0 + strip, y_bot], [x0, y_bot]])
    img += 0.06 * float(rng.uniform(0.5, 1.5)) * (
        _mask(img.shape, lambda L: cv2.fillPoly(L, [_p(body)], 255, cv2.LINE_AA, _SH), blur))
    edge = x0 if left else x0 + strip  # the ticks start at the outer edge
    sgn = 1.0 if left else -1.0
    cm0 = int(rng.integers(0, 30))
    th = max(1, round(0.6 * px_mm))
    lines, labels = [], []
    n_mm = int((y_bot - y_top) / px_mm)
    for mm in range(0, n_mm, 5):
        y = y_top + mm * px_mm
        if y < 0 or y > H - 1:
            continue
        tick = 0.25 if mm % 10 else (0.75 if mm % 50 == 0 else 0.45)
        lines.append(np.array([[edge, y], [edge + sgn * tick * strip, y]]))
        if mm % 50 == 0:
            labels.append((str(cm0 + mm // 10), y))
    font_scale = 0.3 * strip / 22.0

    def draw(L: np.ndarray) -> None:
        cv2.polylines(L, [_p(ln) for ln in lines], False, 255, th, cv2.LINE_AA, _SH)
        for text, y in labels:
            (tw, tht), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
            tx = x0 + 0.5 * strip - 0.5 * tw
            cv2.putText(L, text, (int(tx), int(y + tht + 3 * th)), cv2.FONT_HERSHEY_SIMPLEX,
                        font_scale, 255, th, cv2.LINE_AA)

    _paint(img, draw, float(rng.uniform(0.85, 0.97)), blur)
    info["ruler"] = "left" if left else "right"


def _mask(shape: tuple[int, int], draw: Callable[[np.ndarray], object], blur: float) -> np.ndarray:
    import cv2

    layer = np.zeros(shape, dtype=np.uint8)
    draw(layer)
    m = layer.astype(np.float32) * (1.0 / 255.0)
    return cv2.GaussianBlur(m, (0, 0), blur) if blur > 0.3 else m


def _markers(img: np.ndarray, lat: bool, px_mm: float, blur: float, rng: np.random.Generator,
             info: dict[str, Any]) -> None:
    """Lead skin markers (BBs, small squares) and the radiographer's lead L / R marker."""
    import cv2

    H, W = img.shape
    n = int(rng.integers(0, 5))
    shapes = []
    for _ in range(n):
        c = np.array([float(rng.uniform(0.1, 0.9)) * W, float(rng.uniform(0.05, 0.95)) * H])
        size = float(rng.uniform(2.0, 7.0)) * px_mm
        if rng.random() < 0.5:
            shapes.append(("circle", c, size, rng.random() < 0.7))
        else:
            shapes.append(("square", c, size, rng.random() < 0.5))

    def draw(L: np.ndarray) -> None:
        for kind, c, size, filled in shapes:
            t = -1 if filled else max(1, round(0.25 * size))
            if kind == "circle":
                cv2.circle(L, tuple(int(v) for v in np.round(c * _ONE)), round(0.5 * size * _ONE),
                           255, t, cv2.LINE_AA, _SH)
            else:
                sq = _rect(c, np.array([1.0, 0.0]), 0.5 * size, 0.5 * size)
                if filled:
                    cv2.fillPoly(L, [_p(sq)], 255, cv2.LINE_AA, _SH)
                else:
                    cv2.polylines(L, [_p(sq)], True, 255, t, cv2.LINE_AA, _SH)

    if shapes:
        _paint(img, draw, float(rng.uniform(0.88, 1.0)), blur)
    side = None
    if rng.random() < 0.75:
        side = "R" if rng.random() < 0.5 else "L"
        on_left = (side == "R") if not lat else rng.random() < 0.5  # AP: patient right on the left
        size = float(rng.uniform(12.0, 22.0)) * px_mm
        fs = size / 30.0
        (tw, tht), _ = cv2.getTextSize(side, cv2.FONT_HERSHEY_DUPLEX, fs, 2)
        x0 = float(rng.uniform(0.04, 0.12)) * W
        x0 = x0 if on_left else W - x0 - tw
        y0 = float(rng.uniform(0.04, 0.3)) * H + tht
        boxed = rng.random() < 0.5
        th = max(1, round(size / 9.0))

        def draw_lr(L: np.ndarray) -> None:
            cv2.putText(L, side, (int(x0), int(y0)), cv2.FONT_HERSHEY_DUPLEX, fs, 255, th, cv2.LINE_AA)
            if boxed:
                pad = 0.25 * tht
                cv2.rectangle(L, (int(x0 - pad), int(y0 - tht - pad)), (int(x0 + tw + pad), int(y0 + pad)),
                              255, max(1, th // 2), cv2.LINE_AA)

        _paint(img, draw_lr, float(rng.uniform(0.9, 1.0)), blur)
    info.update(skin_markers=n, lead_marker=side)


_WORDS = ("STANDING", "ERECT", "WEIGHT BEARING", "PA", "AP", "FULL SPINE", "SCOLIOSIS", "LONG LEG")


def _text(shape: tuple[int, int], lat: bool, rng: np.random.Generator, info: dict[str, Any]) -> np.ndarray:
    """Alpha mask of burned-in annotations (crisp: drawn after the acquisition blur)."""
    import cv2

    H, W = shape
    layer = np.zeros(shape, dtype=np.uint8)
    items = []
    if rng.random() < 0.8:
        y, mo, dd = int(rng.integers(2005, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        hh, mi = int(rng.integers(7, 19)), int(rng.integers(0, 60))
        items.append(f"{y}-{mo:02d}-{dd:02d}" if rng.random() < 0.5
                     else f"{dd:02d}/{mo:02d}/{y} {hh:02d}:{mi:02d}")
    if rng.random() < 0.6:
        items.append("STANDING" if rng.random() < 0.5 else str(_WORDS[int(rng.integers(0, len(_WORDS)))]))
    if rng.random() < 0.5:
        items.append(("LAT" if lat else "AP") if rng.random() < 0.7 else ("L" if rng.random() < 0.5 else "R"))
    corners = [(0, 0), (1, 0), (0, 1), (1, 1)]
    rng.shuffle(corners)
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN)
    font = fonts[int(rng.integers(0, 3))]
    for j, text in enumerate(items):
        height = float(rng.uniform(0.012, 0.03)) * H * (2.0 if len(text) <= 3 else 1.0)
        (tw1, th1), _ = cv2.getTextSize(text, font, 1.0, 2)
        fs = min(height / max(th1, 1), 0.45 * W / max(tw1, 1))
        thick = max(1, round(fs * 1.5))
        (tw, tht), base = cv2.getTextSize(text, font, fs, thick)
        cx, cy = corners[j % 4]
        x = int(0.02 * W) if cx == 0 else int(W - 0.02 * W - tw - thick)
        y = int(0.02 * H + tht) if cy == 0 else int(H - 0.02 * H - base)
        y += int(rng.integers(0, max(1, int(0.03 * H)))) * (1 if cy == 0 else -1)
        cv2.putText(layer, text, (x, y), font, fs, 255, thick, cv2.LINE_AA)
    info["text"] = items
    return layer.astype(np.float32) * (1.0 / 255.0)


def overlays(img: np.ndarray, levels: list[Any], L2I: LevelToImage, lat: bool, spacing: float, scale: float,
             blur: float, x: float, rng: np.random.Generator,
             info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """Draw hardware, ruler and markers into the normalised [0, 1] image (in place) and return
    it with the alpha mask of the burned-in text (or None) for :func:`burn_in`.

    ``spacing``: image mm per px; ``scale``: the global scale (canonical -> image); ``blur``:
    the acquisition blur (objects in the film are as sharp as the anatomy).
    """
    px_mm = 1.0 / spacing
    mm_c = px_mm / max(scale, 1e-6)
    if rng.random() < 0.8 * x:
        _hardware(img, levels, L2I, lat, px_mm, mm_c, blur, rng, info)
    if rng.random() < 0.5 * x:
        _ruler(img, px_mm, blur, rng, info)
    if rng.random() < 0.8 * x:
        _markers(img, lat, px_mm, blur, rng, info)
    text = _text(img.shape, lat, rng, info) if rng.random() < 0.85 * x else None
    np.clip(img, 0.0, 1.0, out=img)
    return img, text


def burn_in(img: np.ndarray, text: np.ndarray | None) -> np.ndarray:
    """Apply burned-in text (white) on the final [0, 1] image."""
    if text is not None:
        img += text * (1.0 - img)
    return img
