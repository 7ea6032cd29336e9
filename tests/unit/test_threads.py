"""``--threads`` sets torch's CPU threads in ``predict`` and ``study predict`` (default: every
core); ``study predict`` batches several images per forward pass with the same results as one
image at a time; the window's ``threads`` setting defaults to 1."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vam_gui.cli import main
from vam_gui.core.settings import Settings, load_settings
from vam_gui.io import Study
from vam_gui.model import Predictor, build_model, save_checkpoint
from vam_gui.model.predictor import available_cores
from vam_gui.model.study_predict import predict_study_images


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):  # different sizes: the batch letterboxes each on its own
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 255, (90 + 7 * i, 70 + 5 * i), dtype=np.uint8))
    return folder


@pytest.fixture
def checkpoint(tmp_path, tiny_model_config):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "m.safetensors", build_model(tiny_model_config), tiny_model_config)


def test_predict_threads_option_sets_torchs_threads(images, checkpoint, tmp_path):
    torch.set_num_threads(2)
    assert main(["predict", str(images), "-c", str(checkpoint), "-o", str(tmp_path / "p.json"), "--device", "cpu",
                 "--threads", "1", "-q", "--no-refine"]) == 0
    assert torch.get_num_threads() == 1
    assert main(["predict", str(images), "-c", str(checkpoint), "-o", str(tmp_path / "p.json"), "--device", "cpu",
                 "-q", "--no-refine"]) == 0
    assert torch.get_num_threads() == available_cores()  # the command line's default: every core


def test_study_predict_threads_option_sets_torchs_threads(images, checkpoint, tmp_path):
    study = tmp_path / "s.vamstudy"
    assert main(["study", "create", str(study), str(images), "-q"]) == 0
    torch.set_num_threads(2)
    assert main(["study", "predict", str(study), "-c", str(checkpoint), "--device", "cpu", "--threads", "1",
                 "--batch-size", "3", "-q"]) == 0
    assert torch.get_num_threads() == 1
    with Study.open(study) as s:
        assert all(i.worst_confidence is not None for i in s.list_images())


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_threads_count_is_refused(images, checkpoint, tmp_path, value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(images), "-c", str(checkpoint), "-o", str(tmp_path / "p.json"), "--threads", value])
    assert exc.value.code == 2 and "--threads" in capsys.readouterr().err


@pytest.mark.parametrize("refine", [False, True])
def test_batched_study_predict_equals_one_by_one(images, checkpoint, tmp_path, refine):
    predictor = Predictor(checkpoint, device="cpu", refine=refine)
    forward, sizes = predictor._forward, []

    def counted(batch):
        sizes.append(len(batch))
        return forward(batch)

    predictor._forward = counted
    results = []
    for batch in (1, 3):
        sizes.clear()
        with Study.create(tmp_path / f"b{batch}-{refine}.vamstudy") as study:
            study.add_images([images])
            emitted = []
            out = predict_study_images(study, predictor, study.image_ids(), batch_size=batch, emit=emitted.append)
            assert out["done"] == study.image_ids() == [i for i, _ in emitted] and not out["cancelled"]
            results.append({study.image_info(i).file_name: (study.prediction(i), study.heatmaps(i))
                            for i in study.image_ids()})
        assert max(sizes) == batch  # several images per forward pass
    one, batched = results
    assert one.keys() == batched.keys() and len(one) == 5
    for name, (p1, h1) in one.items():
        p2, h2 = batched[name]
        np.testing.assert_allclose(p2.xy, p1.xy, atol=1e-3, err_msg=name)
        np.testing.assert_allclose(p2.confidence, p1.confidence, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(p2.spread, p1.spread, rtol=1e-3, atol=1e-3, err_msg=name)
        assert p1.letterbox == p2.letterbox
        assert np.abs(h1.astype(int) - h2.astype(int)).max() <= 1, name  # quantised maps: one grey level


def test_batched_study_predict_lists_unreadable_images_and_goes_on(images, checkpoint, tmp_path):
    predictor = Predictor(checkpoint, device="cpu", refine=False)
    with Study.create(tmp_path / "s.vamstudy") as study:
        study.add_images([images])
        ids = study.image_ids()
        study.image_path(ids[1]).unlink()
        progress = []
        out = predict_study_images(study, predictor, ids, batch_size=3, progress=lambda d, t: progress.append(d))
        assert out["done"] == ids[:1] + ids[2:] and [e[0] for e in out["errors"]] == [ids[1]]
        assert progress == [1, 2, 3, 4, 5] and not out["cancelled"]


def test_the_windows_threads_setting_defaults_to_one(tmp_path):
    assert Settings().threads == 1
    path = tmp_path / "settings.json"
    path.write_text('{"threads": 0}')
    assert load_settings(path).threads == 1  # out of range: the default
    path.write_text('{"threads": 3}')
    assert load_settings(path).threads == 3
