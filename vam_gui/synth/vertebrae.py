"""Appearance: the vertebrae drawn into the film -- bodies (textured fill, cortical rim), the
faint discs, the posterior elements (AP: transverse processes, laminae, articular processes,
pedicle rings, spinous process; LAT: the posterior arch) and the sacrum.

Shapes are built in each level's local frame (u lateral / anterior, v down; px) and placed
with :meth:`Projection.to_image`; the bodies' outlines are the very polygons the labels use.
"""

from __future__ import annotations

import numpy as np

from vam_gui.synth.anatomy import Level
from vam_gui.synth.bone import BoneLook
from vam_gui.synth.projection import LevelToImage, Projection
from vam_gui.synth.raster import Canvas, chaikin, ellipse


def draw_vertebrae(canvas: Canvas, levels: list[Level], outlines: list[np.ndarray],
                   proj: Projection, look: BoneLook, *, lat: bool) -> None:
    """Posterior elements, the disc below and the body of every level, cranial to caudal."""
    scale, l2i = proj.scale, proj.to_image
    for i, lv in enumerate(levels):
        dens = lv.density
        rim_t = float(np.clip(look.rim_px * np.clip(lv.h * scale / 90.0, 0.7, 1.15), 1.5, 4.0))
        pv = look.posterior * dens
        if lv.name == "S1":
            _draw_sacrum(canvas, lv, outlines[i], l2i, lat, rim_t, look.body * dens,
                         look.rim * dens, pv, look, scale)
            continue
        if lat:
            _draw_posterior_lat(canvas, lv, l2i, pv, scale)
        else:
            _draw_posterior_ap(canvas, lv, l2i, pv, scale)
        # disc below (faint), between this body's lower and the next body's upper endplate
        if i + 1 < len(levels):
            nxt = levels[i + 1]
            quad = np.concatenate([l2i(lv, lv.corners[[2, 3]]), l2i(nxt, nxt.corners[[1, 0]])])
            canvas.add(quad, 0.04 * dens, 4)
        canvas.add_shell(outlines[i], rim_t, look.rim * dens, look.body * dens, 16, look.tex,
                         look.tex_amp)


def _draw_posterior_ap(canvas: Canvas, lv: Level, l2i: LevelToImage, pv: float, scale: float) -> None:
    h, w = lv.h, lv.w
    shift = lv.rot * w * 0.5
    thoracic = lv.name.startswith("T") or lv.name.startswith("C")
    # transverse processes: tapered, rounded, slightly upturned
    reach = {"L1": 0.45, "L2": 0.55, "L3": 0.65, "L4": 0.55, "L5": 0.45}.get(lv.name, 0.3)
    for sgn in (-1.0, 1.0):
        x0 = 0.36 * w
        x1 = (0.5 + reach) * w
        lift = (0.12 if thoracic else 0.05) * h + (0.1 * h if lv.name == "L5" else 0.0)
        ctrl = np.array([[x0, -0.34 * h], [0.5 * (x0 + x1), -0.24 * h - 0.5 * lift],
                         [x1, -0.2 * h - lift], [x1 + 0.05 * w, -0.12 * h - lift],
                         [x1, -0.05 * h - lift], [0.5 * (x0 + x1), -0.06 * h - 0.5 * lift],
                         [x0, 0.02 * h]])
        ctrl[:, 0] = sgn * ctrl[:, 0] + shift
        if sgn < 0:
            ctrl = ctrl[::-1]
        canvas.add_shell(l2i(lv, chaikin(ctrl, 2)), 1.5 * scale, 0.05 * pv, 0.07 * pv, 4)
    # laminae: a faint bow between the pedicles and the spinous process
    lam = chaikin(np.array([[-0.36 * w, -0.1 * h], [0.36 * w, -0.1 * h], [0.3 * w, 0.2 * h],
                            [0.12 * w, 0.5 * h], [-0.12 * w, 0.5 * h], [-0.3 * w, 0.2 * h]]), 2)
    canvas.add(l2i(lv, lam + [shift, 0]), 0.04 * pv, 4)
    # inferior articular processes (below the body, in the disc space)
    for sgn in (-1.0, 1.0):
        e = ellipse(sgn * 0.22 * w + shift, 0.5 * h, 0.07 * w, 0.14 * h, 16)
        canvas.add_shell(l2i(lv, e), 1.5 * scale, 0.06 * pv, 0.04 * pv, 4)
    # pedicles: small bright rings in the upper body
    for sgn in (-1.0, 1.0):
        rx, ry = 0.085 * w, (0.15 if thoracic else 0.13) * h
        e = ellipse(sgn * 0.3 * w + shift * (1 - sgn * 0.6), -0.17 * h, rx, ry, 20)
        ring = max(1.3, 0.33 * rx * scale)
        canvas.add_shell(l2i(lv, e), ring, 0.18 * pv, 0.05 * pv, 8)
    # spinous process: a faint teardrop in the middle, reaching into the disc below
    length = (1.05 if thoracic else 0.8) * h
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    tx = 0.075 * w * np.sin(t) * (1 - 0.5 * (1 - np.cos(t)) / 2)
    ty = -0.1 * h + length * (1 - np.cos(t)) / 2
    tear = np.stack([tx + shift * 1.2, ty], axis=1)
    canvas.add_shell(l2i(lv, tear), 1.4 * scale, 0.08 * pv, 0.06 * pv, 4)


