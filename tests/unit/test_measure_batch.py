"""measure_many: every image's result equal, to the last bit, to measure() of that image alone,
on phantoms of each shipped schema with missing, hidden, collapsed, random, rounded and
overflowing points, with and without (usable) spacing, with given, wrong and inferred facings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vam_gui.core.measure import measure
from vam_gui.core.measure_batch import measure_many, measurement_dicts
from vam_gui.core.measure_results import _clean
from vam_gui.core.schema import load_schema
from vam_gui.synth import make_phantom

SPACINGS = (None, (0.1, 0.3), (0.0, 0.2), (0, 0.2), [0.15, 0.15], (np.float64(0.15), 0.15))


def _variant(schema, xy, vis, variant, rng):
    xy, vis = xy.copy(), vis.copy()
    k = schema.k
    if variant == 1:
        xy += rng.normal(0, 3, xy.shape)
    elif variant == 2:
        xy[rng.random(k) < 0.2] = np.nan  # never placed
    elif variant == 3:
        vis[rng.random(k) < 0.3] = False  # placed but hidden: not measured
    elif variant == 4:
        xy = rng.uniform(0, 256, xy.shape)  # nonsense: crossing lines, negative heights
    elif variant == 5:  # one vertebra collapsed to a point: zero heights, zero-length lines
        v = rng.integers(0, len(schema.vertebrae))
        idx = [i for i in range(k) if schema.vertebra[i] == v]
        xy[idx] = xy[idx[0]]
    elif variant == 6:
        xy = np.round(xy)  # equal heights, exact zeros in the differences
    elif variant == 7:
        xy[:, 0] = 256 - xy[:, 0]  # mirrored: the other facing, the other convexity
    elif variant == 8:
        xy[:] = np.nan
    elif variant == 9:
        vis[4:] = False
    elif variant == 10:
        xy = xy * 1e300  # distances overflow to inf: None, as alone
    elif variant == 11:
        xy[:, 1] = xy[0, 1]  # every point on one row
    return xy, vis


def _cases(schema_name, seeds, rng):
    schema = load_schema(schema_name)
    cases = []
    for seed in seeds:
        p = make_phantom(schema, seed=seed, size=(256, 200))
        for variant in range(12):
            xy, vis = _variant(schema, p.xy.astype(float), p.visible.astype(bool), variant, rng)
            for spacing in (*SPACINGS, p.spacing):
                for facing in ("left", "right", None, "up") if schema.view == "LAT" else (None, "left"):
                    cases.append((xy, vis, spacing, facing, bool(rng.random() < 0.3)))
    return schema, cases


@pytest.mark.parametrize("schema_name", ["lumbar-ap-20", "lumbar-lat-22", "spine-ap-68"])
def test_batch_equals_one_at_a_time(schema_name):
    schema, cases = _cases(schema_name, range(2), np.random.default_rng(7))
    alone = [measure(schema, xy, vis, spacing=sp, facing=f, spacing_is_detector=d) for xy, vis, sp, f, d in cases]
    batch = measure_many(schema, np.stack([c[0] for c in cases]), np.stack([c[1] for c in cases]),
                         spacings=[c[2] for c in cases], facings=[c[3] for c in cases],
                         spacing_is_detector=[c[4] for c in cases])
    assert len(batch) == len(cases) > 200
    for a, b in zip(alone, batch):
        assert repr(a) == repr(b)  # same values, bit for bit, and the same types
        assert a == b
        assert json.dumps(b.to_dict()) == json.dumps(a.to_dict()) == json.dumps(_clean(a))
        assert b.rows() == a.rows()


def test_defaults_empty_and_wrong_lengths():
    schema = load_schema("lumbar-lat-22")
    p = make_phantom(schema, seed=5, size=(256, 200))
    assert measure_many(schema, np.zeros((0, schema.k, 2))) == []
    (m,) = measure_many(schema, p.xy[None])  # all visible, no spacing, facing inferred
    assert m == measure(schema, p.xy)
    assert m.facing_inferred and m.unit == "px"
    with pytest.raises(ValueError, match="spacings"):
        measure_many(schema, np.stack([p.xy, p.xy]), spacings=[None])
    with pytest.raises(IndexError):
        measure_many(schema, p.xy[None, :5])


def test_to_dict_is_the_generic_walk():
    """The field-by-field to_dict gives what the generic _clean gives, numpy values included."""
    schema = load_schema("lumbar-lat-22")
    p = make_phantom(schema, seed=2, size=(256, 200))
    m = measure(schema, p.xy, p.visible, spacing=p.spacing, facing=p.facing)
    m.vertebrae[0].heights["anterior"] = np.float64(3.5)
    m.vertebrae[0].ratios["middle/posterior"] = float("inf")
    m.vertebrae[1].genant_grade = np.int64(2)
    m.spacing = (np.float64(0.2), 0.2)
    assert json.dumps(m.to_dict()) == json.dumps(_clean(m))
    assert m.to_dict()["vertebrae"][0]["ratios"]["middle/posterior"] is None


@pytest.mark.parametrize("schema_name", ["lumbar-ap-20", "lumbar-lat-22", "spine-ap-68"])
def test_measurement_dicts_are_the_results_to_dict(schema_name):
    """What an export writes: the dicts built directly equal each result's to_dict, key order
    included (an overflowed ratio is None there, inf in the result)."""
    schema, cases = _cases(schema_name, range(1), np.random.default_rng(8))
    args = (schema, np.stack([c[0] for c in cases]), np.stack([c[1] for c in cases]))
    kwargs = {"spacings": [c[2] for c in cases], "facings": [c[3] for c in cases],
              "spacing_is_detector": [c[4] for c in cases]}
    dicts = measurement_dicts(*args, **kwargs)
    results = measure_many(*args, **kwargs)
    assert len(dicts) == len(results) == len(cases)
    for d, m in zip(dicts, results):
        assert json.dumps(d, allow_nan=False) == json.dumps(m.to_dict())
    assert measurement_dicts(schema, np.zeros((0, schema.k, 2))) == []


def test_a_ratio_that_overflows_is_inf_in_the_result_and_none_in_the_dict():
    schema = load_schema("lumbar-ap-20")
    xy = np.full((schema.k, 2), np.nan)
    xy[:4] = [[0.0, 0.0], [40.0, 0.0], [0.0, 30.0], [40.0, 1e-310]]  # L1's right edge: a subnormal height
    (m,) = measure_many(schema, xy[None])
    assert m == measure(schema, xy) and m.vertebra("L1").ratios["left/right"] == float("inf")
    (d,) = measurement_dicts(schema, xy[None])
    assert d["vertebrae"][0]["ratios"]["left/right"] is None
    assert json.dumps(d) == json.dumps(m.to_dict())
