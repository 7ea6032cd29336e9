"""Measurement names for readers, and which vertebrae a measurement rests on."""

import numpy as np
import pytest

from vam_gui.core.measure_display import display_name, levels_of, unsure_vertebrae

LUMBAR = ["L1", "L2", "L3", "L4", "L5"]


@pytest.mark.parametrize("code, name", [
    ("L1.height.left", "L1 height, left"),
    ("L1.ratio.left/right", "L1 ratio, left/right"),
    ("L3.height_loss", "L3 height loss"),
    ("L1.genant_grade", "L1 Genant grade"),
    ("disc L1-L2.disc_angle", "Disc L1–L2 angle"),
    ("disc L2-L3.height.middle", "Disc L2–L3 height, middle"),
    ("cobb_L1_L5", "Cobb angle L1–L5"),
    ("cobb_L1_L5.magnitude", "Cobb angle L1–L5, magnitude"),
    ("max_cobb", "Largest Cobb angle"),
    ("slip L5-S1.meyerding", "Slip L5–S1 Meyerding grade"),
])
def test_display_names(code, name):
    assert display_name(code) == name


def test_every_row_of_a_real_result_gets_a_name_without_code_syntax():
    from vam_gui.core.measure import measure
    from vam_gui.core.schema import load_schema
    from vam_gui.synth import make_phantom

    for schema_name in ("lumbar-ap-20", "lumbar-lat-22"):
        p = make_phantom(seed=3, schema=schema_name) if schema_name != "lumbar-ap-20" else make_phantom(seed=3)
        schema = load_schema(p.schema)
        rows = measure(schema, p.xy, p.visible, spacing=p.spacing, facing=p.facing).rows()
        for code, *_ in rows:
            name = display_name(code)
            assert "_" not in name and "." not in name.replace("…", ""), (code, name)
            assert name[0].isupper() or name[0].isdigit(), name


def test_levels_a_row_rests_on():
    assert levels_of("L3.height.left", LUMBAR) == ["L3"]
    assert levels_of("disc L1-L2.segment_angle", LUMBAR) == ["L1", "L2"]
    assert levels_of("cobb_L1_L5.magnitude", LUMBAR) == ["L1", "L5"]
    assert levels_of("max_cobb", LUMBAR) == LUMBAR  # any pair: all of them


def test_unsure_vertebrae_are_those_with_an_unconfirmed_low_confidence_prediction():
    vertebra_of = [0, 0, 0, 0, 1, 1, 1, 1]
    visible = np.array([True] * 7 + [False])
    sources = ["predicted"] * 3 + ["moved"] + ["predicted"] * 4
    conf = np.array([0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.05])
    # L1's unsure corner was moved (confirmed); L2's unsure one is missing: neither counts
    assert unsure_vertebrae(vertebra_of, ["L1", "L2"], visible, sources, conf, 0.3) == set()
    conf[5] = 0.2
    assert unsure_vertebrae(vertebra_of, ["L1", "L2"], visible, sources, conf, 0.3) == {"L2"}
    assert unsure_vertebrae(vertebra_of, ["L1", "L2"], visible, sources, None, 0.3) == set()