# Lateral posterior arch (pedicle, articular processes, lamina, spinous process) as one
# outline in the body frame: u in units of depth measured from the posterior wall (negative
# = posterior), v in units of height.
_LAT_ARCH = np.array([
    [0.03, -0.42], [-0.22, -0.38], [-0.34, -0.55], [-0.42, -0.88], [-0.56, -0.74],
    [-0.62, -0.38], [-0.95, -0.3], [-1.32, -0.22], [-1.45, 0.0], [-1.36, 0.3], [-0.92, 0.36],
    [-0.72, 0.5], [-0.64, 0.86], [-0.5, 0.78], [-0.42, 0.38], [-0.3, 0.14], [-0.1, 0.08],
    [0.03, 0.02],
])  # fmt: skip


def _draw_posterior_lat(canvas: Canvas, lv: Level, l2i: LevelToImage, pv: float, scale: float) -> None:
    h, w = lv.h, lv.w
    arch = chaikin(_LAT_ARCH * [w, h] + [-0.5 * w, 0.0], 2)
    canvas.add_shell(l2i(lv, arch), 1.8 * scale, 0.07 * pv, 0.08 * pv, 4)
    # pedicle: denser
    ped = chaikin(np.array([[0.03, -0.4], [-0.3, -0.36], [-0.34, 0.1], [0.03, 0.0]]), 1)
    canvas.add(l2i(lv, ped * [w, h] + [-0.5 * w, 0.0]), 0.06 * pv, 4)


def _draw_sacrum(canvas: Canvas, lv: Level, outline: np.ndarray, l2i: LevelToImage, lat: bool,
                 rim_t: float, body: float, rim: float, pv: float, look: BoneLook,
                 scale: float) -> None:
    h, w = lv.h, lv.w
    tex, tex_amp = look.tex, look.tex_amp
    if lat:
        # posterior sacral elements (canal roof, median crest) behind the body
        t = np.linspace(0.0, 1.0, 10)
        axis_u = 0.6 * w * t**2
        v = -0.5 * h + 3.8 * h * t
        back_in = np.stack([axis_u - 0.5 * w * (1 - 0.8 * t), v], axis=1)
        back_out = np.stack([axis_u - 0.5 * w * (1 - 0.8 * t) - 0.6 * w * (1 - 0.8 * t),
                             v - 0.2 * h * (1 - t)], axis=1)
        crest = chaikin(np.concatenate([back_in, back_out[::-1]]), 1)
        canvas.add_shell(l2i(lv, crest), 1.5 * scale, 0.06 * pv, 0.06 * pv, 4)
        canvas.add_shell(outline, rim_t, rim, 0.85 * body, 16, tex, tex_amp)
        # fused S1/S2 disc remnant: a faint dark band
        band = np.array([[0.5 * w, 0.52 * h], [-0.4 * w, 0.45 * h], [-0.4 * w, 0.53 * h],
                         [0.5 * w, 0.6 * h]])
        canvas.add(l2i(lv, band), -0.12 * body, 4)
        return
    canvas.add_shell(outline, rim_t, 0.5 * rim, 0.5 * body, 8, tex, tex_amp)
    # S1 body on top of the sacrum
    c = lv.corners
    s1 = np.array([c[0], c[1], [0.5 * w, 0.45 * h], [-0.5 * w, 0.45 * h]])
    canvas.add_shell(l2i(lv, s1), rim_t, 0.5 * rim, 0.2 * body, 8)
    # sacral foramina: two rows of dark ovals
    for k in range(4):
        for sgn in (-1.0, 1.0):
            e = ellipse(sgn * (0.55 - 0.08 * k) * w, (0.8 + 0.7 * k) * h, 0.09 * w, 0.11 * h, 14)
            canvas.add(l2i(lv, e), -0.3 * body, 4)
