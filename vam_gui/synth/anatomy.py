"""Anatomy: which vertebrae a phantom holds, their sizes, and each body's outline in its own frame.

Sizes are relative to the L3 body height and turned into pixels of the canonical frame (the
column upright, before the global rotation, scale and shift of :mod:`.projection`). Each level
has a local frame: u lateral (AP) or anterior (LAT), v down, origin at the body centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vam_gui.core.schema import Schema
from vam_gui.synth.dice import Dice
from vam_gui.synth.raster import bowed_side, chaikin

# Levels the generator knows, cranial to caudal. S1 stands for the whole sacrum.
ORDER: tuple[str, ...] = (
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


TABLE = _level_table()


@dataclass
class Level:
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


@dataclass(frozen=True)
class Span:
    """The drawn levels: the schema's vertebrae plus up to two above and two below (or the sacrum)."""

    names: list[str]
    schema_pos: list[int]  # index in ``names`` of each schema vertebra
    tall: bool  # a long column (more than 8 vertebrae): a narrow film

    @property
    def first(self) -> int:
        return self.schema_pos[0]

    @property
    def last(self) -> int:
        return self.schema_pos[-1]


def pick_levels(sch: Schema) -> Span:
    """The levels to draw for ``sch``; ValueError if the schema names levels it cannot draw."""
    unknown = [v for v in sch.vertebrae if v not in ORDER]
    if unknown:
        raise ValueError(f"schema {sch.name!r}: phantom cannot draw vertebra(e) {unknown}")
    idx = [ORDER.index(v) for v in sch.vertebrae]
    if idx != list(range(idx[0], idx[0] + len(idx))):
        raise ValueError(f"schema {sch.name!r}: vertebrae must be consecutive levels")
    first, last = idx[0], idx[-1]
    names = list(ORDER[max(0, first - 2) : min(len(ORDER), last + 3)])
    if "S1" in names:
        names = names[: names.index("S1") + 1]
    return Span(names=names, schema_pos=[names.index(v) for v in sch.vertebrae],
                tall=len(sch.vertebrae) > 8)


@dataclass(frozen=True)
class BodyDraws:
    """The random proportions of the bodies (one value per drawn level where an array)."""

    l3_mm: float
    ratio: float  # AP: width / height
    depth_ratio: float  # LAT: depth / height
    disc_ratio: float
    fill: float  # fraction of the film height the schema's span fills
    h_jit: np.ndarray
    w_jit: np.ndarray
    disc_jit: np.ndarray
    wedge_jit: np.ndarray
    taper: np.ndarray
    side_cav: np.ndarray  # [n, 2]
    ep_cav: np.ndarray  # [n, 2]
    tilt: np.ndarray  # radians, scaled by the difficulty
    density: np.ndarray


def draw_bodies(dice: Dice, span: Span) -> BodyDraws:
    rng, n_lv = dice.rng, len(span.names)
    l3_mm = float(rng.uniform(25.0, 29.0))
    ratio = float(rng.uniform(1.3, 1.6))
    depth_ratio = float(rng.uniform(1.25, 1.5))
    disc_ratio = float(rng.uniform(0.25, 0.4))
    fill = float(rng.uniform(0.78, 0.86) if span.tall else rng.uniform(0.6, 0.75))
    b = BodyDraws(
        l3_mm=l3_mm, ratio=ratio, depth_ratio=depth_ratio, disc_ratio=disc_ratio, fill=fill,
        h_jit=rng.uniform(0.96, 1.04, n_lv), w_jit=rng.uniform(0.97, 1.03, n_lv),
        disc_jit=rng.uniform(0.85, 1.15, n_lv), wedge_jit=rng.uniform(-0.04, 0.04, n_lv),
        taper=rng.uniform(-0.03, 0.03, n_lv), side_cav=rng.uniform(0.02, 0.06, (n_lv, 2)),
        ep_cav=rng.uniform(0.0, 0.03, (n_lv, 2)),
        tilt=np.deg2rad(rng.uniform(-5.0, 5.0, n_lv)) * dice.d,
        density=rng.uniform(0.9, 1.1, n_lv),
    )
    dice.params.update(l3_height_mm=l3_mm, width_ratio=ratio, depth_ratio=depth_ratio,
                       disc_ratio=disc_ratio, fill=fill, tilt_deg=np.rad2deg(b.tilt).tolist())
    return b


@dataclass
class Column:
    """The sized levels along the column's arc length (canonical px), not yet placed."""

    span: Span
    levels: list[Level]
    unit: float  # px per L3 height (canonical frame, before the global scale)
    spacing_mm: float  # mm per canonical px
    tops: np.ndarray  # top of each level, units of L3 height
    tail: float  # bottom of the last drawn level, units of L3 height
    s_top: float  # arc length of the schema's span, px
    s_bot: float


