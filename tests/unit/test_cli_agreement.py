"""`vam-gui agreement` on a synth study read by two simulated readers (the truth plus Gaussian
noise of known per-axis σ, entered with `vam-gui import --reader`), and the study settings of a
reader study from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vam_gui.cli import main
from vam_gui.io import Study

SIGMA_PX = 3.0


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    assert main(["synth", "--out", str(out), "--n", "24", "--seed", "7", "--study", "-q"]) == 0
    return out


def _noisy_copy(labels: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    doc = json.loads(json.dumps(labels))
    for image in doc["images"]:
        for kp in image["keypoints"]:
            if kp["x"] is not None:
                kp["x"] += float(rng.normal(0, SIGMA_PX))
                kp["y"] += float(rng.normal(0, SIGMA_PX))
    return doc


def test_two_simulated_readers_give_back_their_noise(phantoms, tmp_path, capsys):
    study = phantoms / "phantoms.vamstudy"
    truth = json.loads((phantoms / "labels.json").read_text())
    with Study.open(study) as s:
        consensus = {i: s.annotation(i) for i in s.image_ids()}
    for reader, seed in (("alice", 1), ("bob", 2)):
        folder = tmp_path / reader
        folder.mkdir()
        (folder / "labels.json").write_text(json.dumps(_noisy_copy(truth, seed)))
        assert main(["import", str(study), "-f", "json", str(folder), "--reader", reader, "-q"]) == 0
    assert "as bob's readings" in capsys.readouterr().err
    assert main(["agreement", str(study), "--json", "--csv", str(tmp_path / "tables")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["readers"] == ["alice", "bob"] and report["images"] == 24
    assert report["unit"] == "px", "PNG phantoms: the study knows no pixel spacing"
    for axis in ("x", "y"):
        got = report["per_axis_sigma"][axis]
        assert got == pytest.approx(SIGMA_PX, rel=0.10), (axis, got)
    assert report["level_disagreements"] == []
    assert {m["name"] for m in report["measurements"]} >= {"L3.height.middle"}
    assert (tmp_path / "tables" / "keypoints.csv").read_text().startswith("keypoint,compared,n,mean_px,p95_px")
    with Study.open(study, read_only=True) as s:
        assert all(s.annotation(i).equals(a) for i, a in consensus.items()), "the consensus is unchanged"
    assert main(["agreement", str(study)]) == 0
    assert "alice" in capsys.readouterr().out


def test_a_study_without_readers_is_said_in_one_line(phantoms, tmp_path, capsys):
    study = tmp_path / "empty.vamstudy"
    assert main(["study", "create", str(study), "--blind-first", "-q"]) == 0
    assert main(["agreement", str(study)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no readers" in err[0]
    assert main(["study", "info", str(study), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["blind_first"] is True
    assert main(["study", "set", str(study), "--blind-first", "off"]) == 0
    with Study.open(study, read_only=True) as s:
        assert not s.blind_first
