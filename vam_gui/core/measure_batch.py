"""Measurements of many images at once: for each image what :func:`vam_gui.core.measure.measure`
gives it, with the geometry (heights, tilts, angles between lines) computed for the whole
stack of corner tables in numpy. An export of ten thousand images measured one image at a
time spent most of its run in numpy's per-call overhead.

The arithmetic is the single-image code's, operation for operation, so that the results are
equal to the last bit: distances are ``np.hypot`` of the same differences, mid-points
``(a + b) / 2``, tilts ``math.degrees(math.atan2(dy, dx))`` taken value by value (numpy's
arctan2 may use a SIMD kernel that differs from libm's in the last bit), differences wrapped as
:func:`~vam_gui.core.measure.wrap_deg` does (numpy's ``remainder`` of floats is Python's ``%``).
The spacing notes, grades and the L5–S1 slip are measure's own helpers, called per image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vam_gui.core.measure import _slip, _spacing_notes, genant_grade
from vam_gui.core.measure_results import (
    AngleMeasurement,
    DiscMeasurement,
    Measurements,
    VertebraMeasurement,
)
from vam_gui.core.schema import Schema

__all__ = ["measure_many", "measurement_dicts"]

_COBB_NOTE = ("Cobb angle: magnitude, convex to the displayed side; signed value positive = "
              "convex to the displayed right")
_LORDOSIS_NOTE = "positive = lordosis (open anteriorly), negative = kyphosis"


def measure_many(schema: Schema, xy: np.ndarray | Sequence[np.ndarray],
                 visible: np.ndarray | Sequence[np.ndarray] | None = None, *,
                 spacings: Sequence[tuple[float, float] | None] | None = None,
                 facings: Sequence[str | None] | None = None,
                 spacing_is_detector: Sequence[bool] | None = None) -> list[Measurements]:
    """``[measure(schema, xy[i], visible[i], spacing=spacings[i], facing=facings[i],
    spacing_is_detector=spacing_is_detector[i]) for i in range(N)]``, equal value for value,
    from an [N, K, 2] stack of points (and [N, K] visibility flags; None: all visible).
    A missing per-image sequence means None / False for every image."""
    heads, parts = _measure(schema, xy, visible, spacings, facings, spacing_is_detector, clean=False)
    for m, (vertebrae, discs, angles) in zip(heads, parts):
        m.vertebrae.extend(VertebraMeasurement(**v) for v in vertebrae)
        m.discs.extend(DiscMeasurement(**d) for d in discs)
        m.angles.extend(AngleMeasurement(**a) for a in angles)
    return heads


def measurement_dicts(schema: Schema, xy: np.ndarray | Sequence[np.ndarray],
                      visible: np.ndarray | Sequence[np.ndarray] | None = None, *,
                      spacings: Sequence[tuple[float, float] | None] | None = None,
                      facings: Sequence[str | None] | None = None,
                      spacing_is_detector: Sequence[bool] | None = None) -> list[dict[str, Any]]:
    """``[m.to_dict() for m in measure_many(...)]``, the JSON-ready form an export writes,
    built as dicts from the start (making the result objects first, then their dicts, was a
    seventh of a large export's run)."""
    heads, parts = _measure(schema, xy, visible, spacings, facings, spacing_is_detector, clean=True)
    out = []
    for m, (vertebrae, discs, angles) in zip(heads, parts):
        d = m.to_dict()  # the head's fields, in their order; the lists filled in below
        d["vertebrae"], d["discs"], d["angles"] = vertebrae, discs, angles
        out.append(d)
    return out


_Parts = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def _measure(schema: Schema, xy: np.ndarray | Sequence[np.ndarray], visible: Any, spacings: Any, facings: Any,
             spacing_is_detector: Any, *, clean: bool) -> tuple[list[Measurements], list[_Parts]]:
    """Each image's head (unit, spacing, facing, notes, slip) and the fields of its vertebra,
    disc and angle results in the order of their dataclasses; ``clean``: values as ``to_dict``
    writes them (a ratio that overflowed to inf is None)."""
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    if n == 0:
        return [], []
    xy = xy.reshape(n, -1, 2)
    vis = np.ones(xy.shape[:2], bool) if visible is None else np.asarray(visible, bool).reshape(n, -1)
    spacings = _per_image(spacings, n, None, "spacings")
    facings = _per_image(facings, n, None, "facings")
    detector = _per_image(spacing_is_detector, n, False, "spacing_is_detector")
    table_px = _corner_tables(schema, xy, vis)
    heads = _heads(schema, table_px, spacings, facings, detector)
    scale = np.array([(1.0, 1.0) if m.spacing is None else (m.spacing[1], m.spacing[0]) for m in heads])
    table = table_px * scale[:, None, None, :]  # x·dx, y·dy; ×1 leaves px exactly as they are
    mirror = np.array([-1.0 if m.facing == "left" else 1.0 for m in heads])
    angles_ok = np.array([schema.view != "LAT" or m.facing is not None for m in heads])
    geo = _Geometry.of(table, schema.view == "LAT", mirror, angles_ok)
    has_all = _complete_vertebrae(schema)
    parts: list[_Parts] = [([], [], []) for _ in heads]
    _add_vertebrae(schema, parts, geo, has_all, clean)
    _add_discs(schema, parts, geo, has_all)
    _add_angles(schema, parts, geo, angles_ok)
    if schema.view == "LAT" and "S1" in schema.vertebrae and "L5" in schema.vertebrae:
        l5, s1 = schema.vertebrae.index("L5"), schema.vertebrae.index("S1")
        for i, m in enumerate(heads):
            m.slip = _slip(table[i, l5], table[i, s1])
    return heads, parts


def _per_image(values: Sequence[Any] | None, n: int, default: object, name: str) -> list[Any]:
    if values is None:
        return [default] * n
    out = list(values)
    if len(out) != n:
        raise ValueError(f"{len(out)} {name} for {n} images")
    return out


def _corner_tables(schema: Schema, xy: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """[N, V, 4, 2]: :func:`~vam_gui.core.measure.corner_table` of every image."""
    k = len(schema.vertebra)
    if xy.shape[1] < k or vis.shape[1] < k:
        raise IndexError(f"{xy.shape[1]} points ({vis.shape[1]} visibility flags) for a schema of {k} keypoints")
    points = xy[:, :k]
    keep = vis[:, :k] & np.isfinite(points).all(axis=2)
    table = np.full((len(xy), len(schema.vertebrae), 4, 2), np.nan)
    # each (vertebra, corner) slot belongs to one keypoint (the schema checks it), so an
    # unkept point may write its NaN without hiding another
    table[:, schema.vertebra_array(), schema.corner_array()] = np.where(keep[..., None], points, np.nan)
    return table


def _facings(table_px: np.ndarray) -> list[str | None]:
    """:func:`~vam_gui.core.measure.infer_facing` of every image: each vertebra with an
    anterior and a posterior corner votes with the sign of the difference of their mean x."""
    x = table_px[..., 0]
    ok = np.isfinite(table_px).all(axis=3)
    counts = ok[..., [0, 2]].sum(axis=2), ok[..., [1, 3]].sum(axis=2)
    ant = (np.where(ok[..., 0], x[..., 0], 0.0) + np.where(ok[..., 2], x[..., 2], 0.0)) / np.maximum(counts[0], 1)
    post = (np.where(ok[..., 1], x[..., 1], 0.0) + np.where(ok[..., 3], x[..., 3], 0.0)) / np.maximum(counts[1], 1)
    votes = np.where((counts[0] > 0) & (counts[1] > 0), np.sign(ant - post), 0.0).sum(axis=1)
    return [None if v == 0 else "right" if v > 0 else "left" for v in votes.tolist()]


def _heads(schema: Schema, table_px: np.ndarray, spacings: list[Any], facings: list[Any],
           detector: list[Any]) -> list[Measurements]:
    """One empty result per image: unit, spacing, facing (inferred where not given) and notes."""
    lateral = schema.view == "LAT"
    inferred = _facings(table_px) if lateral else [None] * len(facings)
    # most images share a spacing; keyed by repr, which the "not usable" note quotes
    noted: dict[tuple[str, bool], tuple[tuple[float, float] | None, list[str]]] = {}
    heads = []
    for spacing, facing, guess, det in zip(spacings, facings, inferred, detector):
        key = (repr(spacing), bool(det))
        if key not in noted:
            noted[key] = _spacing_notes(spacing, det)
        sp, notes = noted[key][0], list(noted[key][1])
        facing_inferred = False
        if not lateral:
            facing = None
        elif facing not in ("left", "right"):
            facing, facing_inferred = guess, True
            notes.append(f"facing inferred from the points: {facing}" if facing
                         else "facing unknown: lateral angles not computed")
        heads.append(Measurements(schema=schema.name, view=schema.view, unit="mm" if sp else "px", spacing=sp,
                                  spacing_is_detector=bool(det and sp is not None), facing=facing,
                                  facing_inferred=facing_inferred, notes=notes))
    return heads


def _complete_vertebrae(schema: Schema) -> list[bool]:
    """Whether the schema has all four corners of each vertebra (lumbar-lat-22's S1 has two)."""
    slots = set(zip(schema.vertebra, schema.corner))
    return [all((v, c) in slots for c in range(4)) for v in range(len(schema.vertebrae))]


def _hypot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])
    return out


