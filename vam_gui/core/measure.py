"""Measurements from vertebral corners: heights, ratios, Genant-style grades, angles, discs, slip.

Everything is computed from the K corner points of one image (original pixels, y down) and is
labelled with its unit: lengths are in mm when the pixel spacing is known and in px otherwise,
angles in degrees, ratios unitless, losses and slips in percent.

Geometry is done in the *physical* frame (x·dx, y·dy) when the spacing is known, so that
anisotropic pixels do not distort lengths or angles; without spacing, pixels are assumed square.

Sign conventions (all angles in degrees):

* AP endplate / mid-line tilt: the angle of the line from the displayed-left corner to the
  displayed-right corner against the image horizontal, positive when the right end is higher
  on screen (counter-clockwise as displayed).
* Lateral endplate / mid-line tilt: the angle of the line from the posterior to the anterior
  corner, positive when the anterior end is higher (cranial). ``facing`` (the displayed side
  of the anterior) is what maps "anterior" to a screen direction; it is inferred from the
  points when not given.
* Angles between two lines (segments, discs, L1–L5) are ``tilt(upper line) − tilt(lower line)``
  wrapped to (−180, 180]. Lateral: positive = lordotic (open anteriorly), so a normal lumbar
  lordosis is positive. AP: positive = open to the displayed right, i.e. a curve convex to the
  displayed right (the displayed side need not be the patient's side: AP vs PA).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vam_gui.core.measure_results import (
    AngleMeasurement,
    DiscMeasurement,
    Measurements,
    SlipMeasurement,
    VertebraMeasurement,
)
from vam_gui.core.schema import Schema
from vam_gui.core.spacing import valid_spacing

# The result types live in measure_results; they are part of this module's interface too.
__all__ = [
    "GENANT_LIMITS", "MEYERDING_LIMITS", "MEYERDING_NAMES", "AngleMeasurement", "DiscMeasurement", "Measurements",
    "SlipMeasurement", "VertebraMeasurement", "complete", "corner_table", "genant_grade", "infer_facing", "measure",
    "meyerding_grade", "to_physical", "wrap_deg",
]

# Genant semiquantitative grade from the height loss (fraction): < 20 % → 0, 20–25 % → 1,
# 25–40 % → 2, > 40 % → 3 (a loss of exactly 25 % is grade 2, exactly 40 % still grade 2).
GENANT_LIMITS = (0.20, 0.25, 0.40)
# Meyerding slip grades (percent of the S1 endplate): (0, 25) I, [25, 50) II, [50, 75) III,
# [75, 100] IV, > 100 V. Zero or negative slip has no grade (negative = retrolisthesis).
MEYERDING_LIMITS = (25.0, 50.0, 75.0, 100.0)
MEYERDING_NAMES = ("I", "II", "III", "IV", "V")

# Corner indices shared by both views: AP UL, UR, LL, LR; lateral SA, SP, IA, IP.
# Edge A = corners (0, 2) (AP left, lateral anterior), edge B = (1, 3) (AP right, lateral posterior).
_EDGE_A, _EDGE_B = (0, 2), (1, 3)


# ------------------------------------------------------------------------------ geometry helpers
def corner_table(schema: Schema, xy: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """[V, 4, 2] corners per vertebra; NaN where the schema has no such corner, the point is
    unset, or it is marked invisible (a hidden point must not feed a measurement)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    vis = np.ones(len(xy), bool) if visible is None else np.asarray(visible, bool).reshape(-1)
    table = np.full((len(schema.vertebrae), 4, 2), np.nan)
    k = len(schema.vertebra)
    if len(xy) < k or len(vis) < k:
        raise IndexError(f"{len(xy)} points ({len(vis)} visibility flags) for a schema of {k} keypoints")
    keep = vis[:k] & np.isfinite(xy[:k]).all(axis=1)
    rows = np.flatnonzero(keep)
    table[np.asarray(schema.vertebra)[rows], np.asarray(schema.corner)[rows]] = xy[rows]
    return table


def to_physical(points: np.ndarray, spacing: tuple[float, float] | None) -> np.ndarray:
    """Scale (x, y) px to (x·dx, y·dy) mm; identity without spacing."""
    if spacing is None:
        return np.asarray(points, dtype=np.float64)
    dy, dx = spacing
    out: np.ndarray = np.asarray(points, dtype=np.float64) * np.array([dx, dy])
    return out


