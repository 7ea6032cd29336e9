"""``vam-gui bench --scale N``: builds a study of N predicted images and reports each store
figure with its bare baseline and ratio (figures only, no timing asserts)."""

from __future__ import annotations

import json

import pytest

from vam_gui.cli import main
from vam_gui.io import Study
from vam_gui.io.bench import build_scale_study
from vam_gui.io.review import count_flags, image_review


def test_bench_scale_reports_every_figure_with_its_baseline(capsys):
    assert main(["bench", "--scale", "12", "--quick", "--no-gui", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scale_images"] == 12
    for name in ("study_create", "export_json_all", "export_json_pseudonymised", "sort_by_uncertainty",
                 "flag_counts_read"):
        assert out[f"{name}_ms"] > 0 and out[f"{name}_bare_ms"] > 0
        assert out[f"{name}_ratio"] == pytest.approx(out[f"{name}_ms"] / out[f"{name}_bare_ms"])


def test_a_bad_scale_is_one_line(capsys):
    assert main(["bench", "--scale", "0", "--no-gui"]) == 2
    assert "--scale must be at least 1" in capsys.readouterr().err


def test_the_scale_study_is_predicted_through_the_store(tmp_path):
    path = build_scale_study(tmp_path, 6, side=96)
    with Study.open(path, read_only=True) as study:
        infos = study.list_images()
        assert len(infos) == 6 and all(i.worst_confidence is not None for i in infos)
        assert all(study.heatmaps(i.image_id) is not None for i in infos)
        assert count_flags(study, study.image_ids()) == {
            i: len(image_review(study, i, with_measurements=False)[1]) for i in study.image_ids()}