def _wrap(a: np.ndarray) -> np.ndarray:
    """:func:`~vam_gui.core.measure.wrap_deg` of every value (NaN stays NaN)."""
    w = np.remainder(a + 180.0, 360.0) - 180.0
    out: np.ndarray = np.where(w == -180.0, 180.0, w)
    return out


def _tilts(frm: np.ndarray, to: np.ndarray, mirror: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Degrees of each line frm→to against the horizontal (y turned up, x mirrored per image);
    NaN where measure's ``_tilt`` gives None (a missing end, a zero-length line, or no angles)."""
    dx = mirror.reshape((-1,) + (1,) * (frm.ndim - 2)) * (to[..., 0] - frm[..., 0])
    dy = -(to[..., 1] - frm[..., 1])
    valid = np.isfinite(dx) & np.isfinite(dy) & ((dx != 0) | (dy != 0))
    valid &= ok.reshape((-1,) + (1,) * (valid.ndim - 1))
    out = np.full(dx.shape, np.nan)
    where = np.flatnonzero(valid)
    out.flat[where] = [math.degrees(math.atan2(y, x)) for y, x in zip(dy.flat[where].tolist(),
                                                                        dx.flat[where].tolist())]
    return out


def _listed(values: np.ndarray, valid: np.ndarray | None = None) -> list[Any]:
    """Nested lists of Python floats, None where not ``valid`` (default: where not finite)."""
    obj = values.astype(object)
    obj[~np.isfinite(values) if valid is None else ~valid] = None
    out: list[Any] = obj.tolist()
    return out


@dataclass
class _Geometry:
    """Every image's per-vertebra [N, V] heights (edge A, middle, edge B) and tilts (upper and
    lower endplate, mid-line), and per-gap [N, V-1] disc heights; NaN for measure's None."""

    heights: tuple[np.ndarray, np.ndarray, np.ndarray]
    upper: np.ndarray
    lower: np.ndarray
    midline: np.ndarray
    disc_heights: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    def of(cls, c: np.ndarray, lateral: bool, mirror: np.ndarray, angles_ok: np.ndarray) -> _Geometry:
        mid01, mid23 = (c[:, :, 0] + c[:, :, 1]) / 2, (c[:, :, 2] + c[:, :, 3]) / 2
        mid02, mid13 = (c[:, :, 0] + c[:, :, 2]) / 2, (c[:, :, 1] + c[:, :, 3]) / 2
        upper_line, lower_line = ((1, 0), (3, 2)) if lateral else ((0, 1), (2, 3))
        frm, to = (mid13, mid02) if lateral else (mid02, mid13)
        complete = np.isfinite(c).all(axis=(2, 3))
        heights = tuple(np.where(np.isfinite(h), h, np.nan) for h in (
            _hypot(c[:, :, 0], c[:, :, 2]), _hypot(mid01, mid23), _hypot(c[:, :, 1], c[:, :, 3])))
        up, lo = c[:, :-1], c[:, 1:]
        discs = (_hypot(up[:, :, 2], lo[:, :, 0]), _hypot(mid23[:, :-1], mid01[:, 1:]),
                 _hypot(up[:, :, 3], lo[:, :, 1]))
        return cls(heights=heights,  # type: ignore[arg-type]
                   upper=_tilts(c[:, :, upper_line[0]], c[:, :, upper_line[1]], mirror, angles_ok),
                   lower=_tilts(c[:, :, lower_line[0]], c[:, :, lower_line[1]], mirror, angles_ok),
                   midline=np.where(complete, _tilts(frm, to, mirror, angles_ok), np.nan),
                   disc_heights=discs)


def _add_vertebrae(schema: Schema, parts: list[_Parts], geo: _Geometry, has_all: list[bool], clean: bool) -> None:
    lateral = schema.view == "LAT"
    names = ("anterior", "middle", "posterior") if lateral else ("left", "middle", "right")
    ha, hm, hb = geo.heights
    ok_ab = np.isfinite(ha) & np.isfinite(hb)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        first = np.where(ok_ab & (hb != 0), ha / hb, np.nan)
        first_ok = ok_ab & (hb != 0)
        den = hb if lateral else np.maximum(ha, hb)  # AP: middle over the larger edge
        second_ok = np.isfinite(hm) & np.isfinite(den) & (den != 0)
        second = np.where(second_ok, hm / den, np.nan)
        stack = np.stack(geo.heights, axis=2)
        lossy = np.isfinite(stack).all(axis=2) & (stack.max(axis=2) > 0)
        loss = np.where(lossy, 1.0 - stack.min(axis=2) / stack.max(axis=2), np.nan)
    reference = np.argmax(np.where(np.isfinite(stack), stack, -np.inf), axis=2).tolist()
    ratio_names = ("anterior/posterior", "middle/posterior") if lateral else ("left/right", "middle/max")
    cols = [_listed(a) for a in (ha, hm, hb, geo.upper, geo.lower, geo.midline, loss)]
    # clean: an overflowed ratio (inf) is None, as to_dict writes it
    ratios = (_listed(first), _listed(second)) if clean else (_listed(first, first_ok), _listed(second, second_ok))
    rows = [v for v in range(len(schema.vertebrae)) if has_all[v]]
    for i, part in enumerate(parts):
        a, mid, b, up, lo, ml, ls = (col[i] for col in cols)
        r1, r2 = ratios[0][i], ratios[1][i]
        for v in rows:
            loss = ls[v]
            part[0].append({"name": schema.vertebrae[v], "heights": {names[0]: a[v], names[1]: mid[v], names[2]: b[v]},
                            "ratios": {ratio_names[0]: r1[v], ratio_names[1]: r2[v]},
                            "height_loss_percent": None if loss is None else 100.0 * loss,
                            "loss_reference": None if loss is None else names[reference[i][v]],
                            "genant_grade": None if loss is None else genant_grade(loss),
                            "upper_endplate_deg": up[v], "lower_endplate_deg": lo[v], "midline_deg": ml[v]})


def _add_discs(schema: Schema, parts: list[_Parts], geo: _Geometry, has_all: list[bool]) -> None:
    """Each disc below a complete vertebra; segment and mid-line angles need the lower one complete."""
    names = ("anterior", "middle", "posterior") if schema.view == "LAT" else ("left", "middle", "right")
    gaps = [v for v in range(len(schema.vertebrae) - 1) if has_all[v]]
    if not gaps:
        return
    below_complete = np.array([has_all[v + 1] for v in range(len(schema.vertebrae) - 1)])
    cols = [_listed(h) for h in geo.disc_heights]
    angles = [_listed(_wrap(geo.lower[:, :-1] - geo.upper[:, 1:])),
              _listed(np.where(below_complete, _wrap(geo.upper[:, :-1] - geo.lower[:, 1:]), np.nan)),
              _listed(np.where(below_complete, _wrap(geo.midline[:, :-1] - geo.midline[:, 1:]), np.nan))]
    labels = [f"{schema.vertebrae[v]}-{schema.vertebrae[v + 1]}" for v in range(len(schema.vertebrae) - 1)]
    for i, part in enumerate(parts):
        a, mid, b = (col[i] for col in cols)
        disc, segment, midline = (col[i] for col in angles)
        part[1].extend({"name": labels[v], "heights": {names[0]: a[v], names[1]: mid[v], names[2]: b[v]},
                        "disc_angle_deg": disc[v], "segment_angle_deg": segment[v], "midline_angle_deg": midline[v]}
                       for v in gaps)


def _angle(name: str, value: float | None, convexity: str | None, upper: str, lower: str,
           note: str) -> dict[str, Any]:
    return {"name": name, "value_deg": value, "magnitude_deg": None if value is None else abs(value),
            "convexity": convexity, "upper": upper, "lower": lower, "note": note}


def _add_angles(schema: Schema, parts: list[_Parts], geo: _Geometry, angles_ok: np.ndarray) -> None:
    """L1–L5 (and lateral L1–S1) lordosis or Cobb angle, and the AP's largest Cobb angle."""
    names = schema.vertebrae
    lateral = schema.view == "LAT"
    pairs = [("lordosis_L1_L5" if lateral else "cobb_L1_L5", "L1", "L5", geo.lower)]
    if lateral and "S1" in names:
        pairs.append(("lordosis_L1_S1", "L1", "S1", geo.upper))  # S1: its superior endplate
    for name, upper, lower, lines in pairs:
        if upper not in names or lower not in names:
            continue
        values = _listed(_wrap(geo.upper[:, names.index(upper)] - lines[:, names.index(lower)]))
        for part, value, ok in zip(parts, values, angles_ok.tolist()):
            if lateral:
                note = _LORDOSIS_NOTE if value is not None else "corners missing" if ok else "facing unknown"
                part[2].append(_angle(name, value, None, upper, lower, note))
            else:
                side = None if value is None else "right" if value > 0 else "left" if value < 0 else "none"
                part[2].append(_angle(name, value, side, upper, lower,
                                      _COBB_NOTE if value is not None else "corners missing"))
    if not lateral and len(names) >= 2:
        _add_max_cobb(names, parts, geo)


def _add_max_cobb(names: Sequence[str], parts: list[_Parts], geo: _Geometry) -> None:
    """The largest Cobb angle over every pair of end vertebrae (upper endplate of the upper one,
    lower endplate of the lower one); of equal magnitudes the first pair in (upper, lower) order."""
    ii, jj = np.triu_indices(len(names), k=1)  # row-major: the single-image loop's order
    d = _wrap(geo.upper[:, ii] - geo.lower[:, jj])
    size = np.where(np.isnan(d), -1.0, np.abs(d))
    best = np.argmax(size, axis=1)
    found = (size.max(axis=1) >= 0).tolist()
    values = d[np.arange(len(d)), best].tolist()
    for part, ok, p, value in zip(parts, found, best.tolist(), values):
        if ok:
            side = "right" if value > 0 else "left" if value < 0 else "none"
            part[2].append(_angle("max_cobb", value, side, names[ii[p]], names[jj[p]],
                                  "largest Cobb angle over all pairs of end vertebrae"))
