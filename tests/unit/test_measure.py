"""Measurements from corners, against hand-computed geometry."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vam_gui.core.measure import genant_grade, measure, meyerding_grade
from vam_gui.core.schema import load_schema

AP = load_schema("lumbar-ap-20")
LAT = load_schema("lumbar-lat-22")


def rect(cx, cy, w, h, angle_deg=0.0):
    """Corners UL, UR, LL, LR (display coords, y down) of a w×h box centred at (cx, cy),
    rotated counter-clockwise *as displayed* by angle_deg (the right end goes up)."""
    a = math.radians(angle_deg)
    out = []
    for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (-w / 2, h / 2), (w / 2, h / 2)):
        # y-down → y-up, rotate, back to y-down
        xu, yu = dx, -dy
        xr, yr = xu * math.cos(a) - yu * math.sin(a), xu * math.sin(a) + yu * math.cos(a)
        out.append((cx + xr, cy - yr))
    return np.array(out)


def lat_corners(cx, cy, w, h, tilt_deg=0.0, facing="right", ant_h=None, post_h=None):
    """Lateral corners SA, SP, IA, IP; tilt positive = anterior end up. Optional wedge heights
    (anterior/posterior edges, centred on the same mid-line)."""
    ant_h = h if ant_h is None else ant_h
    post_h = h if post_h is None else post_h
    # facing right: anterior on the displayed right; build un-rotated then rotate.
    pts = {"SA": (w / 2, -ant_h / 2), "SP": (-w / 2, -post_h / 2),
           "IA": (w / 2, ant_h / 2), "IP": (-w / 2, post_h / 2)}
    a = math.radians(tilt_deg)
    out = []
    for key in ("SA", "SP", "IA", "IP"):
        dx, dy = pts[key]
        xu, yu = dx, -dy
        xr, yr = xu * math.cos(a) - yu * math.sin(a), xu * math.sin(a) + yu * math.cos(a)
        x = xr if facing == "right" else -xr
        out.append((cx + x, cy - yr))
    return np.array(out)


def column(schema, per_vertebra):
    """xy [K, 2] from a list of [4, 2] corner arrays (one per schema vertebra; S1 may give 2)."""
    xy = np.full((schema.k, 2), np.nan)
    for i, (v, c) in enumerate(zip(schema.vertebra, schema.corner)):
        if v < len(per_vertebra) and per_vertebra[v] is not None:
            xy[i] = per_vertebra[v][c]
    return xy


def ap_column(vertebrae, w=40.0, h=30.0, gap=10.0, x0=200.0, y0=100.0):
    return column(AP, [rect(x0, y0 + i * (h + gap), w, h) for i in range(len(vertebrae))])


def test_rectangle_in_mm():
    xy = ap_column(AP.vertebrae)
    vis = np.ones(AP.k, bool)
    m = measure(AP, xy, vis, spacing=(0.5, 0.25))
    assert m.unit == "mm"
    l1 = m.vertebra("L1")
    # 30 px tall at 0.5 mm/row = 15 mm; the width (40 px · 0.25) does not enter the heights.
    assert l1.heights == pytest.approx({"left": 15.0, "middle": 15.0, "right": 15.0})
    assert l1.ratios == pytest.approx({"left/right": 1.0, "middle/max": 1.0})
    assert l1.height_loss_percent == pytest.approx(0.0)
    assert l1.genant_grade == 0
    assert l1.upper_endplate_deg == pytest.approx(0.0) and l1.lower_endplate_deg == pytest.approx(0.0)
    # disc gap 10 px → 5 mm at every edge; angles 0
    d = m.disc("L1-L2")
    assert d.heights == pytest.approx({"left": 5.0, "middle": 5.0, "right": 5.0})
    assert d.disc_angle_deg == pytest.approx(0.0) and d.segment_angle_deg == pytest.approx(0.0)
    cobb = m.angle("cobb_L1_L5")
    assert cobb.magnitude_deg == pytest.approx(0.0) and cobb.convexity == "none"
    rows = m.rows()
    assert ("L1.height.left", pytest.approx(15.0), "mm", "") in rows


def test_units_px_and_detector_note():
    xy = ap_column(AP.vertebrae)
    m = measure(AP, xy, np.ones(AP.k, bool))
    assert m.unit == "px"
    assert m.vertebra("L3").heights["middle"] == pytest.approx(30.0)
    assert any("px" in n for n in m.notes)
    assert all(r[2] != "mm" for r in m.rows())
    m = measure(AP, xy, np.ones(AP.k, bool), spacing=(0.2, 0.2), spacing_is_detector=True)
    assert m.unit == "mm" and m.spacing_is_detector
    assert m.vertebra("L3").heights["middle"] == pytest.approx(6.0)
    assert any("magnification" in n for n in m.notes)
    # unusable spacing falls back to px with a note
    m = measure(AP, xy, np.ones(AP.k, bool), spacing=(0.0, 0.2))
    assert m.unit == "px" and any("not usable" in n for n in m.notes)


def test_anisotropic_distance_formula():
    # a 3-4-5 triangle: dx = 12 px at 0.25 mm = 3 mm, dy = 8 px at 0.5 mm = 4 mm → 5 mm
    corners = np.array([[0, 0], [40, 0], [12, 8], [52, 8]], float)
    m = measure(AP, column(AP, [corners]), np.ones(AP.k, bool), spacing=(0.5, 0.25))
    assert m.vertebra("L1").heights["left"] == pytest.approx(5.0)


def test_wedge_lateral_genant():
    # anterior 20, posterior 30 (facing right) → ratio 0.667, loss 33 % → grade 2
    corners = lat_corners(100, 100, 40, 0, ant_h=20, post_h=30)
    m = measure(LAT, column(LAT, [corners]), np.ones(LAT.k, bool), facing="right")
    v = m.vertebra("L1")
    assert v.heights["anterior"] == pytest.approx(20.0)
    assert v.heights["posterior"] == pytest.approx(30.0)
    assert v.heights["middle"] == pytest.approx(25.0)
    assert v.ratios["anterior/posterior"] == pytest.approx(2 / 3)
    assert v.ratios["middle/posterior"] == pytest.approx(25 / 30)
    assert v.height_loss_percent == pytest.approx(100 / 3)
    assert v.loss_reference == "posterior"
    assert v.genant_grade == 2
    # facing does not change heights (anatomical corner names)
    m2 = measure(LAT, column(LAT, [lat_corners(100, 100, 40, 0, facing="left", ant_h=20, post_h=30)]),
                 np.ones(LAT.k, bool), facing="left")
    assert m2.vertebra("L1").heights == pytest.approx(v.heights)
    row = next(r for r in m.rows() if r[0] == "L1.height_loss")
    assert "posterior" in row[3] and row[2] == "%"


def test_genant_and_meyerding_boundaries():
    assert [genant_grade(x) for x in (0.0, 0.19, 0.2, 0.249, 0.25, 0.4, 0.41)] == [0, 0, 1, 1, 2, 2, 3]
    assert [meyerding_grade(p) for p in (-5, 0, 10, 25, 49.9, 50, 75, 100, 101)] == \
        [None, None, "I", "II", "II", "III", "IV", "IV", "V"]


def test_rotated_rectangle():
    for angle in (15.0, -25.0):
        corners = rect(300, 300, 40, 30, angle)
        m = measure(AP, column(AP, [corners]), np.ones(AP.k, bool))
        v = m.vertebra("L1")
        assert v.upper_endplate_deg == pytest.approx(angle)
        assert v.lower_endplate_deg == pytest.approx(angle)
        assert v.midline_deg == pytest.approx(angle)
        assert v.heights == pytest.approx({"left": 30.0, "middle": 30.0, "right": 30.0})


def lordotic_column(facing, step=10.0, spacing_y=1.0):
    # tilts +20, +10, 0, -10, -20 (anterior up): L1 upper vs L5 lower = 40°
    verts = [lat_corners(300, 100 + 45 * i, 40, 30, tilt_deg=2 * step - step * i, facing=facing)
             for i in range(5)]
    s1 = lat_corners(300, 100 + 45 * 5, 40, 30, tilt_deg=-30.0, facing=facing)[:2]
    return column(LAT, verts + [s1])


@pytest.mark.parametrize("facing", ["right", "left"])
def test_lordosis_from_rotated_rectangles(facing):
    xy = lordotic_column(facing)
    m = measure(LAT, xy, np.ones(LAT.k, bool), facing=facing)
    lord = m.angle("lordosis_L1_L5")
    assert lord.value_deg == pytest.approx(40.0)
    assert m.angle("lordosis_L1_S1").value_deg == pytest.approx(50.0)
    assert m.vertebra("L1").upper_endplate_deg == pytest.approx(20.0)
    for name in ("L1-L2", "L2-L3", "L3-L4", "L4-L5"):
        d = m.disc(name)
        assert d.disc_angle_deg == pytest.approx(10.0)
        assert d.midline_angle_deg == pytest.approx(10.0)
        # rectangles: upper endplate of v (t) vs lower endplate of v+1 (t - 10)
        assert d.segment_angle_deg == pytest.approx(10.0)
    assert m.disc("L5-S1").disc_angle_deg == pytest.approx(10.0)
    # inferred facing gives the same sign
    m2 = measure(LAT, xy, np.ones(LAT.k, bool))
    assert m2.facing == facing and m2.facing_inferred
    assert m2.angle("lordosis_L1_L5").value_deg == pytest.approx(40.0)
    # the wrong facing flips the sign: that is what facing is for
    other = "left" if facing == "right" else "right"
    assert measure(LAT, xy, np.ones(LAT.k, bool), facing=other).angle(
        "lordosis_L1_L5").value_deg == pytest.approx(-40.0)


def test_ap_cobb_convexity():
    # top tilted counter-clockwise (+12), bottom clockwise (-8): convex to the displayed right, 20°
    tilts = [12, 6, 0, -4, -8]
    xy = column(AP, [rect(200 + 5 * i, 100 + 45 * i, 40, 30, t) for i, t in enumerate(tilts)])
    m = measure(AP, xy, np.ones(AP.k, bool))
    cobb = m.angle("cobb_L1_L5")
    assert cobb.value_deg == pytest.approx(20.0)
    assert cobb.magnitude_deg == pytest.approx(20.0) and cobb.convexity == "right"
    assert m.angle("max_cobb").magnitude_deg == pytest.approx(20.0)
    mirrored = xy.copy()
    mirrored[:, 0] = 1000 - xy[:, 0]
    # mirroring swaps left/right names: rebuild so UL is again the displayed left corner
    swap = np.array([1, 0, 3, 2])
    mirrored = mirrored.reshape(5, 4, 2)[:, swap].reshape(-1, 2)
    cobb = measure(AP, mirrored, np.ones(AP.k, bool)).angle("cobb_L1_L5")
    assert cobb.magnitude_deg == pytest.approx(20.0) and cobb.convexity == "left"


def test_disc_heights_wedged():
    # L1 bottom at y=115 (rect centre 100, h 30); L2 tilted so its top is 8 px lower on the
    # left than the right: left disc taller.
    l1 = rect(200, 100, 40, 30)
    l2 = np.array([[180, 129], [220, 121], [180, 159], [220, 151]], float)
    m = measure(AP, column(AP, [l1, l2]), np.ones(AP.k, bool))
    d = m.disc("L1-L2")
    assert d.heights["left"] == pytest.approx(14.0)
    assert d.heights["right"] == pytest.approx(6.0)
    assert d.heights["middle"] == pytest.approx(10.0)
    assert d.disc_angle_deg == pytest.approx(-math.degrees(math.atan2(8, 40)))


@pytest.mark.parametrize("facing", ["right", "left"])
def test_slip_meyerding(facing):
    xy = lordotic_column(facing, step=0.0)  # all flat; S1 tilted -30°
    s1_sa, s1_sp = xy[20], xy[21]
    axis = (s1_sa - s1_sp) / np.linalg.norm(s1_sa - s1_sp)
    length = np.linalg.norm(s1_sa - s1_sp)
    # put L5-IP 30 % of the endplate forward of S1-SP (plus an offset across the endplate)
    normal = np.array([-axis[1], axis[0]])
    xy[19] = s1_sp + 0.30 * length * axis + 7.0 * normal
    m = measure(LAT, xy, np.ones(LAT.k, bool), facing=facing, spacing=(0.2, 0.2))
    assert m.slip.percent == pytest.approx(30.0)
    assert m.slip.grade == "II"
    assert m.slip.distance == pytest.approx(0.3 * length * 0.2)
    assert m.slip.endplate_length == pytest.approx(length * 0.2)
    # backward displacement: retrolisthesis, no grade
    xy[19] = s1_sp - 0.1 * length * axis
    m = measure(LAT, xy, np.ones(LAT.k, bool), facing=facing)
    assert m.slip.percent == pytest.approx(-10.0)
    assert m.slip.grade is None and "retrolisthesis" in m.slip.note


def test_missing_corners_are_none_not_nan():
    xy = lordotic_column("right")
    vis = np.ones(LAT.k, bool)
    vis[LAT.index("L3-SA")] = False  # hidden point: not used even though it has coordinates
    xy[LAT.index("L5-IP")] = np.nan
    m = measure(LAT, xy, vis, facing="right")
    l3 = m.vertebra("L3")
    assert l3.heights["anterior"] is None and l3.heights["posterior"] == pytest.approx(30.0)
    assert l3.genant_grade is None and l3.upper_endplate_deg is None
    assert m.angle("lordosis_L1_L5").value_deg is None
    assert m.slip.percent is None
    d = m.to_dict()
    text = json.dumps(d, allow_nan=False)  # raises if any NaN slipped through
    assert "NaN" not in text
    assert d["vertebrae"][2]["heights"]["anterior"] is None
    assert all(not (isinstance(r[1], float) and math.isnan(r[1])) for r in m.rows())


def test_spine_ap_68_runs():
    schema = load_schema("spine-ap-68")
    xy = column(schema, [rect(300, 50 + 35 * i, 30 + i, 25, 0) for i in range(len(schema.vertebrae))])
    m = measure(schema, xy, np.ones(schema.k, bool), spacing=(0.1, 0.1))
    assert len(m.vertebrae) == 17 and len(m.discs) == 16
    assert m.angle("cobb_L1_L5").magnitude_deg == pytest.approx(0.0)
    json.dumps(m.to_dict(), allow_nan=False)
