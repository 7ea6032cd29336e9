"""Anatomical checks: each planted error is flagged, a clean column raises nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_measure import column, lat_corners, rect

from vam_gui.core.checks import (
    CORNER_ORDER,
    HEIGHT_JUMP,
    LEVEL_ORDER,
    LEVEL_SHIFT,
    OUTLINE,
    OVERLAP,
    PEAK_DISTANCE,
    check,
)
from vam_gui.core.schema import load_schema

AP = load_schema("lumbar-ap-20")
LAT = load_schema("lumbar-lat-22")
AP68 = load_schema("spine-ap-68")


def scoliotic(schema, amplitude=None, base_tilt=6.0):
    """A clean AP column on an S-curve: vertebrae tilted along the curve, heights growing slowly.
    The default amplitude (7 % of the column length) gives ~20° of tilt at the steepest point."""
    n = len(schema.vertebrae)
    amplitude = 0.07 * n * 35.0 if amplitude is None else amplitude
    verts, y = [], 80.0
    for i in range(n):
        h = 22.0 + 8.0 * i / max(n - 1, 1)
        w = 1.4 * h
        t = i / max(n - 1, 1)
        x = 300.0 + amplitude * math.sin(2 * math.pi * t)
        slope = amplitude * 2 * math.pi * math.cos(2 * math.pi * t) / (n * (h + 9))  # dx/dy
        tilt = math.degrees(math.atan(slope)) + base_tilt  # plus a whole-image rotation
        verts.append(rect(x, y + h / 2, w, h, tilt))
        y += h + 9.0
    return column(schema, verts)


def lordotic(facing="right"):
    verts = [lat_corners(300 + (8 - 4 * i) * (1 if facing == "right" else -1), 100 + 45 * i, 40, 30,
                         tilt_deg=12 - 6 * i, facing=facing) for i in range(5)]
    s1 = lat_corners(300, 100 + 45 * 5, 40, 30, tilt_deg=-25.0, facing=facing)[:2]
    return column(LAT, verts + [s1])


def kinds(flags):
    return sorted({f.kind for f in flags})


@pytest.mark.parametrize("schema", [AP, AP68], ids=lambda s: s.name)
def test_clean_scoliotic_column_has_no_flags(schema):
    xy = scoliotic(schema)
    rng = np.random.default_rng(0)
    peaks = xy + rng.normal(0, 1.0, xy.shape)
    pred = xy + rng.normal(0, 2.0, xy.shape)
    flags = check(schema, xy, np.ones(schema.k, bool), heatmap_peaks=peaks, prediction_xy=pred,
                  spacing=(0.14, 0.14))
    assert flags == []


@pytest.mark.parametrize("facing", ["right", "left"])
def test_clean_lordotic_lateral_has_no_flags(facing):
    xy = lordotic(facing)
    for f in (None, facing):
        assert check(LAT, xy, np.ones(LAT.k, bool), facing=f, prediction_xy=xy + 1.0, heatmap_peaks=xy) == []


def test_strongly_rotated_vertebra_not_flagged():
    # a whole column rotated by 35°: left/right in the vertebra's own frame, so no corner flags
    xy = scoliotic(AP, amplitude=0.0, base_tilt=0.0)
    c = xy.mean(axis=0)
    a = math.radians(35)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    xy = (xy - c) @ rot.T + c
    assert check(AP, xy, np.ones(AP.k, bool)) == []


def test_swapped_corner_ul_ur():
    xy = scoliotic(AP)
    ul, ur = AP.index("L3-UL"), AP.index("L3-UR")
    xy[[ul, ur]] = xy[[ur, ul]]
    flags = check(AP, xy, np.ones(AP.k, bool))
    order = [f for f in flags if f.kind == CORNER_ORDER]
    assert len(order) == 1
    assert order[0].points == (ul, ur) and order[0].vertebra == 2 and order[0].severity == "error"
    assert "UL" in order[0].message and "UR" in order[0].message
    # nothing is flagged on other vertebrae
    assert {f.vertebra for f in flags} == {2}


def test_swapped_lateral_anterior_posterior():
    xy = lordotic("left")
    sa, sp = LAT.index("L2-SA"), LAT.index("L2-SP")
    xy[[sa, sp]] = xy[[sp, sa]]
    flags = check(LAT, xy, np.ones(LAT.k, bool))  # facing inferred from the majority
    order = [f for f in flags if f.kind == CORNER_ORDER]
    assert [f.points for f in order] == [(sa, sp)]


def test_upper_lower_swapped():
    xy = scoliotic(AP)
    v = AP.vertebrae.index("L4")
    idx = [AP.index(f"L4-{c}") for c in ("UL", "UR", "LL", "LR")]
    xy[idx] = xy[[idx[2], idx[3], idx[0], idx[1]]]
    flags = [f for f in check(AP, xy, np.ones(AP.k, bool)) if f.kind == CORNER_ORDER]
    assert len(flags) == 1 and flags[0].vertebra == v and "below" in flags[0].message


def test_crossed_endplate_bow_tie():
    xy = scoliotic(AP)
    ll, lr = AP.index("L2-LL"), AP.index("L2-LR")
    xy[[ll, lr]] = xy[[lr, ll]]
    flags = check(AP, xy, np.ones(AP.k, bool))
    outline = [f for f in flags if f.kind == OUTLINE]
    assert len(outline) == 1 and outline[0].vertebra == 1 and "crosses itself" in outline[0].message
    assert set(outline[0].points) == {AP.index(f"L2-{c}") for c in ("UL", "UR", "LL", "LR")}


def test_non_convex_outline():
    xy = scoliotic(AP, amplitude=0.0, base_tilt=0.0)
    idx = [AP.index(f"L3-{c}") for c in ("UL", "UR", "LL", "LR")]
    centre = xy[idx].mean(axis=0)
    # pull UL just past the diagonal UR–LL into the lower-right half: a dart (concave, not crossed)
    xy[idx[0]] = centre + 0.1 * (xy[idx[3]] - centre)
    flags = [f for f in check(AP, xy, np.ones(AP.k, bool)) if f.kind == OUTLINE]
    assert len(flags) == 1 and flags[0].severity == "warning" and "not convex" in flags[0].message


def test_vertebrae_out_of_order():
    xy = scoliotic(AP, amplitude=0.0, base_tilt=0.0)
    a = [AP.index(f"L2-{c}") for c in ("UL", "UR", "LL", "LR")]
    b = [AP.index(f"L3-{c}") for c in ("UL", "UR", "LL", "LR")]
    xy[a + b] = xy[b + a]  # L2's labels on L3's body and vice versa
    flags = check(AP, xy, np.ones(AP.k, bool))
    assert kinds(flags) == [LEVEL_ORDER]
    assert len(flags) == 1 and flags[0].vertebra == 2 and "L3 is drawn above L2" in flags[0].message


def test_overlapping_vertebrae():
    xy = scoliotic(AP, amplitude=0.0, base_tilt=0.0)
    idx = [AP.index(f"L4-{c}") for c in ("UL", "UR", "LL", "LR")]
    h = xy[AP.index("L4-LL"), 1] - xy[AP.index("L4-UL"), 1]
    xy[idx, 1] -= 0.5 * h + 9.0  # L4 pushed up into L3 by half a height (still below it)
    flags = check(AP, xy, np.ones(AP.k, bool))
    assert kinds(flags) == [OVERLAP]
    assert flags[0].vertebra == 3 and "L3 and L4 overlap" in flags[0].message
    # touching endplates (a collapsed disc) are not an overlap
    xy = scoliotic(AP, amplitude=0.0, base_tilt=0.0)
    gap = xy[AP.index("L4-UL"), 1] - xy[AP.index("L3-LL"), 1]
    xy[[i for i in range(AP.k) if AP.vertebra[i] >= 3], 1] -= gap
    assert check(AP, xy, np.ones(AP.k, bool)) == []


def test_lateral_s1_inside_l5_is_overlap():
    xy = lordotic()
    l5 = xy[16:20]
    xy[20:22] = l5.mean(axis=0) + np.array([[10.0, 0.0], [-10.0, 0.0]])  # S1 endplate drawn inside L5
    assert OVERLAP in kinds(check(LAT, xy, np.ones(LAT.k, bool)))


def test_height_jump():
    xy = scoliotic(AP, amplitude=0.0, base_tilt=0.0)
    ll, lr = AP.index("L3-LL"), AP.index("L3-LR")
    ul = AP.index("L3-UL")
    h = xy[ll, 1] - xy[ul, 1]
    xy[[ll, lr], 1] -= 0.5 * h  # L3 half as tall as its neighbours
    flags = check(AP, xy, np.ones(AP.k, bool), spacing=(0.2, 0.2))
    assert kinds(flags) == [HEIGHT_JUMP]
    assert flags[0].vertebra == 2 and "mm" in flags[0].message
    # a 15 % difference is anatomy, not an error
    xy = scoliotic(AP, amplitude=0.0, base_tilt=0.0)
    xy[[ll, lr], 1] -= 0.15 * h
    assert check(AP, xy, np.ones(AP.k, bool)) == []


def test_point_far_from_peak():
    xy = scoliotic(AP)
    peaks = xy.copy()
    i = AP.index("L5-LR")
    peaks[i] += np.array([9.0, 0.0])  # median height 22..30 px → threshold ≈ 6.5 px
    peaks[AP.index("L1-UL")] += np.array([3.0, 0.0])  # within the threshold
    flags = check(AP, xy, np.ones(AP.k, bool), heatmap_peaks=peaks)
    assert [(f.kind, f.points, f.vertebra) for f in flags] == [(PEAK_DISTANCE, (i,), 4)]
    # an explicit threshold; hidden points are not checked
    assert check(AP, xy, np.ones(AP.k, bool), heatmap_peaks=peaks, peak_threshold_px=10.0) == []
    vis = np.ones(AP.k, bool)
    vis[i] = False
    assert check(AP, xy, vis, heatmap_peaks=peaks) == []


@pytest.mark.parametrize("delta", [1, -1])
def test_labels_shifted_by_one_level(delta):
    pred = scoliotic(AP, amplitude=10.0, base_tilt=2.0)
    ann = np.full_like(pred, np.nan)
    n = len(AP.vertebrae)
    for v in range(n):
        src = v + delta
        if 0 <= src < n:
            ann[4 * v:4 * v + 4] = pred[4 * src:4 * src + 4]
    # the vertebra without a source is labelled one level beyond the column
    end = n - 1 if delta > 0 else 0
    step = pred[4 * (n - 1):4 * n].mean(axis=0) - pred[4 * (n - 2):4 * (n - 1)].mean(axis=0)
    ann[4 * end:4 * end + 4] = pred[4 * end:4 * end + 4] + (step if delta > 0 else -step)
    flags = check(AP, ann, np.ones(AP.k, bool), prediction_xy=pred)
    shift = [f for f in flags if f.kind == LEVEL_SHIFT]
    assert len(shift) == 1, flags
    assert f"delta {delta:+d}" in shift[0].message
    assert shift[0].vertebra is None and len(shift[0].points) == 16
    # the same annotation checked against itself is not shifted
    assert not [f for f in check(AP, ann, np.ones(AP.k, bool), prediction_xy=ann) if f.kind == LEVEL_SHIFT]


def test_flag_to_dict():
    xy = scoliotic(AP)
    xy[[0, 1]] = xy[[1, 0]]
    d = check(AP, xy, np.ones(AP.k, bool))[0].to_dict()
    assert d["kind"] == CORNER_ORDER and d["points"] == [0, 1]
