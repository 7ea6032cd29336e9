"""Anatomical parts of the phantom: vertebra levels, posterior elements, sacrum."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vam_gui.core.phantom_extras import LevelToImage
from vam_gui.core.rasterize import _Canvas, _chaikin, _ellipse

_ORDER: tuple[str, ...] = (
    "C3", "C4", "C5", "C6", "C7",
    *(f"T{i}" for i in range(1, 13)),
    "L1", "L2", "L3", "L4", "L5",
    "S1",
)  # fmt: skip


def _level_table() -> dict[str, tuple[float, float, float, float]]:
    """name -> (height, AP width, lateral depth, disc below), relative to L3 (disc: to the mean).

    Rough adult proportions: thoracic bodies smaller and with thinner discs, lumbar widths
    growing caudally.
    """
    table: dict[str, tuple[float, float, float, float]] = {}
    for i, name in enumerate(("C3", "C4", "C5", "C6", "C7")):
        table[name] = (0.50 + 0.02 * i, 0.42 + 0.03 * i, 0.45 + 0.02 * i, 0.55)
    for i in range(12):
        f = i / 11.0
        table[f"T{i + 1}"] = (0.60 + 0.29 * f, 0.60 + 0.24 * f, 0.55 + 0.37 * f, 0.50 + 0.35 * f)
    lumbar = zip(
        ("L1", "L2", "L3", "L4", "L5"),
        (0.94, 0.97, 1.00, 1.01, 1.00),
        (0.90, 0.94, 1.00, 1.04, 1.08),
        (0.94, 0.97, 1.00, 1.00, 0.98),
        (0.85, 0.95, 1.00, 1.05, 0.95),
    )
    for name, h, w, dp, disc in lumbar:
        table[name] = (h, w, dp, disc)
    table["S1"] = (0.95, 1.05, 1.00, 0.0)
    return table


_TABLE = _level_table()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    return obj


# ---------------------------------------------------------------------------------------
# Posterior elements and sacrum (local frames: u lateral/anterior, v down; units px)
# ---------------------------------------------------------------------------------------




@dataclass
class _Level:
    name: str
    h: float  # body height, px (canonical frame)
    w: float  # body width (AP) or depth (LAT), px
    disc: float  # disc height below, px
    s: float = 0.0  # arc length of the centre
    center: np.ndarray = field(default_factory=lambda: np.zeros(2))
    theta: float = 0.0  # heading: direction of e_v measured from +y towards +x
    corners: np.ndarray = field(default_factory=lambda: np.zeros((4, 2)))  # local frame
    outline: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # local frame
    corner_idx: tuple[int, ...] = (0, 1, 2, 3)  # outline vertex of each corner
    density: float = 1.0
    rot: float = 0.0  # axial rotation proxy (AP pedicle shift, fraction of width)

    def frame(self) -> tuple[np.ndarray, np.ndarray]:
        ev = np.array([math.sin(self.theta), math.cos(self.theta)])
        eu = np.array([math.cos(self.theta), -math.sin(self.theta)])
        return eu, ev

    def to_canon(self, local: np.ndarray) -> np.ndarray:
        eu, ev = self.frame()
        local = np.asarray(local, dtype=np.float64)
        out: np.ndarray = self.center + local[..., :1] * eu + local[..., 1:2] * ev
        return out


def _affine_apply(a: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64)
    out: np.ndarray = pts @ a[:, :2].T + a[:, 2]
    return out


def _affine_inv(a: np.ndarray) -> np.ndarray:
    m = np.linalg.inv(a[:, :2])
    return np.concatenate([m, -(m @ a[:, 2])[:, None]], axis=1)



def _draw_posterior_ap(canvas: _Canvas, lv: _Level, L2I: LevelToImage, pv: float, scale: float) -> None:
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
        canvas.add_shell(L2I(lv, _chaikin(ctrl, 2)), 1.5 * scale, 0.05 * pv, 0.07 * pv, 4)
    # laminae: a faint bow between the pedicles and the spinous process
    lam = _chaikin(np.array([[-0.36 * w, -0.1 * h], [0.36 * w, -0.1 * h], [0.3 * w, 0.2 * h],
                             [0.12 * w, 0.5 * h], [-0.12 * w, 0.5 * h], [-0.3 * w, 0.2 * h]]), 2)
    canvas.add(L2I(lv, lam + [shift, 0]), 0.04 * pv, 4)
    # inferior articular processes (below the body, in the disc space)
    for sgn in (-1.0, 1.0):
        e = _ellipse(sgn * 0.22 * w + shift, 0.5 * h, 0.07 * w, 0.14 * h, 16)
        canvas.add_shell(L2I(lv, e), 1.5 * scale, 0.06 * pv, 0.04 * pv, 4)
    # pedicles: small bright rings in the upper body
    for sgn in (-1.0, 1.0):
        rx, ry = 0.085 * w, (0.15 if thoracic else 0.13) * h
        e = _ellipse(sgn * 0.3 * w + shift * (1 - sgn * 0.6), -0.17 * h, rx, ry, 20)
        ring = max(1.3, 0.33 * rx * scale)
        canvas.add_shell(L2I(lv, e), ring, 0.18 * pv, 0.05 * pv, 8)
    # spinous process: a faint teardrop in the middle, reaching into the disc below
    length = (1.05 if thoracic else 0.8) * h
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    tx = 0.075 * w * np.sin(t) * (1 - 0.5 * (1 - np.cos(t)) / 2)
    ty = -0.1 * h + length * (1 - np.cos(t)) / 2
    tear = np.stack([tx + shift * 1.2, ty], axis=1)
    canvas.add_shell(L2I(lv, tear), 1.4 * scale, 0.08 * pv, 0.06 * pv, 4)


# Lateral posterior arch (pedicle, articular processes, lamina, spinous process) as one
# outline in the body frame: u in units of depth measured from the posterior wall (negative
# = posterior), v in units of height.
_LAT_ARCH = np.array([
    [0.03, -0.42], [-0.22, -0.38], [-0.34, -0.55], [-0.42, -0.88], [-0.56, -0.74],
    [-0.62, -0.38], [-0.95, -0.3], [-1.32, -0.22], [-1.45, 0.0], [-1.36, 0.3], [-0.92, 0.36],
    [-0.72, 0.5], [-0.64, 0.86], [-0.5, 0.78], [-0.42, 0.38], [-0.3, 0.14], [-0.1, 0.08],
    [0.03, 0.02],
])  # fmt: skip


def _draw_posterior_lat(canvas: _Canvas, lv: _Level, L2I: LevelToImage, pv: float, scale: float) -> None:
    h, w = lv.h, lv.w
    arch = _chaikin(_LAT_ARCH * [w, h] + [-0.5 * w, 0.0], 2)
    canvas.add_shell(L2I(lv, arch), 1.8 * scale, 0.07 * pv, 0.08 * pv, 4)
    # pedicle: denser
    ped = _chaikin(np.array([[0.03, -0.4], [-0.3, -0.36], [-0.34, 0.1], [0.03, 0.0]]), 1)
    canvas.add(L2I(lv, ped * [w, h] + [-0.5 * w, 0.0]), 0.06 * pv, 4)


def _sacrum_body(lv: _Level, lat: bool) -> np.ndarray:
    """Sacrum outline, local frame; the first two vertices are corners 1 and 0 (top edge)."""
    h, w = lv.h, lv.w
    c = lv.corners
    if lat:
        # top: SP (posterior) -> SA (anterior, +u); then a curved wedge, concave anteriorly.
        t = np.linspace(0.0, 1.0, 14)[1:]
        length = 3.8 * h
        axis_u = 0.6 * w * t**2  # the tip curls anteriorly
        half_w = 0.5 * w * (1.0 - 0.8 * t)
        v = -0.5 * h + length * t
        ant = np.stack([axis_u + half_w - 0.04 * w * np.sin(np.pi * t), v], axis=1)
        post = np.stack([axis_u - half_w, v], axis=1)[::-1]
        return np.concatenate([c[[1]], c[[0]], ant, post])
    # AP: S1 superior endplate with the alae, converging to the coccyx
    right = _chaikin(np.array([[0.8 * w, -0.5 * h], [1.15 * w, -0.4 * h], [1.35 * w, -0.1 * h],
                               [1.3 * w, 0.8 * h], [1.05 * w, 1.9 * h], [0.7 * w, 2.9 * h],
                               [0.35 * w, 3.6 * h], [0.12 * w, 4.0 * h]]), 0)
    left = right * [-1.0, 1.0]  # top -> bottom on the left side
    return np.concatenate([c[[1]], c[[0]], left, right[::-1]])


def _draw_sacrum(canvas: _Canvas, lv: _Level, outline: np.ndarray, L2I: LevelToImage, lat: bool, rim_t: float,
                 body: float, rim: float, pv: float, tex: np.ndarray, tex_amp: float,
                 scale: float) -> None:
    h, w = lv.h, lv.w
    if lat:
        # posterior sacral elements (canal roof, median crest) behind the body
        t = np.linspace(0.0, 1.0, 10)
        axis_u = 0.6 * w * t**2
        v = -0.5 * h + 3.8 * h * t
        back_in = np.stack([axis_u - 0.5 * w * (1 - 0.8 * t), v], axis=1)
        back_out = np.stack([axis_u - 0.5 * w * (1 - 0.8 * t) - 0.6 * w * (1 - 0.8 * t),
                             v - 0.2 * h * (1 - t)], axis=1)
        crest = _chaikin(np.concatenate([back_in, back_out[::-1]]), 1)
        canvas.add_shell(L2I(lv, crest), 1.5 * scale, 0.06 * pv, 0.06 * pv, 4)
        canvas.add_shell(outline, rim_t, rim, 0.85 * body, 16, tex, tex_amp)
        # fused S1/S2 disc remnant: a faint dark band
        band = np.array([[0.5 * w, 0.52 * h], [-0.4 * w, 0.45 * h], [-0.4 * w, 0.53 * h],
                         [0.5 * w, 0.6 * h]])
        canvas.add(L2I(lv, band), -0.12 * body, 4)
        return
    canvas.add_shell(outline, rim_t, 0.5 * rim, 0.5 * body, 8, tex, tex_amp)
    # S1 body on top of the sacrum
    c = lv.corners
    s1 = np.array([c[0], c[1], [0.5 * w, 0.45 * h], [-0.5 * w, 0.45 * h]])
    canvas.add_shell(L2I(lv, s1), rim_t, 0.5 * rim, 0.2 * body, 8)
    # sacral foramina: two rows of dark ovals
    for k in range(4):
        for sgn in (-1.0, 1.0):
            e = _ellipse(sgn * (0.55 - 0.08 * k) * w, (0.8 + 0.7 * k) * h, 0.09 * w, 0.11 * h, 14)
            canvas.add(L2I(lv, e), -0.3 * body, 4)


# ---------------------------------------------------------------------------------------
# Preview
# ---------------------------------------------------------------------------------------