def complete(corners: np.ndarray) -> bool:
    return bool(np.isfinite(corners).all())


def infer_facing(table: np.ndarray) -> str | None:
    """Lateral: the displayed side of the anterior, by majority vote over the vertebrae (each
    votes with the sign of anterior-minus-posterior x); None when no vertebra can vote."""
    votes = 0
    for corners in table:
        ant = [corners[c] for c in (0, 2) if np.isfinite(corners[c]).all()]
        post = [corners[c] for c in (1, 3) if np.isfinite(corners[c]).all()]
        if ant and post:
            diff = np.mean(ant, axis=0)[0] - np.mean(post, axis=0)[0]
            votes += int(np.sign(diff))
    return None if votes == 0 else ("right" if votes > 0 else "left")


def wrap_deg(angle: float) -> float:
    """Wrap to (−180, 180] so a difference of tilts never jumps by a full turn."""
    a = (angle + 180.0) % 360.0 - 180.0
    return 180.0 if a == -180.0 else a


def _dist(a: np.ndarray, b: np.ndarray) -> float | None:
    d = float(np.hypot(float(a[0]) - float(b[0]), float(a[1]) - float(b[1])))
    return d if math.isfinite(d) else None


def _mid(c: np.ndarray, i: int, j: int) -> np.ndarray:
    """The middle of corners i and j (what ``c[[i, j]].mean(axis=0)`` gives, at a tenth of its cost)."""
    mid: np.ndarray = (c[i] + c[j]) / 2
    return mid


def _tilt(frm: np.ndarray, to: np.ndarray, mirror: float) -> float | None:
    """Angle of the line frm→to against the horizontal, y turned up, x mirrored by ``mirror``."""
    dx, dy = mirror * (to[0] - frm[0]), -(to[1] - frm[1])
    if not (math.isfinite(dx) and math.isfinite(dy)) or (dx == 0 and dy == 0):
        return None
    return math.degrees(math.atan2(dy, dx))


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else wrap_deg(a - b)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def genant_grade(loss: float) -> int:
    lo1, lo2, lo3 = GENANT_LIMITS
    return 0 if loss < lo1 else 1 if loss < lo2 else 2 if loss <= lo3 else 3


def meyerding_grade(percent: float) -> str | None:
    if percent <= 0:
        return None
    for limit, name in zip(MEYERDING_LIMITS, MEYERDING_NAMES):
        if percent < limit or (limit == MEYERDING_LIMITS[-1] and percent <= limit):
            return name
    return MEYERDING_NAMES[-1]


# ------------------------------------------------------------------------------ measurement
def measure(schema: Schema, xy: np.ndarray, visible: np.ndarray | None = None, *,
            spacing: tuple[float, float] | None = None, facing: str | None = None,
            spacing_is_detector: bool = False) -> Measurements:
    """Measure one image's corners (see the module doc for units and sign conventions)."""
    lateral = schema.view == "LAT"
    sp, notes = _spacing_notes(spacing, spacing_is_detector)
    table_px = corner_table(schema, xy, visible)
    table = to_physical(table_px, sp)

    facing_inferred = False
    if lateral:
        if facing not in ("left", "right"):
            facing, facing_inferred = infer_facing(table_px), True
            notes.append(f"facing inferred from the points: {facing}" if facing
                         else "facing unknown: lateral angles not computed")
    else:
        facing = None
    view = _View(lateral, -1.0 if facing == "left" else 1.0, not lateral or facing is not None)

    result = Measurements(schema=schema.name, view=schema.view, unit="mm" if sp else "px", spacing=sp,
                          spacing_is_detector=bool(spacing_is_detector and sp is not None),
                          facing=facing, facing_inferred=facing_inferred, notes=notes)
    has_all = [set(c for v2, c in zip(schema.vertebra, schema.corner) if v2 == v) == {0, 1, 2, 3}
               for v in range(len(schema.vertebrae))]
    # e.g. S1 in lumbar-lat-22 has only its superior endplate labelled: no vertebra row
    result.vertebrae.extend(_vertebra(name, table[v], view) for v, name in enumerate(schema.vertebrae)
                            if has_all[v])
    result.discs.extend(_discs(schema, table, has_all, result.vertebrae, view))
    result.angles.extend(_spine_angles(schema, table, lateral, view.tilt, view.upper_line, view.lower_line,
                                       view.angles_ok))
    if lateral and "S1" in schema.vertebrae and "L5" in schema.vertebrae:
        result.slip = _slip(table[schema.vertebrae.index("L5")], table[schema.vertebrae.index("S1")])
    return result


