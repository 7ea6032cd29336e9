"""The per-image pairs behind the agreement report's Bland–Altman figures: known values on
constructed readings, and the report's bias and limits recomputed from them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_checks import scoliotic

from vam_gui.core.agreement import ImageReadings, agreement, bland_altman
from vam_gui.core.agreement_pairs import CancelledError, measurement_pairs, measurement_values
from vam_gui.core.measure import measure
from vam_gui.core.schema import load_schema

AP = load_schema("lumbar-ap-20")
ALL = np.ones(AP.k, bool)
H = "L1.height.middle"


def _reading(xy, visible=None):
    return (np.asarray(xy, float), ALL.copy() if visible is None else np.asarray(visible, bool))


def _value(xy, name, spacing=None):
    return next(v for n, v, _, _ in measure(AP, xy, spacing=spacing).rows() if n == name)


def test_known_values_a_scaled_reader_and_a_translated_model():
    base = scoliotic(AP)
    images = [ImageReadings(f"img{i}", {"bob": _reading(1.1 * (base + 5 * i)), "alice": _reading(base + 5 * i)},
                            base + 5 * i + 2.0, (0.5, 0.5)) for i in range(3)]
    images.append(ImageReadings("alone", {"alice": _reading(base)}, None, (0.5, 0.5)))  # compared with nobody
    values = measurement_values(AP, images)
    assert values.ids == ["img0", "img1", "img2"] and values.readers == ["alice", "bob"] and values.unit == "mm"
    pairs = values.pairs(H)
    assert list(pairs) == ["alice vs bob", "alice vs model", "bob vs model"]
    a, b = pairs["alice vs bob"]
    h_mm = _value(base, H, spacing=(0.5, 0.5))
    assert _value(base, H) == pytest.approx(22.0) and h_mm == pytest.approx(11.0)  # L1: 22 px high
    # a translation changes no height; bob's column is 1.1 times alice's in every length
    assert a == pytest.approx([h_mm] * 3) and b == pytest.approx([1.1 * h_mm] * 3)
    ba = bland_altman(a, b)
    assert ba.bias == pytest.approx(-0.1 * h_mm) and ba.sd == pytest.approx(0.0, abs=1e-9)
    model_a, model_b = pairs["alice vs model"]
    assert model_a == pytest.approx(model_b)
    assert values.units[H] == "mm" and values.units["L1.ratio.left/right"] == "ratio"
    # angles do not scale: alice and bob agree on every endplate tilt
    tilt_a, tilt_b = values.pairs("L1.upper_endplate")["alice vs bob"]
    assert tilt_a == pytest.approx(tilt_b)
    assert values.pair_ids(H)["alice vs bob"] == ["img0", "img1", "img2"]
    assert measurement_pairs(AP, images, H).keys() == pairs.keys()
    assert values.pairs("no such measurement") == {} and values.pair_ids("no such measurement") == {}


def test_px_when_a_spacing_is_missing_and_invisible_points_leave_a_value_out():
    base = scoliotic(AP)
    hidden = ALL.copy()
    hidden[AP.keypoints.index(AP.keypoints[0])] = False  # one of L1's corners
    images = [ImageReadings("spaced", {"a": _reading(base), "b": _reading(base + 1.0)}, None, (0.5, 0.5)),
              ImageReadings("bare", {"a": _reading(base), "b": _reading(base, hidden)}, None, None)]
    values = measurement_values(AP, images)
    assert values.unit == "px"
    pairs = values.pairs(H)
    assert list(pairs) == ["a vs b"]  # no model anywhere: no model pairs
    a, b = pairs["a vs b"]
    assert a == pytest.approx([22.0]) and b == pytest.approx(a)  # in px; "bare" lost b's L1
    assert values.pair_ids(H) == {"a vs b": ["spaced"]}
    assert math.isnan(values.values[H][1, 1])


def _study(n, sigma, seed=0):
    rng = np.random.default_rng(seed)
    base = scoliotic(AP, amplitude=10.0, base_tilt=2.0)
    images = []
    for i in range(n):
        truth = (base - base.mean(axis=0)) * rng.uniform(0.8, 1.25) + rng.uniform(200.0, 800.0, size=2)
        readers = {r: _reading(truth + rng.normal(0.0, sigma, size=truth.shape)) for r in ("r1", "r2", "r3")}
        vis = ALL.copy()
        vis[rng.integers(0, AP.k)] = False
        readers["r3"] = (readers["r3"][0], vis)  # a missing corner now and then
        images.append(ImageReadings(f"s{i:03d}", readers, truth if i % 3 else None,
                                    (0.2, 0.25) if i % 5 else (0.3, 0.3), facing=None))
    return images


def test_the_pairs_give_back_the_reports_bland_altman_for_every_measurement():
    images = _study(30, 2.0)
    report = agreement(AP, images)
    values = measurement_values(AP, images)
    assert report.unit == values.unit == "mm" and report.measurements
    assert {m.name for m in report.measurements} == set(values.values)
    for m in report.measurements:
        assert values.units[m.name] == m.unit
        pairs = values.pairs(m.name)
        expected = m.pairs | m.model
        assert list(pairs) == list(expected), m.name
        for label, (a, b) in pairs.items():
            got, want = bland_altman(a, b), expected[label]
            assert got.n == want.n == len(a) == len(b), (m.name, label)
            for field in ("bias", "sd", "lower", "upper"):
                g, w = getattr(got, field), getattr(want, field)
                assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, rel=1e-12, abs=1e-12)


def test_progress_and_cancel():
    images = _study(120, 1.0)
    heard = []
    values = measurement_values(AP, images, {H}, progress=lambda done, total: heard.append((done, total)))
    assert set(values.values) == {H} and heard[-1] == (120, 120) and heard[0] == (50, 120)
    with pytest.raises(CancelledError):
        measurement_values(AP, images, cancel=lambda: True)
    with pytest.raises(ValueError, match="s000"):
        measurement_values(AP, [ImageReadings("s000", {"a": (np.zeros((3, 2)), np.ones(3, bool)),
                                                        "b": _reading(scoliotic(AP))}, None, None)])
