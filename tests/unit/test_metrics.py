"""Landmark metrics: known answers on rectangles, SDR parsing, and one-level shifts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vam_gui.core.checks import level_shift
from vam_gui.core.metrics import SdrThreshold, evaluate_points, format_report, parse_sdr
from vam_gui.core.schema import load_schema

AP = load_schema("lumbar-ap-20")


def column(height=40.0, disc=10.0, width=60.0, x0=200.0, y0=100.0):
    """Truth [K, 2]: one axis-aligned width×height rectangle per vertebra, discs between."""
    xy = np.zeros((AP.k, 2))
    for i, (v, c) in enumerate(zip(AP.vertebra, AP.corner)):
        top = y0 + v * (height + disc)
        xy[i] = (x0 + (width / 2 if c in (1, 3) else -width / 2), top + (height if c >= 2 else 0.0))
    return xy


def level_moved(truth, delta):
    """The truth with every vertebra's corners replaced by those of vertebra v+delta; the end
    vertebra with no source is placed one level beyond the column."""
    pred = np.full_like(truth, np.nan)
    n = len(AP.vertebrae)
    step = truth[AP.vertebra_array() == 1].mean(axis=0) - truth[AP.vertebra_array() == 0].mean(axis=0)
    for v in range(n):
        dst = AP.vertebra_array() == v
        src = AP.vertebra_array() == v + delta
        pred[dst] = truth[src] if src.any() else truth[dst] + delta * step
    return pred


def run(pred, truth, *, heights=None, spacings=None, visible=None, **kw):
    n = len(pred)
    return evaluate_points(AP, pred, truth, visible or [np.ones(AP.k, bool)] * n,
                           heights=heights or [1000] * n, spacings=spacings or [None] * n, **kw)


# -- parse_sdr ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2,4mm", [(2, "mm"), (4, "mm")]),
    ("2mm,0.5%h", [(2, "mm"), (0.5, "%h")]),
    (" 1 , 2 px ", [(1, "px"), (2, "px")]),
    ("0.25vh", [(0.25, "vh")]),
    ("1,2%H,3mm", [(1, "%h"), (2, "%h"), (3, "mm")]),
    (".5%h", [(0.5, "%h")]),
])
def test_parse_sdr(text, expected):
    assert parse_sdr(text) == [SdrThreshold(float(v), u) for v, u in expected]


@pytest.mark.parametrize("text, fragment", [
    ("", "empty value"),
    ("2,,4mm", "empty value"),
    ("2,4", "has no unit"),
    ("2mm,4", "has no unit"),
    ("3cm", "unknown unit 'cm'"),
    ("-2mm", "positive number"),
    ("abc", "positive number"),
    ("0mm", "greater than zero"),
])
def test_parse_sdr_errors(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_sdr(text)
    message = str(info.value)
    assert fragment in message and "\n" not in message


# -- evaluate_points: known answers --------------------------------------------------------------

def test_every_point_off_by_five_px():
    truth = column()
    result = run([truth + [3.0, 4.0]], [truth])
    assert result["images"] == 1 and result["points"] == 20 and result["missing"] == 0
    assert result["mre_px"] == pytest.approx(5.0) and result["median_px"] == pytest.approx(5.0)
    assert result["mre_pct_h"] == pytest.approx(0.5) and result["median_pct_h"] == pytest.approx(0.5)
    assert result["mre_vh"] == pytest.approx(5.0 / 40.0) and result["median_vh"] == pytest.approx(0.125)
    assert result["mre_mm"] is None and result["median_mm"] is None
    # no spacing: the default thresholds are the %h ones only
    assert [(s["threshold"], s["unit"], s["rate"]) for s in result["sdr"]] == [(0.5, "%h", 1.0), (1.0, "%h", 1.0)]
    assert all(row["mre_px"] == pytest.approx(5.0) and row["points"] == 4 for row in result["per_vertebra"])
    assert [row["vertebra"] for row in result["per_vertebra"]] == list(AP.vertebrae)
    assert result["per_keypoint"][0] == {"name": "L1-UL", "mre_px": pytest.approx(5.0),
                                         "mre_pct_h": pytest.approx(0.5), "max_pct_h": pytest.approx(0.5)}
    assert result["level_shifted_images"] == 0 and result["level_shifted"] == []
    json.dumps(result, allow_nan=False)


def test_vertebral_heights_per_image():
    # image 0: 40 px vertebrae, 5 px off; image 1: 20 px vertebrae, 5 px off → 0.125 and 0.25 vh
    a, b = column(), column(height=20.0)
    result = run([a + [5.0, 0.0], b + [0.0, 5.0]], [a, b], heights=[1000, 500])
    assert result["mre_vh"] == pytest.approx(0.1875)
    assert result["mre_pct_h"] == pytest.approx(0.75)  # 0.5 and 1.0 %h
    sdr = run([a + [5.0, 0.0], b + [0.0, 5.0]], [a, b], heights=[1000, 500],
              sdr=parse_sdr("0.2vh,0.3vh,0.6%h,4.9,5.1px"))
    assert [s["rate"] for s in sdr["sdr"]] == [0.5, 1.0, 0.5, 0.0, 1.0]


def test_vh_left_out_without_a_complete_true_vertebra():
    a, b = column(), column()
    vis = np.ones(AP.k, bool)
    vis[np.asarray(AP.corner) >= 2] = False  # only upper endplates visible: no middle height
    result = run([a + [0.0, 4.0], b + [0.0, 8.0]], [a, b], visible=[np.ones(AP.k, bool), vis],
                 sdr=[SdrThreshold(0.15, "vh")])
    assert result["points"] == 30
    assert result["mre_vh"] == pytest.approx(0.1)  # image 0 only
    assert result["mre_px"] == pytest.approx((20 * 4 + 10 * 8) / 30)
    assert result["sdr"][0]["rate"] == 1.0  # image 1's points have no vh scale: left out


def test_mm_only_when_every_image_has_spacing():
    truth = column()
    pred = [truth + [4.0, 0.0], truth + [0.0, 4.0]]
    both = run(pred, [truth, truth], spacings=[(0.5, 0.25), (0.5, 0.25)])  # (dy, dx)
    assert both["mre_mm"] == pytest.approx(1.5)  # 4 px · 0.25 and 4 px · 0.5
    assert both["median_mm"] == pytest.approx(1.5)
    assert [(s["threshold"], s["unit"]) for s in both["sdr"]] == [(0.5, "%h"), (1.0, "%h"), (2.0, "mm"), (4.0, "mm")]
    assert [s["rate"] for s in both["sdr"]][2:] == [1.0, 1.0]
    diagonal = run([truth + [3.0, 4.0]], [truth], spacings=[(0.2, 0.2)], sdr=parse_sdr("0.9,1.1mm"))
    assert diagonal["mre_mm"] == pytest.approx(1.0)
    assert [s["rate"] for s in diagonal["sdr"]] == [0.0, 1.0]
    one = run(pred, [truth, truth], spacings=[(0.5, 0.25), None], sdr=parse_sdr("2mm,1%h"))
    assert one["mre_mm"] is None and one["median_mm"] is None
    assert [s["rate"] for s in one["sdr"]] == [None, 1.0]
    assert "spacing missing" in format_report(one)
    # a malformed spacing is no spacing
    assert run([truth], [truth], spacings=[(0.0, 0.5)])["mre_mm"] is None


def test_missing_predictions_and_hidden_truth():
    truth = column()
    pred = truth + [0.0, 2.0]
    pred[[0, 5]] = np.nan  # not predicted
    vis = np.ones(AP.k, bool)
    vis[7] = False
    pred[7] += 500.0  # a hidden truth point is not scored at all
    result = run([pred], [truth], visible=[vis], sdr=parse_sdr("10px"))
    assert result["points"] == 19 and result["missing"] == 2
    assert result["mre_px"] == pytest.approx(2.0)
    assert result["sdr"][0]["rate"] == pytest.approx(17 / 19)  # a missing prediction is a miss
    assert result["per_keypoint"][0]["mre_px"] is None and result["per_keypoint"][0]["max_pct_h"] is None
    assert result["per_vertebra"][0]["points"] == 4 and result["per_vertebra"][1]["points"] == 3
    json.dumps(result, allow_nan=False)


def test_per_vertebra_and_keypoint():
    truth = column()
    pred = truth.copy()
    l3 = AP.vertebra_array() == 2
    pred[l3] += [0.0, 10.0]
    pred[AP.index("L3-LR")] += [0.0, 10.0]
    result = run([pred], [truth], names=["case"])
    rows = {row["vertebra"]: row for row in result["per_vertebra"]}
    assert rows["L3"]["mre_px"] == pytest.approx(12.5) and rows["L3"]["mre_vh"] == pytest.approx(12.5 / 40)
    assert rows["L2"]["mre_px"] == 0.0 and rows["L2"]["mre_pct_h"] == 0.0
    lr = result["per_keypoint"][AP.index("L3-LR")]
    assert lr["name"] == "L3-LR" and lr["max_pct_h"] == pytest.approx(2.0)


def test_input_errors():
    truth = column()
    with pytest.raises(ValueError, match="heights has 2"):
        run([truth], [truth], heights=[1000, 1000])
    with pytest.raises(ValueError, match=r"pred\[0\] has shape"):
        run([truth[:10]], [truth])


# -- level shift ---------------------------------------------------------------------------------

@pytest.mark.parametrize("delta", [1, -1])
def test_prediction_one_level_off(delta):
    truth = column()
    pred = level_moved(truth, delta)
    matched = (0, 1, 2, 3) if delta > 0 else (1, 2, 3, 4)
    assert level_shift(AP, pred, truth) == (delta, matched)
    result = run([truth + 1.0, pred], [truth, truth], names=["ok", "shifted"])
    assert result["level_shifted_images"] == 1
    assert result["level_shifted"] == [{"image": "shifted", "delta": delta}]
    # the end vertebra not predicted at all: still a shift, and it is reported by index
    pred[AP.vertebra_array() == (4 if delta > 0 else 0)] = np.nan
    assert level_shift(AP, pred, truth) == (delta, matched)
    assert run([pred], [truth])["level_shifted"] == [{"image": 0, "delta": delta}]
    assert "level-shifted images: 1" in format_report(run([pred], [truth]))


def test_jitter_is_not_a_level_shift():
    truth = column()
    pred = truth + np.random.default_rng(0).uniform(-2.0, 2.0, truth.shape)
    assert level_shift(AP, pred, truth) is None
    assert run([pred], [truth])["level_shifted_images"] == 0


def test_level_shift_ignores_hidden_and_nan_points():
    truth = column()
    pred = level_moved(truth, 1)
    vis = np.ones(AP.k, bool)
    vis[AP.vertebra_array() >= 2] = False  # only L1 and L2 left: two vertebrae still suffice
    assert level_shift(AP, pred, truth, visible=vis) == (1, (0, 1))
    vis[AP.vertebra_array() == 1] = False  # one vertebra is below SHIFT_MIN_COUNT
    assert level_shift(AP, pred, truth, visible=vis) is None
    assert level_shift(AP, np.full_like(truth, np.nan), truth) is None


def test_format_report():
    truth = column()
    text = format_report(run([truth + [3.0, 4.0]], [truth], spacings=[(0.2, 0.2)]))
    lines = text.splitlines()
    assert lines[0].startswith("images: 1   points: 20")
    assert any(line.split()[:3] == ["px", "5.00", "5.00"] for line in lines)
    assert any(line.split()[:3] == ["%h", "0.500", "0.500"] for line in lines)
    assert any(line.split()[:3] == ["vh", "0.125", "0.125"] for line in lines)
    assert any(line.split()[:3] == ["mm", "1.00", "1.00"] for line in lines)
    assert "SDR 2 mm" in text and "100.0 %" in text and "level-shifted images: 0" in text
    assert lines[-5].split() == ["L1", "4", "5.00", "0.500", "0.125"]
