"""Procedural spine-radiograph phantoms with exact ground-truth vertebral corner landmarks.

``make_phantom(schema, seed=...)`` draws a synthetic AP or lateral spine radiograph and
returns it with the schema's corner landmarks. The landmarks are computed from the geometry
(never by image analysis) and are exactly the corners of the polygons that were drawn.

Pixel convention (as everywhere in vam_gui): the centre of pixel (row i, column j) is
(x = j, y = i). Shapes are drawn by :func:`polygon_coverage` (``vam_gui.core.rasterize``),
which puts every edge at its sub-pixel position: no supersampling, no offset to compensate.
Only numpy at import; OpenCV inside the functions that need it. No torch, no Qt.

Content
-------
AP view: the schema's vertebral bodies plus two extra levels above (e.g. T11, T12 for a
lumbar schema) and the sacrum below L5, each body a quadrilateral with slightly concave
sides and endplates, a bright cortical rim and band-passed (trabecular) interior texture;
discs (faint) between them; pedicle rings, spinous process teardrop, laminae, inferior
articular processes and transverse processes; ribs (floating ribs on lumbar films, full
posterior/anterior ribs and clavicles on thoracic films), lung fields and heart shadow,
iliac wings and sacrum with foramina, bowel gas, a soft-tissue silhouette. Scoliosis: a
C or S curve of the column.

Lateral view: bodies as wedged quadrilaterals with the anterior side towards ``facing``;
pedicles, articular processes and spinous processes behind them; lordosis (column concave
posteriorly); the sacrum as a curved wedge whose top edge is the S1 superior endplate
(its two corners are the S1-SA / S1-SP keypoints); iliac wing, floating ribs, bowel gas.

Nuisances (scaled by ``difficulty``): scoliosis amplitude, per-vertebra tilt (+-5 deg),
global rotation (+-10 deg), scale (0.85..1.15), translation, blur, noise, low-frequency
gradient, gamma; the output range (max 4000..60000) is always random. Difficulty above 1 adds
(``vam_gui.core.phantom_extras``, strength d - 1) curves up to ~60 deg Cobb with apical axial
rotation, fainter bone, more soft tissue and bowel gas, surgical hardware, a ruler, lead markers
and burned-in text; phantoms with difficulty <= 1 are unchanged by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vam_gui.core import phantom_extras as _ex
from vam_gui.core.phantom_parts import (
    _ORDER,
    _TABLE,
    _affine_apply,
    _affine_inv,
    _draw_posterior_ap,
    _draw_posterior_lat,
    _draw_sacrum,
    _jsonable,
    _Level,
    _sacrum_body,
)
from vam_gui.core.rasterize import _Canvas, _chaikin, _side, polygon_coverage
from vam_gui.core.schema import Schema, load_schema

__all__ = ["Phantom", "make_phantom", "polygon_coverage", "preview_rgb"]

# Levels the generator knows, cranial to caudal. S1 stands for the whole sacrum.

@dataclass
class Phantom:
    pixels: np.ndarray  # [H, W] uint16, bone bright
    xy: np.ndarray  # [K, 2] float64 (x, y) ground-truth corners, image pixels
    visible: np.ndarray  # [K] bool
    spacing: tuple[float, float]  # (dy, dx) mm per pixel
    schema: str
    seed: int
    facing: str | None  # lateral view: "left" or "right" (side the anterior is displayed on)
    params: dict[str, Any] = field(default_factory=dict)  # the random parameters drawn (JSON-serialisable)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))


# ---------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------


def make_phantom(
    schema: Schema | str = "lumbar-ap-20",
    *,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    difficulty: float = 1.0,
    clean: bool = False,
) -> Phantom:
    """A synthetic spine radiograph with the schema's corner landmarks.

    Deterministic by ``seed``. ``size=(H, W)`` or drawn per seed (H 640..1024, W 0.7..0.9 H;
    0.4..0.55 H for long columns such as spine-ap-68). ``difficulty`` in [0, 1] scales the
    nuisances (0: upright, centred, no scoliosis, little noise); (1, 2] adds, with strength
    difficulty - 1, hardware (rods, screws, cages), a ruler, lead markers, burned-in text,
    curves up to ~60 deg Cobb with axial rotation, fainter bone, more soft tissue and gas (a
    difficulty <= 1 phantom is exactly what it was before these extras; labels stay the drawn
    corners). ``clean=True`` skips blur, noise, gamma and the intensity gradient (the anatomy,
    its texture and the landmarks are the same as without it).
    """
    return _generate(schema, seed=seed, size=size, difficulty=difficulty, clean=clean)[0]


def _generate(
    schema: Schema | str,
    *,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    difficulty: float = 1.0,
    clean: bool = False,
) -> tuple[Phantom, dict[str, Any]]:
    """make_phantom plus debug data: the image-frame outlines of the drawn bodies."""
    import cv2

    sch = schema if isinstance(schema, Schema) else load_schema(schema)
    view = sch.view
    lat = view == "LAT"
    d = float(np.clip(difficulty, 0.0, 1.0))
    rng = np.random.default_rng(seed)
    P: dict[str, Any] = {"view": view, "difficulty": d, "clean": bool(clean)}
    xd = float(np.clip(difficulty - 1.0, 0.0, 1.0))  # > 0: the extras (own random stream)
    # the extras' own stream; drawing from it never touches the generator's (difficulty <= 1 pinned)
    xr = _ex.extras_rng(seed)
    XP: dict[str, Any] = {}
    if xd > 0:
        P.update(difficulty=1.0 + xd, extras=XP)

    # --- which levels -----------------------------------------------------------------
    unknown = [v for v in sch.vertebrae if v not in _ORDER]
    if unknown:
        raise ValueError(f"schema {sch.name!r}: phantom cannot draw vertebra(e) {unknown}")
    idx = [_ORDER.index(v) for v in sch.vertebrae]
    if idx != list(range(idx[0], idx[0] + len(idx))):
        raise ValueError(f"schema {sch.name!r}: vertebrae must be consecutive levels")
    first, last = idx[0], idx[-1]
    names = list(_ORDER[max(0, first - 2) : min(len(_ORDER), last + 3)])
    if "S1" in names:
        names = names[: names.index("S1") + 1]
    n_lv = len(names)
    schema_pos = [names.index(v) for v in sch.vertebrae]
    span_first = schema_pos[0]
    span_last = schema_pos[-1]
    tall = len(sch.vertebrae) > 8

    # --- image size -----------------------------------------------------------------------
    h_draw = int(rng.integers(640, 1025))
    aspect = float(rng.uniform(0.4, 0.55) if tall else rng.uniform(0.7, 0.9))
    if size is None:
        H, W = h_draw, int(round(h_draw * aspect))
    else:
        H, W = int(size[0]), int(size[1])
        if H < 16 or W < 16:
            raise ValueError(f"phantom size must be at least 16x16, got {size}")
    P["size"] = [H, W]

    # --- anatomy ----------------------------------------------------------------------------
    l3_mm = float(rng.uniform(25.0, 29.0))
    ratio = float(rng.uniform(1.3, 1.6))  # AP: width / height
    depth_ratio = float(rng.uniform(1.25, 1.5))  # LAT: depth / height
    disc_ratio = float(rng.uniform(0.25, 0.4))
    fill = float(rng.uniform(0.78, 0.86) if tall else rng.uniform(0.6, 0.75))
    h_jit = rng.uniform(0.96, 1.04, n_lv)
    w_jit = rng.uniform(0.97, 1.03, n_lv)
    disc_jit = rng.uniform(0.85, 1.15, n_lv)
    wedge_jit = rng.uniform(-0.04, 0.04, n_lv)
    taper = rng.uniform(-0.03, 0.03, n_lv)
    side_cav = rng.uniform(0.02, 0.06, (n_lv, 2))
    ep_cav = rng.uniform(0.0, 0.03, (n_lv, 2))
    tilt = np.deg2rad(rng.uniform(-5.0, 5.0, n_lv)) * d
    density = rng.uniform(0.9, 1.1, n_lv)
    P.update(l3_height_mm=l3_mm, width_ratio=ratio, depth_ratio=depth_ratio,
             disc_ratio=disc_ratio, fill=fill, tilt_deg=np.rad2deg(tilt).tolist())

    # Relative sizes (unit: L3 height) and the column span the schema must fill.
    rel_h = np.array([_TABLE[n][0] for n in names]) * h_jit
    if lat:
        rel_w = np.array([_TABLE[n][2] for n in names]) * depth_ratio * w_jit
    else:
        rel_w = np.array([_TABLE[n][1] for n in names]) * ratio * w_jit
    rel_disc = np.array([_TABLE[n][3] for n in names]) * disc_ratio / 0.95 * disc_jit
    tops = np.concatenate([[0.0], np.cumsum(rel_h + rel_disc)[:-1]])
    span_end = tops[span_last] if names[span_last] == "S1" else tops[span_last] + rel_h[span_last]
    span_rel = span_end - tops[span_first]
    # px per L3 height (canonical frame, before the global scale); bodies must fit the width
    unit = min(fill * H / span_rel, 0.3 * W / float(rel_w[schema_pos].max()))
    spacing_mm = l3_mm / unit

    levels = [
        _Level(name=n, h=rel_h[i] * unit, w=rel_w[i] * unit, disc=rel_disc[i] * unit,
               s=(tops[i] + 0.5 * rel_h[i]) * unit, density=float(density[i]))
        for i, n in enumerate(names)
    ]
    s_top = tops[span_first] * unit
    s_bot = span_end * unit

    # --- column curve -------------------------------------------------------------------
    s_grid = np.arange(-2.0 * unit, (tops[-1] + rel_h[-1] + 6.0) * unit, 0.5)
    facing: str | None = None
    if lat:
        facing = "left" if rng.random() < 0.5 else "right"
        lordosis = 50.0 + float(rng.uniform(-4, 4)) + d * float(rng.uniform(-12, 12))
        sacral_slope = 38.0 + float(rng.uniform(-3, 3)) + d * float(rng.uniform(-8, 8))
        power = float(rng.uniform(1.3, 2.0))
        s1_extra = math.radians(float(rng.uniform(4.0, 12.0)))
        s_l1 = levels[span_first].s
        t = np.clip((s_grid - s_l1) / max(s_bot - s_l1, 1.0), 0.0, 1.0)
        alpha = np.deg2rad(lordosis - sacral_slope - lordosis * t**power)
        P.update(facing=facing, lordosis_deg=lordosis, sacral_slope_deg=sacral_slope,
                 lordosis_power=power, s1_extra_deg=math.degrees(s1_extra))
        amp = 0.0
    else:
        amp_max = (0.16 if tall else 0.12) * W
        amp = d * float(rng.uniform(0.0, 1.0)) * amp_max * (1 if rng.random() < 0.5 else -1)
        waves = int(rng.integers(1, 3))
        phase = float(rng.uniform(-0.3, 0.3)) * math.pi
        u = (s_grid - s_top) / max(s_bot - s_top, 1.0)
        g = np.sin(math.pi * waves * u + phase)
        g0 = math.sin(phase)
        g1 = math.sin(math.pi * waves + phase)
        g = g - (g0 + (g1 - g0) * u)
        in_span = (u >= 0) & (u <= 1)
        shape = g / max(float(np.abs(g[in_span]).max()), 1e-6)
        g = shape * amp
        if xd > 0:
            amp = _ex.scoliosis_amp(shape, s_grid, [levels[p].s for p in schema_pos],
                                    tilt[schema_pos], amp, xd, xr, XP)
            g = shape * amp
        alpha = np.arctan(np.gradient(g, s_grid))
        P.update(scoliosis_px=amp, scoliosis_waves=waves, scoliosis_phase=phase)
    ds = 0.5
    cx = np.concatenate([[0.0], np.cumsum(np.sin(0.5 * (alpha[1:] + alpha[:-1])) * ds)])
    cy = np.concatenate([[0.0], np.cumsum(np.cos(0.5 * (alpha[1:] + alpha[:-1])) * ds)])

    def along(sv: float) -> tuple[np.ndarray, float]:
        return (np.array([np.interp(sv, s_grid, cx), np.interp(sv, s_grid, cy)]),
                float(np.interp(sv, s_grid, alpha)))

    for i, lv in enumerate(levels):
        if lat and lv.name == "S1":
            # The sacrum turns a little further than the curve, about its posterior-superior
            # corner: the L5/S1 disc opens anteriorly (wedge-shaped, as in real films).
            top, a = along(tops[i] * unit)
            lv.theta = a + tilt[i] * 0.5 - s1_extra
            sp_on_curve = top - 0.5 * lv.w * np.array([math.cos(a), -math.sin(a)])
            eu = np.array([math.cos(lv.theta), -math.sin(lv.theta)])
            ev = np.array([math.sin(lv.theta), math.cos(lv.theta)])
            lv.center = sp_on_curve + 0.5 * lv.w * eu + 0.5 * lv.h * ev
        else:
            lv.center, a = along(lv.s)
            lv.theta = a + tilt[i]
        lv.rot = float(np.clip(a * 0.8, -0.3, 0.3)) if not lat else 0.0
    if xd > 0 and not lat:
        _ex.axial_rotation(levels, s_grid, g, xd)

    # --- local corners and outlines -------------------------------------------------------
    for i, lv in enumerate(levels):
        h, w = lv.h, lv.w
        if lat:
            base = {"T": -0.05, "L1": -0.04, "L2": -0.02, "L3": 0.0, "L4": 0.03, "L5": 0.08}
            eps = base.get(lv.name, base.get(lv.name[0], 0.0)) + d * wedge_jit[i]
            if lv.name == "S1":
                eps = 0.0
            wt, wb = w * (1 + taper[i]), w * (1 - taper[i])
            ha, hp = h * (1 + eps), h * (1 - eps)
            corners = np.array([[wt / 2, -ha / 2], [-wt / 2, -hp / 2],
                                [wb / 2, ha / 2], [-wb / 2, hp / 2]])
            cav_side = (side_cav[i, 0] * w, side_cav[i, 1] * 0.5 * w)  # anterior, posterior
        else:
            eps = d * wedge_jit[i] * 0.75
            wt, wb = w * (1 - abs(taper[i])), w * (1 + abs(taper[i]))
            hl, hr = h * (1 + eps), h * (1 - eps)
            corners = np.array([[-wt / 2, -hl / 2], [wt / 2, -hr / 2],
                                [-wb / 2, hl / 2], [wb / 2, hr / 2]])
            cav_side = (side_cav[i, 0] * w, side_cav[i, 1] * w)
        lv.corners = corners
        m = 8
        # outline: top0 -> top1 -> bot1 -> bot0 (corners are vertices, exactly)
        lv.corner_idx = (0, m, 3 * m, 2 * m)
        lv.outline = np.concatenate([
            _side(corners[0], corners[1], ep_cav[i, 0] * h, m),
            _side(corners[1], corners[3], cav_side[1], m),
            _side(corners[3], corners[2], ep_cav[i, 1] * h, m),
            _side(corners[2], corners[0], cav_side[0], m),
        ])

    # --- keep discs open: push the column apart where neighbouring bodies would touch ------
    for i in range(1, n_lv):
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

    # --- centre the schema's bodies; global similarity ------------------------------------
    span_pts = np.concatenate([levels[p].to_canon(levels[p].corners) for p in schema_pos])
    if names[span_last] == "S1" and lat:
        span_pts = np.concatenate([span_pts[:-4], levels[span_last].to_canon(
            levels[span_last].corners[:2])])
    mid = 0.5 * (span_pts.min(axis=0) + span_pts.max(axis=0))
    offset = np.array([(W - 1) / 2.0, (H - 1) / 2.0]) - mid
    for lv in levels:
        lv.center = lv.center + offset
    rot = d * float(rng.uniform(-10.0, 10.0))
    scale = 1.0 + d * float(rng.uniform(-0.15, 0.15))
    trans = d * rng.uniform(-0.05, 0.05, 2) * np.array([W, H])
    P.update(rotation_deg=rot, scale=scale, translation_px=trans.tolist())
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
    if xd > 0:  # stronger curves: keep every landmark inside the image
        A, f_fit = _ex.fit_in_image(A, span_pts + offset, W, H)
        scale *= f_fit
        XP["fit_scale"] = f_fit
    spacing = spacing_mm / scale
    P["spacing_mm"] = spacing

    def l2i(lv: _Level, local: np.ndarray) -> np.ndarray:
        return _affine_apply(A, lv.to_canon(local))

    # --- drawn body outlines (image frame) and the landmarks: their corner vertices ---------
    outlines_img: list[np.ndarray] = []
    for lv in levels:
        if lv.name == "S1":
            outlines_img.append(l2i(lv, _sacrum_body(lv, lat)))
            lv.corner_idx = (1, 0)  # the sacrum outline starts SP, SA
        else:
            outlines_img.append(l2i(lv, lv.outline))
    xy = np.zeros((sch.k, 2), dtype=np.float64)
    for kp in range(sch.k):
        pos = schema_pos[sch.vertebra[kp]]
        xy[kp] = outlines_img[pos][levels[pos].corner_idx[sch.corner[kp]]]
    visible = (xy[:, 0] >= 0) & (xy[:, 0] <= W - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= H - 1)

    # --- textures ---------------------------------------------------------------------------
    k_tex = float(np.clip(0.3 / spacing, 0.6, 1.6))
    white = rng.standard_normal((H, W), dtype=np.float32)
    fine = cv2.GaussianBlur(white, (0, 0), sigmaX=0.8 * k_tex, sigmaY=1.6 * k_tex)
    coarse = cv2.GaussianBlur(fine, (0, 0), sigmaX=3.0 * k_tex)
    tex = fine - coarse
    tex *= 1.0 / max(float(tex[::8, ::8].std()), 1e-6)
    np.clip(tex, -2.5, 2.5, out=tex)

    canvas = _Canvas(H, W)
    body_val = float(rng.uniform(0.16, 0.26))
    rim_val = float(rng.uniform(0.12, 0.22))
    tex_amp = float(rng.uniform(0.12, 0.22))
    post_val = float(rng.uniform(0.7, 1.0))  # posterior elements, relative
    rim_px = float(rng.uniform(2.0, 3.5))
    P.update(body=body_val, rim=rim_val, texture=tex_amp, posterior=post_val, rim_px=rim_px)
    if xd > 0:
        body_val, rim_val, rim_px = _ex.fainter_bone(body_val, rim_val, rim_px, xd, xr, XP)

    # --- background (smooth fields on a coarse grid, in the canonical frame) ----------------
    step = 8
    hc, wc = (H + step - 1) // step + 1, (W + step - 1) // step + 1
    gy = (np.arange(hc) + 0.5) * (H / hc) - 0.5
    gx = (np.arange(wc) + 0.5) * (W / wc) - 0.5
    GX, GY = np.meshgrid(gx, gy)
    inv = _affine_inv(A)
    X = inv[0, 0] * GX + inv[0, 1] * GY + inv[0, 2]
    Y = inv[1, 0] * GX + inv[1, 1] * GY + inv[1, 2]
    col_x = float(np.mean([levels[p].center[0] for p in schema_pos]))
    w_ref = float(np.mean([levels[p].w for p in schema_pos]))
    pitch = float(np.mean(np.diff([lv.center[1] for lv in levels])))
    y_of = {lv.name: float(lv.center[1]) for lv in levels}

    def level_y(name: str) -> float:
        if name in y_of:
            return y_of[name]
        i_ref = _ORDER.index(levels[0].name)
        i = _ORDER.index(name)
        if i < i_ref:
            return y_of[levels[0].name] - (i_ref - i) * pitch
        return y_of[levels[-1].name] + (i - _ORDER.index(levels[-1].name)) * pitch

    def smooth_in(dist: np.ndarray, soft: float) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(-dist / max(soft, 1e-3)))

    bg = np.zeros_like(X)
    tissue = float(rng.uniform(0.28, 0.42))
    if lat:
        post_edge = col_x - w_ref * float(rng.uniform(2.9, 3.6))
        ant_edge = col_x + w_ref * float(rng.uniform(2.8, 4.5))
        mid_u, half = 0.5 * (post_edge + ant_edge), 0.5 * (ant_edge - post_edge)
    else:
        half = w_ref * float(rng.uniform(2.6, 3.8))
        mid_u = col_x + w_ref * float(rng.uniform(-0.3, 0.3))
    r = np.clip((X - mid_u) / half, -1.5, 1.5)
    thick = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0))
    bg += tissue * (0.15 + 0.85 * thick) * smooth_in(np.abs(r) - 1.0, 0.03)
    bg += 0.02  # air is not quite black
    y_dia = level_y("T11") - float(rng.uniform(0.2, 1.0)) * pitch
    if not lat:
        # lung fields and heart shadow above the diaphragm
        lung_amp = float(rng.uniform(0.15, 0.24))
        apex = level_y("T1") - 1.5 * pitch
        for sgn in (-1.0, 1.0):
            inner = w_ref * 0.95
            outer = half * 0.92
            cxl = col_x + sgn * 0.5 * (inner + outer)
            rxl = 0.5 * (outer - inner)
            ax = (X - cxl) / rxl
            dome = y_dia + 0.9 * pitch * np.clip(np.abs(X - col_x) - inner, 0, None) / rxl
            ry = 0.5 * (dome - apex)
            ay = (Y - 0.5 * (dome + apex)) / np.maximum(ry, 1.0)
            dist = (np.sqrt(ax * ax + ay * ay) - 1.0) * rxl
            bg -= lung_amp * thick * smooth_in(dist, 0.08 * rxl)
        hx = col_x + w_ref * float(rng.uniform(0.6, 1.0))
        hy = y_dia - 2.2 * pitch
        dist = (np.hypot((X - hx) / (1.6 * w_ref), (Y - hy) / (2.6 * pitch)) - 1.0) * w_ref
        bg += 0.6 * lung_amp * smooth_in(dist, 0.2 * w_ref)
    # bowel gas below the diaphragm
    n_gas = int(rng.integers(2, 9))
    for _ in range(n_gas):
        if lat:
            gxp = col_x + w_ref * float(rng.uniform(0.7, 3.5))
        else:
            gxp = col_x + w_ref * float(rng.uniform(-2.5, 2.5))
        gyp = float(rng.uniform(y_dia + pitch, level_y("L5") + 2 * pitch))
        rg = w_ref * float(rng.uniform(0.2, 0.6))
        amp_g = float(rng.uniform(0.02, 0.08))
        bg -= amp_g * np.exp(-(((X - gxp) ** 2 + ((Y - gyp) * 1.3) ** 2) / (rg * rg)))
    P["bowel_gas"] = n_gas
    background = cv2.resize(bg.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    canvas.img += background
    if xd > 0:
        _ex.more_soft_tissue(canvas.img, A, {
            "col_x": col_x, "w_ref": w_ref, "pitch": pitch, "y_dia": y_dia, "y_l5": level_y("L5"),
            "mid_u": mid_u, "half": half, "tissue": tissue}, lat, scale, xd, xr, XP)

    # --- ribs, clavicles (thick anti-aliased polylines) ------------------------------------
    ribs = np.zeros((H, W), dtype=np.uint8)
    rib_amp = float(rng.uniform(0.06, 0.11))

    def poly_line(pts_canon: np.ndarray, thickness: float, value: int) -> None:
        pts = _affine_apply(A, pts_canon)
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
                if n_t < 11 or rng.random() < 0.3:
                    continue
                x0 = lv.to_canon(np.array([[-0.9 * lv.w, -0.1 * lv.h]]))[0]
                tt = np.linspace(0, 1, 16)[:, None]
                length = w_ref * float(rng.uniform(1.4, 2.4))
                ang = math.radians(float(rng.uniform(20, 45)))
                pts = x0 + tt * length * np.array([math.cos(ang), math.sin(ang)]) + (
                    np.sin(np.pi * tt) * 0.2 * length * np.array([-math.sin(ang), math.cos(ang)]))
                poly_line(pts, 0.35 * lv.h * scale, 120)
                poly_line(pts, 0.15 * lv.h * scale, 90)
                continue
            start = lv.to_canon(np.array([[sgn * 0.7 * lv.w, -0.15 * lv.h]]))[0]
            if n_t >= 11:  # floating ribs: short, down and out
                length = w_ref * (1.4 if n_t == 11 else 1.0) * float(rng.uniform(0.8, 1.3))
                ang = math.radians(float(rng.uniform(25, 45)))
                tt = np.linspace(0, 1, 12)[:, None]
                pts = start + tt * length * np.array([sgn * math.cos(ang), math.sin(ang)])
                pts[:, 1] += (tt[:, 0] ** 2) * 0.15 * length
                poly_line(pts, 0.4 * lv.h * scale, 150)
                poly_line(pts, 0.18 * lv.h * scale, 110)
                continue
            lat_x = col_x + sgn * half * 0.93
            dx = lat_x - start[0]
            tt = np.linspace(0, 1, 24)
            rise = pitch * (1.2 - 0.08 * n_t)
            px = start[0] + dx * np.sin(0.5 * np.pi * tt)
            py = start[1] - rise * np.sin(np.pi * tt * 0.8) + 1.8 * pitch * tt**3
            post = np.stack([px, py], axis=1)
            poly_line(post, 0.6 * lv.h * scale, 160)
            poly_line(post, 0.3 * lv.h * scale, 110)
            # anterior rib: from the lateral end, down and medially
            tt = np.linspace(0, 1, 16)
            ax_ = lat_x - sgn * (0.55 * abs(dx)) * np.sin(0.5 * np.pi * tt)
            ay_ = post[-1, 1] + 3.0 * pitch * tt + 0.3 * pitch * np.sin(np.pi * tt)
            poly_line(np.stack([ax_, ay_], axis=1), 0.5 * lv.h * scale, 70)
    if not lat and "T1" in y_of:
        lv = levels[names.index("T1")]
        for sgn in (-1.0, 1.0):
            tt = np.linspace(0, 1, 20)
            px = col_x + sgn * (0.9 * w_ref + tt * (half * 0.95 - 0.9 * w_ref))
            py = y_of["T1"] - 0.6 * pitch - 0.8 * pitch * tt + 0.25 * pitch * np.sin(2 * np.pi * tt)
            poly_line(np.stack([px, py], axis=1), 0.9 * lv.h * scale, 200)
    if ribs.any():
        rib_f = cv2.GaussianBlur(ribs, (0, 0), 1.0).astype(np.float32)
        canvas.img += (rib_amp / 150.0) * rib_f
    P["rib_amp"] = rib_amp

    # --- pelvis (AP: iliac wings; LAT: iliac wing overlapping the lumbosacral junction) ----
    if "S1" in y_of:
        s1 = levels[names.index("S1")]
        ilium_val = float(rng.uniform(0.05, 0.09))
        crest_dy = float(rng.uniform(-0.25, 0.25))
        if lat:
            # wing outline in the S1 frame (u anterior), smoothed
            ctrl = np.array([[0.6, -1.2], [0.0, -1.9], [-0.8, -2.3], [-1.6, -2.1], [-2.2, -1.4],
                             [-2.3, -0.4], [-1.9, 0.6], [-1.3, 1.4], [-0.6, 2.2], [0.2, 2.6],
                             [1.0, 2.5], [1.6, 1.8], [1.7, 0.8], [1.3, -0.3]])
            ctrl = ctrl * [s1.w, s1.h] + [-float(rng.uniform(0.2, 0.7)) * s1.w,
                                          crest_dy * s1.h]
            wing = l2i(s1, _chaikin(ctrl, 3))
            canvas.add_shell(wing, 3.5 * scale, 0.9 * ilium_val, 0.6 * ilium_val, 4)
        else:
            # iliac wings in the S1 frame (u to the right), in units of (w, pitch)
            ctrl = np.array([[1.05, -0.1], [1.25, -0.95], [1.75, -1.45], [2.4, -1.6],
                             [3.0, -1.4], [3.45, -0.85], [3.5, 0.2], [3.25, 1.3], [2.85, 2.3],
                             [2.3, 2.7], [1.9, 2.35], [1.6, 1.8], [1.3, 1.0], [1.12, 0.4]])
            for sgn in (-1.0, 1.0):
                lp = 1.35 * s1.h
                pts = ctrl * [sgn * s1.w, lp] + [0.0, -0.5 * s1.h + crest_dy * lp]
                if sgn < 0:
                    pts = pts[::-1]
                wing = l2i(s1, _chaikin(pts, 3))
                canvas.add_shell(wing, 4.0 * scale, 1.2 * ilium_val, 0.8 * ilium_val, 4, tex,
                                 0.25)
        P["ilium"] = ilium_val

    # --- vertebrae -----------------------------------------------------------------------------
    for i, lv in enumerate(levels):
        h, w = lv.h, lv.w
        dens = lv.density
        rim_t = float(np.clip(rim_px * np.clip(h * scale / 90.0, 0.7, 1.15), 1.5, 4.0))
        pv = post_val * dens
        if lv.name == "S1":
            _draw_sacrum(canvas, lv, outlines_img[i], l2i, lat, rim_t, body_val * dens,
                         rim_val * dens, pv, tex, tex_amp, scale)
            continue
        if lat:
            _draw_posterior_lat(canvas, lv, l2i, pv, scale)
        else:
            _draw_posterior_ap(canvas, lv, l2i, pv, scale)
        # disc below (faint), between this body's lower and the next body's upper endplate
        if i + 1 < n_lv:
            nxt = levels[i + 1]
            quad = np.concatenate([l2i(lv, lv.corners[[2, 3]]), l2i(nxt, nxt.corners[[1, 0]])])
            canvas.add(quad, 0.04 * dens, 4)
        canvas.add_shell(outlines_img[i], rim_t, rim_val * dens, body_val * dens, 16, tex, tex_amp)

    img = canvas.img

    # --- acquisition: blur, gradient, gamma, noise, detector range -------------------------------
    blur = 0.5 + d * float(rng.uniform(0.0, 1.0))
    gamma = float(math.exp(d * rng.uniform(-0.35, 0.35)))
    grad_amp = d * float(rng.uniform(0.0, 0.3))
    grad_dir = float(rng.uniform(0, 2 * math.pi))
    noise_add = 0.004 + d * float(rng.uniform(0.0, 0.025))
    noise_poisson = 0.004 + d * float(rng.uniform(0.0, 0.03))
    vmax = float(rng.uniform(4000.0, 60000.0))
    vmin = float(rng.uniform(0.0, 0.08)) * vmax
    window_lo = d * float(rng.uniform(-0.1, 0.1))
    window_hi = 1.0 + d * float(rng.uniform(0.0, 0.2))
    P.update(blur_sigma=blur, gamma=gamma, gradient=grad_amp, gradient_dir=grad_dir,
             noise_additive=noise_add, noise_poisson=noise_poisson, vmax=vmax, vmin=vmin,
             window=[window_lo, window_hi])
    if not clean:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), blur))
        ramp = (math.cos(grad_dir) * (GX - W / 2) / W + math.sin(grad_dir) * (GY - H / 2) / H)
        smooth = cv2.resize((1.0 + grad_amp * ramp).astype(np.float32), (W, H),
                            interpolation=cv2.INTER_LINEAR)
        img *= smooth
    lo = float(img[::4, ::4].min())
    hi = float(img[::4, ::4].max())
    if not clean:  # contrast variation: the [0, 1] window moves a little
        lo, hi = lo + window_lo * (hi - lo), lo + window_hi * (hi - lo)
    img = (img - lo) * (1.0 / max(hi - lo, 1e-6))
    np.clip(img, 0.0, 1.0, out=img)
    if xd > 0:  # metal, ruler and markers over the anatomy (never moves a landmark)
        img, burned = _ex.overlays(img, levels, l2i, lat, spacing, scale,
                                   0.0 if clean else blur, xd, xr, XP)
    if not clean:
        if abs(gamma - 1.0) > 1e-6:
            img = np.power(img, gamma, dtype=np.float32)
        noise = rng.standard_normal((H, W), dtype=np.float32)
        img += noise * np.sqrt(noise_add**2 + noise_poisson**2 * img)
        np.clip(img, 0.0, 1.0, out=img)
    if xd > 0:
        img = _ex.burn_in(img, burned)
    pixels = np.rint(vmin + (vmax - vmin) * img).astype(np.uint16)

    ph = Phantom(
        pixels=pixels,
        xy=xy,
        visible=visible,
        spacing=(float(spacing), float(spacing)),
        schema=sch.name,
        seed=int(seed),
        facing=facing,
        params=_jsonable(P),
    )
    return ph, {"outlines": outlines_img, "levels": names, "schema_pos": schema_pos}


def preview_rgb(ph: Phantom, *, radius: float = 3.0, color: tuple[int, int, int] = (255, 0, 0),
                labels: bool = False) -> np.ndarray:
    """[H, W, 3] uint8 RGB rendering of a phantom with its landmarks as small circles."""
    import cv2

    px = ph.pixels.astype(np.float32)
    lo, hi = float(px.min()), float(px.max())
    gray = np.clip((px - lo) * (255.0 / max(hi - lo, 1.0)), 0, 255).astype(np.uint8)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    sh = 4
    for k, (x, y) in enumerate(ph.xy):
        if not ph.visible[k]:
            continue
        centre = (int(round(x * (1 << sh))), int(round(y * (1 << sh))))
        cv2.circle(rgb, centre, int(round(radius * (1 << sh))), color, 1, cv2.LINE_AA, sh)
        if labels:
            cv2.putText(rgb, str(k), (int(x) + 4, int(y) - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.3,
                        color, 1, cv2.LINE_AA)
    return rgb
