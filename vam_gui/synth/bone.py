"""Appearance: how bone looks -- trabecular texture, body / rim / posterior-element contrast
(fainter above difficulty 1) -- and the bones around the column: ribs, clavicles, pelvis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vam_gui.synth.anatomy import Level
from vam_gui.synth.dice import Dice
from vam_gui.synth.projection import Projection, affine_apply
from vam_gui.synth.raster import Canvas, chaikin
from vam_gui.synth.tissue import Torso


@dataclass(frozen=True)
class BoneLook:
    tex: np.ndarray  # [H, W] float32 band-passed noise, unit spread, clipped to +-2.5
    tex_amp: float  # relative texture amplitude inside the bodies
    body: float  # body fill
    rim: float  # cortical rim, added on a band inside the outline
    rim_px: float  # rim thickness at a mid-sized body
    posterior: float  # posterior elements, relative


def draw_bone_look(dice: Dice, proj: Projection) -> BoneLook:
    """Trabecular texture (its scale follows the pixel spacing), then the bone's grey values."""
    import cv2

    rng = dice.rng
    k_tex = float(np.clip(0.3 / proj.spacing, 0.6, 1.6))
    white = rng.standard_normal((proj.height, proj.width), dtype=np.float32)
    fine = cv2.GaussianBlur(white, (0, 0), sigmaX=0.8 * k_tex, sigmaY=1.6 * k_tex)
    coarse = cv2.GaussianBlur(fine, (0, 0), sigmaX=3.0 * k_tex)
    tex = fine - coarse
    tex *= 1.0 / max(float(tex[::8, ::8].std()), 1e-6)
    np.clip(tex, -2.5, 2.5, out=tex)
    body_val = float(rng.uniform(0.16, 0.26))
    rim_val = float(rng.uniform(0.12, 0.22))
    tex_amp = float(rng.uniform(0.12, 0.22))
    post_val = float(rng.uniform(0.7, 1.0))
    rim_px = float(rng.uniform(2.0, 3.5))
    dice.params.update(body=body_val, rim=rim_val, texture=tex_amp, posterior=post_val, rim_px=rim_px)
    if dice.x > 0:
        body_val, rim_val, rim_px = _fainter_bone(body_val, rim_val, rim_px, dice)
    return BoneLook(tex=tex, tex_amp=tex_amp, body=body_val, rim=rim_val, rim_px=rim_px,
                    posterior=post_val)


def _fainter_bone(body: float, rim: float, rim_px: float, dice: Dice) -> tuple[float, float, float]:
    """Lower body density and fainter, thinner cortical rims (osteopenia, thick patients)."""
    x, rng = dice.x, dice.xrng
    kb = 1.0 - x * float(rng.uniform(0.15, 0.45))
    kr = 1.0 - x * float(rng.uniform(0.3, 0.65))
    kt = 1.0 - x * float(rng.uniform(0.1, 0.45))
    dice.extras.update(body_factor=kb, rim_factor=kr, rim_px_factor=kt)
    return body * kb, rim * kr, rim_px * kt


# ---------------------------------------------------------------------------------------
# Ribs and clavicles: thick anti-aliased polylines on one uint8 layer, blurred once
# ---------------------------------------------------------------------------------------

RibLine = Callable[[np.ndarray, float, int], None]  # (canonical points, thickness, value)


def draw_ribs(canvas: Canvas, dice: Dice, levels: list[Level], t: Torso, proj: Projection,
              *, lat: bool) -> None:
    import cv2

    rng, scale = dice.rng, proj.scale
    ribs = np.zeros((proj.height, proj.width), dtype=np.uint8)
    rib_amp = float(rng.uniform(0.06, 0.11))

    def line(pts_canon: np.ndarray, thickness: float, value: int) -> None:
        pts = affine_apply(proj.a, pts_canon)
        sh = 4
        ip = np.round(pts * (1 << sh)).astype(np.int32)[None]
        cv2.polylines(ribs, ip, False, int(value), max(1, int(round(thickness))),  # type: ignore[call-overload]
                      cv2.LINE_AA, sh)

    for lv in levels:
        if not lv.name.startswith("T"):
            continue
        n_t = int(lv.name[1:])
        for sgn in (-1.0, 1.0):
            if lat:
                if n_t >= 11 and rng.random() >= 0.3:
                    _lat_rib(line, rng, lv, t, scale)
            elif n_t >= 11:
                _floating_rib(line, rng, lv, n_t, sgn, t, scale)
            else:
                _full_rib(line, lv, n_t, sgn, t, scale)
    if not lat and "T1" in t.y_of:
        _clavicles(line, next(lv for lv in levels if lv.name == "T1"), t, scale)
    if ribs.any():
        rib_f = cv2.GaussianBlur(ribs, (0, 0), 1.0).astype(np.float32)
        canvas.img += (rib_amp / 150.0) * rib_f
    dice.params["rib_amp"] = rib_amp


def _lat_rib(line: RibLine, rng: np.random.Generator, lv: Level, t: Torso, scale: float) -> None:
    """A lower rib seen from the side: from behind the body, down and forward."""
    x0 = lv.to_canon(np.array([[-0.9 * lv.w, -0.1 * lv.h]]))[0]
    tt = np.linspace(0, 1, 16)[:, None]
    length = t.w_ref * float(rng.uniform(1.4, 2.4))
    ang = math.radians(float(rng.uniform(20, 45)))
    pts = x0 + tt * length * np.array([math.cos(ang), math.sin(ang)]) + (
        np.sin(np.pi * tt) * 0.2 * length * np.array([-math.sin(ang), math.cos(ang)]))
    line(pts, 0.35 * lv.h * scale, 120)
    line(pts, 0.15 * lv.h * scale, 90)