def _spacing_notes(spacing: tuple[float, float] | None,
                   spacing_is_detector: bool) -> tuple[tuple[float, float] | None, list[str]]:
    """(usable spacing or None, the notes that say what the lengths are in)."""
    notes: list[str] = []
    sp = valid_spacing(spacing)
    if spacing is not None and sp is None:
        notes.append(f"spacing {spacing!r} is not usable: lengths in px")
    if sp is None:
        notes.append("no pixel spacing: lengths in px (square pixels assumed)")
    elif spacing_is_detector:
        notes.append("spacing is the detector (imager) pixel spacing: lengths are not corrected "
                     "for radiographic magnification")
    return sp, notes


@dataclass(frozen=True)
class _View:
    """How a view reads a vertebra's corners: the names of its three heights, its endplate and
    mid-line directions (AP left→right; lateral posterior→anterior, anterior = +x after
    ``mirror``), and whether angles can be measured at all (lateral: only with a facing)."""

    lateral: bool
    mirror: float
    angles_ok: bool

    @property
    def names(self) -> tuple[str, str, str]:
        return ("anterior", "middle", "posterior") if self.lateral else ("left", "middle", "right")

    @property
    def upper_line(self) -> tuple[int, int]:
        return (1, 0) if self.lateral else (0, 1)

    @property
    def lower_line(self) -> tuple[int, int]:
        return (3, 2) if self.lateral else (2, 3)

    def tilt(self, corners: np.ndarray, line: tuple[int, int]) -> float | None:
        return _tilt(corners[line[0]], corners[line[1]], self.mirror) if self.angles_ok else None

    def midline_tilt(self, corners: np.ndarray) -> float | None:
        mid_line = (_EDGE_B, _EDGE_A) if self.lateral else (_EDGE_A, _EDGE_B)
        frm = _mid(corners, *mid_line[0])
        to = _mid(corners, *mid_line[1])
        return _tilt(frm, to, self.mirror) if self.angles_ok and complete(corners) else None


def _vertebra(name: str, c: np.ndarray, view: _View) -> VertebraMeasurement:
    """Heights, ratios, height loss and grade, endplate and mid-line tilts of one [4, 2] vertebra."""
    ha = _dist(c[_EDGE_A[0]], c[_EDGE_A[1]])
    hb = _dist(c[_EDGE_B[0]], c[_EDGE_B[1]])
    hm = _dist(_mid(c, 0, 1), _mid(c, 2, 3))
    names = view.names
    heights = dict(zip(names, (ha, hm, hb)))
    if view.lateral:
        ratios = {"anterior/posterior": _ratio(ha, hb), "middle/posterior": _ratio(hm, hb)}
    else:
        ratios = {"left/right": _ratio(ha, hb),
                  "middle/max": _ratio(hm, None if ha is None or hb is None else max(ha, hb))}
    vm = VertebraMeasurement(name=name, heights=heights, ratios=ratios,
                             upper_endplate_deg=view.tilt(c, view.upper_line),
                             lower_endplate_deg=view.tilt(c, view.lower_line), midline_deg=view.midline_tilt(c))
    hs = [h for h in (ha, hm, hb) if h is not None]
    if len(hs) == 3 and max(hs) > 0:
        loss = 1.0 - min(hs) / max(hs)
        vm.height_loss_percent = 100.0 * loss
        vm.loss_reference = names[int(np.argmax(hs))]
        vm.genant_grade = genant_grade(loss)
    return vm