def size_levels(span: Span, b: BodyDraws, *, lat: bool, height: int, width: int) -> Column:
    """Body sizes in pixels: the schema's span fills ``fill`` of the height and fits the width."""
    names = span.names
    rel_h = np.array([TABLE[n][0] for n in names]) * b.h_jit
    if lat:
        rel_w = np.array([TABLE[n][2] for n in names]) * b.depth_ratio * b.w_jit
    else:
        rel_w = np.array([TABLE[n][1] for n in names]) * b.ratio * b.w_jit
    rel_disc = np.array([TABLE[n][3] for n in names]) * b.disc_ratio / 0.95 * b.disc_jit
    tops = np.concatenate([[0.0], np.cumsum(rel_h + rel_disc)[:-1]])
    last = span.last
    span_end = tops[last] if names[last] == "S1" else tops[last] + rel_h[last]
    span_rel = span_end - tops[span.first]
    unit = min(b.fill * height / span_rel, 0.3 * width / float(rel_w[span.schema_pos].max()))
    levels = [
        Level(name=n, h=rel_h[i] * unit, w=rel_w[i] * unit, disc=rel_disc[i] * unit,
              s=(tops[i] + 0.5 * rel_h[i]) * unit, density=float(b.density[i]))
        for i, n in enumerate(names)
    ]
    return Column(span=span, levels=levels, unit=unit, spacing_mm=b.l3_mm / unit, tops=tops,
                  tail=tops[-1] + rel_h[-1], s_top=tops[span.first] * unit, s_bot=span_end * unit)


_LAT_WEDGE = {"T": -0.05, "L1": -0.04, "L2": -0.02, "L3": 0.0, "L4": 0.03, "L5": 0.08}


def shape_bodies(levels: list[Level], b: BodyDraws, *, lat: bool, d: float) -> None:
    """Each body's corners and outline in its local frame: a quadrilateral with bowed sides
    whose corners are outline vertices, exactly (LAT: wedged, anterior side at +u)."""
    for i, lv in enumerate(levels):
        h, w = lv.h, lv.w
        if lat:
            eps = _LAT_WEDGE.get(lv.name, _LAT_WEDGE.get(lv.name[0], 0.0)) + d * b.wedge_jit[i]
            if lv.name == "S1":
                eps = 0.0
            wt, wb = w * (1 + b.taper[i]), w * (1 - b.taper[i])
            ha, hp = h * (1 + eps), h * (1 - eps)
            corners = np.array([[wt / 2, -ha / 2], [-wt / 2, -hp / 2],
                                [wb / 2, ha / 2], [-wb / 2, hp / 2]])
            cav_side = (b.side_cav[i, 0] * w, b.side_cav[i, 1] * 0.5 * w)  # anterior, posterior
        else:
            eps = d * b.wedge_jit[i] * 0.75
            wt, wb = w * (1 - abs(b.taper[i])), w * (1 + abs(b.taper[i]))
            hl, hr = h * (1 + eps), h * (1 - eps)
            corners = np.array([[-wt / 2, -hl / 2], [wt / 2, -hr / 2],
                                [-wb / 2, hl / 2], [wb / 2, hr / 2]])
            cav_side = (b.side_cav[i, 0] * w, b.side_cav[i, 1] * w)
        lv.corners = corners
        m = 8
        # outline: top0 -> top1 -> bot1 -> bot0 (corners are vertices, exactly)
        lv.corner_idx = (0, m, 3 * m, 2 * m)
        lv.outline = np.concatenate([
            bowed_side(corners[0], corners[1], b.ep_cav[i, 0] * h, m),
            bowed_side(corners[1], corners[3], cav_side[1], m),
            bowed_side(corners[3], corners[2], b.ep_cav[i, 1] * h, m),
            bowed_side(corners[2], corners[0], cav_side[0], m),
        ])


def sacrum_outline(lv: Level, lat: bool) -> np.ndarray:
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
    right = chaikin(np.array([[0.8 * w, -0.5 * h], [1.15 * w, -0.4 * h], [1.35 * w, -0.1 * h],
                              [1.3 * w, 0.8 * h], [1.05 * w, 1.9 * h], [0.7 * w, 2.9 * h],
                              [0.35 * w, 3.6 * h], [0.12 * w, 4.0 * h]]), 0)
    left = right * [-1.0, 1.0]  # top -> bottom on the left side
    return np.concatenate([c[[1]], c[[0]], left, right[::-1]])