def _floating_rib(line: RibLine, rng: np.random.Generator, lv: Level, n_t: int, sgn: float,
                  t: Torso, scale: float) -> None:
    """T11 / T12 on an AP film: short, down and out."""
    start = lv.to_canon(np.array([[sgn * 0.7 * lv.w, -0.15 * lv.h]]))[0]
    length = t.w_ref * (1.4 if n_t == 11 else 1.0) * float(rng.uniform(0.8, 1.3))
    ang = math.radians(float(rng.uniform(25, 45)))
    tt = np.linspace(0, 1, 12)[:, None]
    pts = start + tt * length * np.array([sgn * math.cos(ang), math.sin(ang)])
    pts[:, 1] += (tt[:, 0] ** 2) * 0.15 * length
    line(pts, 0.4 * lv.h * scale, 150)
    line(pts, 0.18 * lv.h * scale, 110)


def _full_rib(line: RibLine, lv: Level, n_t: int, sgn: float, t: Torso, scale: float) -> None:
    """A posterior rib arching out to the side, then the fainter anterior rib back down."""
    start = lv.to_canon(np.array([[sgn * 0.7 * lv.w, -0.15 * lv.h]]))[0]
    pitch = t.pitch
    lat_x = t.col_x + sgn * t.half * 0.93
    dx = lat_x - start[0]
    tt = np.linspace(0, 1, 24)
    rise = pitch * (1.2 - 0.08 * n_t)
    px = start[0] + dx * np.sin(0.5 * np.pi * tt)
    py = start[1] - rise * np.sin(np.pi * tt * 0.8) + 1.8 * pitch * tt**3
    post = np.stack([px, py], axis=1)
    line(post, 0.6 * lv.h * scale, 160)
    line(post, 0.3 * lv.h * scale, 110)
    # anterior rib: from the lateral end, down and medially
    tt = np.linspace(0, 1, 16)
    ax_ = lat_x - sgn * (0.55 * abs(dx)) * np.sin(0.5 * np.pi * tt)
    ay_ = post[-1, 1] + 3.0 * pitch * tt + 0.3 * pitch * np.sin(np.pi * tt)
    line(np.stack([ax_, ay_], axis=1), 0.5 * lv.h * scale, 70)


def _clavicles(line: RibLine, t1: Level, t: Torso, scale: float) -> None:
    pitch, w_ref = t.pitch, t.w_ref
    for sgn in (-1.0, 1.0):
        tt = np.linspace(0, 1, 20)
        px = t.col_x + sgn * (0.9 * w_ref + tt * (t.half * 0.95 - 0.9 * w_ref))
        py = t.y_of["T1"] - 0.6 * pitch - 0.8 * pitch * tt + 0.25 * pitch * np.sin(2 * np.pi * tt)
        line(np.stack([px, py], axis=1), 0.9 * t1.h * scale, 200)


# ---------------------------------------------------------------------------------------
# Pelvis (AP: both iliac wings; LAT: one wing over the lumbosacral junction)
# ---------------------------------------------------------------------------------------

# LAT wing outline in the S1 frame (u anterior), units of (depth, height)
_WING_LAT = np.array([[0.6, -1.2], [0.0, -1.9], [-0.8, -2.3], [-1.6, -2.1], [-2.2, -1.4],
                      [-2.3, -0.4], [-1.9, 0.6], [-1.3, 1.4], [-0.6, 2.2], [0.2, 2.6],
                      [1.0, 2.5], [1.6, 1.8], [1.7, 0.8], [1.3, -0.3]])
# AP right wing in the S1 frame (u to the right), units of (width, 1.35 height)
_WING_AP = np.array([[1.05, -0.1], [1.25, -0.95], [1.75, -1.45], [2.4, -1.6],
                     [3.0, -1.4], [3.45, -0.85], [3.5, 0.2], [3.25, 1.3], [2.85, 2.3],
                     [2.3, 2.7], [1.9, 2.35], [1.6, 1.8], [1.3, 1.0], [1.12, 0.4]])


def draw_pelvis(canvas: Canvas, dice: Dice, s1: Level, proj: Projection, look: BoneLook,
                *, lat: bool) -> None:
    rng, scale = dice.rng, proj.scale
    ilium_val = float(rng.uniform(0.05, 0.09))
    crest_dy = float(rng.uniform(-0.25, 0.25))
    if lat:
        ctrl = _WING_LAT * [s1.w, s1.h] + [-float(rng.uniform(0.2, 0.7)) * s1.w, crest_dy * s1.h]
        wing = proj.to_image(s1, chaikin(ctrl, 3))
        canvas.add_shell(wing, 3.5 * scale, 0.9 * ilium_val, 0.6 * ilium_val, 4)
    else:
        for sgn in (-1.0, 1.0):
            lp = 1.35 * s1.h
            pts = _WING_AP * [sgn * s1.w, lp] + [0.0, -0.5 * s1.h + crest_dy * lp]
            if sgn < 0:
                pts = pts[::-1]
            wing = proj.to_image(s1, chaikin(pts, 3))
            canvas.add_shell(wing, 4.0 * scale, 1.2 * ilium_val, 0.8 * ilium_val, 4, look.tex,
                             0.25)
    dice.params["ilium"] = ilium_val
