"""Reader-study agreement against known answers: a published ICC table, hand-computed
Bland–Altman limits, constructed inter-reader offsets, and per-axis noise recovered from a
synthetic two-reader study."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_checks import scoliotic

from vam_gui.core.agreement import (
    AgreementReport,
    ImageReadings,
    agreement,
    bland_altman,
    icc_2_1,
    point_distances,
)
from vam_gui.core.checks import level_shift
from vam_gui.core.schema import load_schema

AP = load_schema("lumbar-ap-20")
ALL = np.ones(AP.k, bool)

# Shrout, P. E. & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater
# reliability. Psychological Bulletin 86(2), 420-428. Table 2: 6 targets (rows) x 4 judges.
SHROUT_FLEISS_TABLE_2 = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_icc_2_1_shrout_fleiss_table_2():
    # By hand: n = 6, k = 4, grand total 127, sum of squares 841, correction 127²/24.
    # Row sums 24 12 26 16 30 19, column sums 46 15 26 40.
    n, k, cf = 6, 4, 127**2 / 24
    ss_rows = (24**2 + 12**2 + 26**2 + 16**2 + 30**2 + 19**2) / k - cf  # 1349/24
    ss_cols = (46**2 + 15**2 + 26**2 + 40**2) / n - cf  # 2339/24
    ss_err = 841 - cf - ss_rows - ss_cols  # 367/24
    bms, jms, ems = ss_rows / 5, ss_cols / 3, ss_err / 15
    assert (bms, jms, ems) == pytest.approx((11.2417, 32.4861, 1.0194), abs=1e-4)  # the paper's 11.24, 32.49, 1.02
    by_hand = (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n)
    assert by_hand == pytest.approx(184 / 635, abs=1e-12)  # 0.2898 in exact fractions
    icc = icc_2_1(SHROUT_FLEISS_TABLE_2)
    assert round(icc, 4) == round(by_hand, 4) == 0.2898
    assert round(icc, 2) == 0.29  # as the paper reports ICC(2,1)


def test_icc_2_1_drops_incomplete_rows_and_degenerate_tables():
    with_gap = [*SHROUT_FLEISS_TABLE_2, [np.nan, 3.0, 4.0, 5.0]]
    assert icc_2_1(with_gap) == pytest.approx(icc_2_1(SHROUT_FLEISS_TABLE_2))
    assert math.isnan(icc_2_1([[1.0, 2.0]]))  # one subject
    assert math.isnan(icc_2_1([[1.0], [2.0], [3.0]]))  # one rater
    assert math.isnan(icc_2_1(np.full((5, 3), 7.0)))  # zero denominator
    assert icc_2_1([[1.0, 1.0], [2.0, 2.0], [5.0, 5.0]]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        icc_2_1([1.0, 2.0, 3.0])


def test_bland_altman_by_hand():
    a = [10.0, 12.0, 11.0, 14.0, 13.0, np.nan, 4.0]
    b = [9.0, 12.0, 13.0, 11.0, 10.0, 3.0, np.inf]
    # finite pairs: differences 1, 0, -2, 3, 3 -> mean 1; squared deviations 0+1+9+4+4 = 18,
    # sd = sqrt(18 / 4) = 2.1213; limits 1 ± 1.96 · 2.1213 = -3.1578, 5.1578
    ba = bland_altman(a, b)
    assert ba.n == 5
    assert ba.bias == pytest.approx(1.0)
    assert ba.sd == pytest.approx(math.sqrt(4.5))
    assert (ba.lower, ba.upper) == pytest.approx((1 - 1.96 * math.sqrt(4.5), 1 + 1.96 * math.sqrt(4.5)))
    assert (ba.lower, ba.upper) == pytest.approx((-3.1578, 5.1578), abs=1e-4)
    one = bland_altman([1.0, np.nan], [2.0, 3.0])
    assert one.n == 1 and all(math.isnan(v) for v in (one.bias, one.sd, one.lower, one.upper))
    assert one.to_dict() == {"n": 1, "bias": None, "sd": None, "lower": None, "upper": None}


def test_point_distances_px_mm_and_masks():
    a = np.array([[10.0, 10.0], [20.0, 20.0], [30.0, 30.0], [np.nan, 1.0]])
    b = a + [3.0, 4.0]
    vis_b = np.array([True, False, True, True])
    d = point_distances(a, None, b, vis_b)
    assert d[0] == pytest.approx(5.0) and d[2] == pytest.approx(5.0)
    assert np.isnan(d[1]) and np.isnan(d[3])  # invisible on b; NaN on a
    # spacing (row mm, col mm) = (dy, dx) = (0.5, 0.25): dx 3·0.25, dy 4·0.5
    mm = point_distances(a, None, b, vis_b, spacing=(0.5, 0.25))
    assert mm[0] == pytest.approx(math.hypot(0.75, 2.0))
    with pytest.raises(ValueError):
        point_distances(a, None, b, None, spacing=(0.0, 1.0))


def _reading(xy, visible=None):
    return (np.asarray(xy, float), ALL.copy() if visible is None else np.asarray(visible, bool))


def test_inter_reader_distances_with_and_without_spacing():
    base = scoliotic(AP)
    alice, bob, model = base, base + [3.0, 4.0], base + [0.0, 1.0]
    images = [ImageReadings(f"img{i}", {"bob": _reading(bob + 10 * i), "alice": _reading(alice + 10 * i)},
                            model + 10 * i, (0.5, 0.25)) for i in range(3)]
    rep = agreement(AP, images, phase_label="phase 1")
    assert rep.unit == "mm" and rep.notes == [] and rep.readers == ["alice", "bob"]
    assert rep.images == 3 and rep.images_with_model == 3
    expected = math.hypot(3 * 0.25, 4 * 0.5)
    for kp in rep.keypoints:
        assert kp.readers.n == 3
        assert kp.readers.mean == pytest.approx(expected) and kp.readers.p95 == pytest.approx(expected)
        assert kp.model["alice"].mean == pytest.approx(0.5)
        assert kp.model["bob"].mean == pytest.approx(math.hypot(0.75, 1.5))
    assert rep.overall_readers.n == 3 * AP.k
    s = rep.per_axis_sigma
    assert (s.x, s.y) == pytest.approx((0.75 / math.sqrt(2), 2.0 / math.sqrt(2)))
    assert s.pooled == pytest.approx(math.sqrt((0.75**2 + 2.0**2) / 4))
    # a translation changes no height: the readers agree perfectly on L1's middle height (in mm)
    h = next(m for m in rep.measurements if m.name == "L1.height.middle")
    assert h.unit == "mm" and h.n == 3 and h.pairs["alice vs bob"].bias == pytest.approx(0.0, abs=1e-9)
    assert set(h.model) == {"alice vs model", "bob vs model"}
    assert not [m for m in rep.measurements if m.unit == "grade"]
    assert rep.level_disagreements == []

    px = agreement(AP, [ImageReadings(im.image_id, im.readers, None, None) for im in images])
    assert px.unit == "px" and px.keypoints[0].readers.mean == pytest.approx(5.0)
    assert px.images_with_model == 0 and px.overall_model == {} and px.keypoints[0].model == {}
    assert next(m for m in px.measurements if m.name == "L1.height.middle").unit == "px"
    mixed = agreement(AP, [images[0], ImageReadings("nospacing", images[1].readers, None, None)])
    assert mixed.unit == "px" and "missing on 1 of 2" in mixed.notes[0]
    assert mixed.keypoints[0].readers.mean == pytest.approx(5.0)  # the spaced image in px too


def test_invisible_and_nan_points_are_skipped():
    base = scoliotic(AP)
    vis_bob = ALL.copy()
    vis_bob[0] = False
    alice = base.copy()
    alice[1] = np.nan
    images = [ImageReadings("a", {"alice": _reading(alice), "bob": _reading(base + 1.0, vis_bob)}, None, None),
              ImageReadings("one reader", {"alice": _reading(alice)}, None, None)]
    rep = agreement(AP, images)
    assert rep.images == 1
    assert rep.keypoints[0].readers.n == 0 and math.isnan(rep.keypoints[0].readers.mean)
    assert rep.keypoints[1].readers.n == 0
    assert rep.keypoints[2].readers.n == 1 and rep.keypoints[2].readers.mean == pytest.approx(math.sqrt(2))
    assert rep.per_axis_sigma.n == AP.k - 2
    d = rep.to_dict()
    assert d["keypoints"][0]["readers"] == {"n": 0, "mean": None, "p95": None}
    json.dumps(d, allow_nan=False)


def _synthetic_study(n_images: int, sigma: float, seed: int = 0) -> tuple[list[ImageReadings], np.ndarray]:
    rng = np.random.default_rng(seed)
    base = scoliotic(AP, amplitude=10.0, base_tilt=2.0)
    images, truths = [], []
    for i in range(n_images):
        scale = rng.uniform(0.8, 1.25)
        truth = (base - base.mean(axis=0)) * scale + rng.uniform(200.0, 800.0, size=2)
        readers = {name: _reading(truth + rng.normal(0.0, sigma, size=truth.shape)) for name in ("r1", "r2")}
        images.append(ImageReadings(f"s{i:03d}", readers, truth, None))
        truths.append(truth)
    return images, np.array(truths)


def test_per_axis_sigma_recovered_from_two_noisy_readers():
    sigma = 2.0
    images, _ = _synthetic_study(400, sigma)
    rep = agreement(AP, images)
    s = rep.per_axis_sigma
    assert rep.unit == "px" and s.n == 400 * AP.k
    for est in (s.x, s.y, s.pooled):
        assert est == pytest.approx(sigma, rel=0.05)
    # reader vs truth (the model here): Rayleigh mean σ·sqrt(π/2); reader vs reader: σ·sqrt(2)·sqrt(π/2)
    assert rep.overall_model["r1"].mean == pytest.approx(sigma * math.sqrt(math.pi / 2), rel=0.05)
    assert rep.overall_readers.mean == pytest.approx(2 * sigma * math.sqrt(math.pi / 4), rel=0.05)
    assert rep.level_disagreements == []
    # L3's height (about 25 px) varies with the image scale (0.8-1.25) more than with 2 px of
    # noise: good but imperfect agreement, and no bias between two unbiased readers
    h = next(m for m in rep.measurements if m.name == "L3.height.middle")
    assert h.n == h.icc_n == 400 and 0.6 < h.icc < 0.95
    assert h.pairs["r1 vs r2"].bias == pytest.approx(0.0, abs=0.5)
    json.dumps(rep.to_dict(), allow_nan=False)


def _shifted_one_level(pred: np.ndarray) -> np.ndarray:
    """Labels that name each vertebra one level too cranially (the labels of v on v+1), the end
    vertebra one step beyond the column (as in test_checks)."""
    n = len(AP.vertebrae)
    ann = np.full_like(pred, np.nan)
    for v in range(n - 1):
        ann[4 * v:4 * v + 4] = pred[4 * (v + 1):4 * v + 8]
    step = pred[4 * (n - 1):].mean(axis=0) - pred[4 * (n - 2):4 * (n - 1)].mean(axis=0)
    ann[4 * (n - 1):] = pred[4 * (n - 1):] + step
    return ann


def test_a_reader_one_level_off_is_counted():
    pred = scoliotic(AP, amplitude=10.0, base_tilt=2.0)
    shifted = _shifted_one_level(pred)
    assert level_shift(AP, pred, shifted) is not None and level_shift(AP, pred, shifted)[0] == -1
    assert level_shift(AP, shifted, pred)[0] == +1
    clean = {"alice": _reading(pred), "bob": _reading(pred + 1.5), "carol": _reading(pred - 1.0)}
    off = {"alice": _reading(pred), "bob": _reading(shifted), "carol": _reading(pred + 1.0)}
    rep = agreement(AP, [ImageReadings("clean", clean, None, None), ImageReadings("off", off, None, None)])
    assert [(d.image_id, d.readers, d.delta) for d in rep.level_disagreements] == [("off", ("alice", "bob"), -1)]
    d = rep.to_dict()
    assert d["level_disagreements"] == [{"image_id": "off", "readers": ["alice", "bob"], "delta": -1}]
    assert "level disagreements: 1 (off (alice/bob -1))" in rep.format_table()


def test_to_dict_is_strict_json_and_table_prints():
    images, _ = _synthetic_study(3, 2.0, seed=1)
    images = [images[0], ImageReadings("solo", images[1].readers, None, (0.2, 0.2)),
              ImageReadings("empty", {}, None, None)]
    rep = agreement(AP, images, phase_label="pilot")
    assert isinstance(rep, AgreementReport) and rep.images == 2 and rep.images_with_model == 1
    d = rep.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert set(d) == {"phase_label", "unit", "notes", "readers", "images", "images_with_model", "overall_readers",
                      "overall_model", "keypoints", "per_axis_sigma", "measurements", "level_disagreements"}
    m = d["measurements"][0]
    assert set(m) == {"name", "unit", "n", "icc", "icc_n", "pairs", "model"}
    assert m["icc"] is not None and m["model"]["r1 vs model"]["sd"] is None  # one image with a model
    assert "NaN" not in text
    table = rep.format_table()
    assert table.startswith("Reader agreement - pilot") and "r1 vs model" in table and "L1.height.middle" in table
    empty = agreement(AP, [])
    assert empty.images == 0 and empty.notes == ["no images to compare"]
    json.dumps(empty.to_dict(), allow_nan=False)
    assert "n/a" in empty.format_table()


def test_bad_shapes_name_the_image():
    bad = ImageReadings("x7", {"a": (np.zeros((3, 2)), np.ones(3, bool)), "b": _reading(scoliotic(AP))}, None, None)
    with pytest.raises(ValueError, match="x7"):
        agreement(AP, [bad])