def _discs(schema: Schema, table: np.ndarray, has_all: list[bool], vertebrae: list[VertebraMeasurement],
           view: _View) -> list[DiscMeasurement]:
    """Each disc below a complete vertebra: heights, disc, segment and mid-line angles."""
    by_name = {vm.name: vm for vm in vertebrae}
    out: list[DiscMeasurement] = []
    for v in range(len(schema.vertebrae) - 1):
        up, lo = table[v], table[v + 1]
        if not has_all[v]:
            continue
        up_name, lo_name = schema.vertebrae[v], schema.vertebrae[v + 1]
        heights = dict(zip(view.names, (_dist(up[2], lo[0]),
                                        _dist(_mid(up, 2, 3), _mid(lo, 0, 1)),
                                        _dist(up[3], lo[1]))))
        lo_vm = by_name.get(lo_name)
        out.append(DiscMeasurement(
            name=f"{up_name}-{lo_name}", heights=heights,
            disc_angle_deg=_diff(view.tilt(up, view.lower_line), view.tilt(lo, view.upper_line)),
            segment_angle_deg=_diff(by_name[up_name].upper_endplate_deg,
                                    lo_vm.lower_endplate_deg if lo_vm else None),
            midline_angle_deg=_diff(by_name[up_name].midline_deg, lo_vm.midline_deg if lo_vm else None)))
    return out


def _spine_angles(schema: Schema, table: np.ndarray, lateral: bool,
                  tilt: Callable[[np.ndarray, tuple[int, int]], float | None],
                  upper_line: tuple[int, int], lower_line: tuple[int, int],
                  angles_ok: bool) -> list[AngleMeasurement]:
    names = schema.vertebrae
    out: list[AngleMeasurement] = []
    missing = "" if angles_ok else "facing unknown"

    def between(name: str, upper: str, lower: str,
                lower_line_of_lower: tuple[int, int]) -> AngleMeasurement | None:
        if upper not in names or lower not in names:
            return None
        value = _diff(tilt(table[names.index(upper)], upper_line),
                      tilt(table[names.index(lower)], lower_line_of_lower))
        mag = None if value is None else abs(value)
        if lateral:
            note = "positive = lordosis (open anteriorly), negative = kyphosis"
            return AngleMeasurement(name, value, mag, None, upper, lower, note if value is not None
                                    else missing or "corners missing")
        side = None if value is None else "right" if value > 0 else "left" if value < 0 else "none"
        note = ("Cobb angle: magnitude, convex to the displayed side; signed value positive = "
                "convex to the displayed right")
        return AngleMeasurement(name, value, mag, side, upper, lower,
                                note if value is not None else "corners missing")

    a = between("lordosis_L1_L5" if lateral else "cobb_L1_L5", "L1", "L5", lower_line)
    if a is not None:
        out.append(a)
    if lateral and "S1" in names:
        a = between("lordosis_L1_S1", "L1", "S1", upper_line)  # S1: its superior endplate
        if a is not None:
            out.append(a)
    if not lateral and len(names) >= 2:
        # The largest Cobb angle over every pair of end vertebrae (upper endplate of the upper
        # end vertebra, lower endplate of the lower one): the usual scoliosis read-out.
        ups = [tilt(table[i], upper_line) for i in range(len(names))]
        los = [tilt(table[j], lower_line) for j in range(len(names))]
        best: tuple[float, int, int] | None = None
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                d = _diff(ups[i], los[j])
                if d is not None and (best is None or abs(d) > abs(best[0])):
                    best = (d, i, j)
        if best is not None:
            d, i, j = best
            side = "right" if d > 0 else "left" if d < 0 else "none"
            out.append(AngleMeasurement("max_cobb", d, abs(d), side, names[i], names[j],
                                        "largest Cobb angle over all pairs of end vertebrae"))
    return out


def _slip(l5: np.ndarray, s1: np.ndarray) -> SlipMeasurement:
    """L5 posterior-inferior corner vs S1 posterior-superior corner, along the S1 endplate."""
    ip, sa, sp = l5[3], s1[0], s1[1]
    if not (np.isfinite(ip).all() and np.isfinite(sa).all() and np.isfinite(sp).all()):
        return SlipMeasurement("L5-S1", None, None, None, None, "corners missing")
    axis = sa - sp  # posterior → anterior along the S1 superior endplate
    length = float(np.hypot(*axis))
    if length == 0:
        return SlipMeasurement("L5-S1", None, None, 0.0, None, "degenerate S1 endplate")
    distance = float(np.dot(ip - sp, axis / length))
    percent = 100.0 * distance / length
    grade = meyerding_grade(percent)
    if percent < 0:
        note = f"retrolisthesis of {-percent:.1f} % (no Meyerding grade)"
    elif percent == 0:
        note = "no slip"
    else:
        note = f"anterolisthesis, Meyerding grade {grade}"
    return SlipMeasurement("L5-S1", percent, distance, length, grade,
                           note + "; percent of the S1 superior endplate length, anterior positive")
