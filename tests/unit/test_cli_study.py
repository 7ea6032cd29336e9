"""`vam-gui study create|add|info`."""

import json

from test_study import write_images

from vam_gui.cli import main
from vam_gui.io import Study


def test_study_create_add_info(tmp_path, capsys):
    write_images(tmp_path / "a", n=2)
    write_images(tmp_path / "b", n=1, size=(50, 70))
    (tmp_path / "a" / "readme.txt").write_text("not an image")
    study = tmp_path / "s.vamstudy"
    assert main(["study", "create", str(study), str(tmp_path / "a"), "--schema", "lumbar-lat-22", "-q"]) == 0
    err = capsys.readouterr().err
    assert "readme.txt" in err and "2 image(s) added" in err
    assert main(["study", "add", str(study), str(tmp_path / "b"), "-q"]) == 0
    (tmp_path / "a" / "img1.png").unlink()
    capsys.readouterr()
    assert main(["study", "info", str(study), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["schema"] == "lumbar-lat-22" and info["keypoints"] == 22 and info["images"] == 3
    assert info["status"]["unreviewed"] == 3
    assert info["missing"] == ["a/img1.png"]
    assert main(["study", "info", str(study)]) == 0
    text = capsys.readouterr().out
    assert "unreviewed  3" in text and "a/img1.png" in text
    with Study.open(study) as s:
        assert len(s.image_ids()) == 3


def test_study_errors_are_one_line(tmp_path, capsys):
    assert main(["study", "info", str(tmp_path / "none.vamstudy")]) == 2
    assert capsys.readouterr().err.strip() == "vam-gui: error: none.vamstudy: no such study file"
    (tmp_path / "x.vamstudy").write_text("junk")
    assert main(["study", "create", str(tmp_path / "x.vamstudy")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["study", "create", str(tmp_path / "y.vamstudy"), "--schema", "nope"]) == 2
    assert "unknown schema" in capsys.readouterr().err


def test_study_predict_stores_predictions(tmp_path, capsys):
    import torch

    from vam_gui.model import build_model, save_checkpoint
    from vam_testing import tiny_config

    write_images(tmp_path / "a", n=2)
    study = tmp_path / "s.vamstudy"
    assert main(["study", "create", str(study), str(tmp_path / "a"), "-q"]) == 0
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.safetensors", build_model(tiny_config()), tiny_config())
    assert main(["study", "predict", str(study), "-c", str(ckpt), "-q", "--device", "cpu"]) == 0
    with Study.open(study) as s:
        for image_id in s.image_ids():
            assert s.prediction(image_id) is not None and s.heatmaps(image_id).shape == (20, 64, 64)
    assert "2 image(s) predicted" in capsys.readouterr().err
    assert main(["study", "predict", str(study), "-c", str(ckpt), "-q"]) == 0  # nothing left to do
    assert "0 image(s) predicted" in capsys.readouterr().err


def test_import_of_some_keypoints_needs_partial(tmp_path, capsys):
    """`vam-gui import` refuses a file naming only some keypoints of an image (one line, nothing
    changed) unless --partial is given; then only those keypoints change."""
    import numpy as np

    from vam_gui.core.annotation import PointState

    write_images(tmp_path / "a", n=1)
    study = tmp_path / "s.vamstudy"
    assert main(["study", "create", str(study), str(tmp_path / "a"), "-q"]) == 0
    with Study.open(study) as s:
        image_id = s.image_ids()[0]
        s.apply_edit(image_id, user="t", kind="place",
                     points={i: PointState(5.0 + i, 6.0 + i, True, "placed") for i in range(s.schema.k)})
    assert main(["export", str(study), "-f", "json", "-o", str(tmp_path / "out"), "--all", "--keep-names", "-q"]) == 0
    doc = json.loads((tmp_path / "out" / "vam-labels.json").read_text())
    doc["images"][0]["keypoints"] = doc["images"][0]["keypoints"][:5]
    for kp in doc["images"][0]["keypoints"]:
        kp.update(x=1.0, y=2.0, visible=True, source="moved")
    labels = tmp_path / "some.json"
    labels.write_text(json.dumps(doc))
    with Study.open(study) as s:
        before = s.annotation(image_id).xy.copy()
    capsys.readouterr()
    assert main(["import", str(study), "-f", "json", str(labels), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "partial" in err[0]
    with Study.open(study) as s:
        assert np.array_equal(s.annotation(image_id).xy, before)
    assert main(["import", str(study), "-f", "json", str(labels), "--partial", "-q"]) == 0
    with Study.open(study) as s:
        after = s.annotation(image_id).xy
    assert np.array_equal(after[:5], np.tile([1.0, 2.0], (5, 1))) and np.array_equal(after[5:], before[5:])
