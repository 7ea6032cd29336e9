"""Training, resume, evaluation, distributed training, synth and augmentation."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from vam_gui.cli import main
from vam_gui.model.train import TrainOptions, train

TINY = dict(d_model=32, bridge_layers=1, vam_layers=1, bridge_heads=2, vam_heads=2, ffn_mult=2,
            decoder_channels=[16, 16, 8, 8])


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    from vam_gui.io.synth import synthesize

    out = tmp_path_factory.mktemp("synth")
    synthesize(out, 4, seed=10, dataset_size=128, difficulty=0.3)
    return out


def test_two_step_run_writes_a_checkpoint_that_predicts(phantoms, tmp_path):
    from vam_gui.model import Predictor
    from vam_gui.synth import make_phantom

    summary = train(TrainOptions(dataset=str(phantoms / "dataset"), out=str(tmp_path), epochs=5, batch_size=2,
                                 max_steps=2, model=TINY))
    assert summary["steps"] == 2
    for name in ("last.safetensors", "metrics.csv", "metrics.png", "train_state.pt", "summary.json"):
        assert (tmp_path / name).is_file(), name
    ph = make_phantom("lumbar-ap-20", seed=3)
    pred = Predictor(tmp_path / "last.safetensors", device="cpu").predict(ph.pixels)
    assert pred.xy.shape == (20, 2) and np.isfinite(pred.xy).all()
    assert pred.letterbox.size == 128


def test_resume_continues_from_the_saved_epoch(phantoms, tmp_path):
    opts = TrainOptions(dataset=str(phantoms / "dataset"), out=str(tmp_path), epochs=1, batch_size=2, model=TINY)
    first = train(opts)
    assert first["epochs_done"] == 1
    state = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert state["epoch"] == 0
    opts.epochs, opts.resume = 2, True
    second = train(opts)
    assert second["epochs_done"] == 2 and second["steps"] == 2 * first["steps"]
    rows = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"]


def test_evaluate_prints_its_table_and_json(phantoms, tmp_path, capsys):
    train(TrainOptions(dataset=str(phantoms / "dataset"), out=str(tmp_path), epochs=1, batch_size=2,
                       max_steps=1, model=TINY))
    ckpt = tmp_path / "last.safetensors"
    assert main(["evaluate", str(phantoms), "-c", str(ckpt), "--device", "cpu", "-q"]) == 0
    table = capsys.readouterr().out
    assert "mean" in table and "L5" in table and "SDR" in table and "level-shifted images" in table
    assert main(["evaluate", str(phantoms / "dataset"), "-c", str(ckpt), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("mre_px", "median_px", "mre_pct_h", "median_pct_h", "mre_vh", "mre_mm", "level_shifted_images"):
        assert key in result
    assert result["mre_mm"] is not None  # phantoms carry spacing
    assert {row["unit"] for row in result["sdr"]} == {"%h", "mm"}
    assert len(result["per_keypoint"]) == 20 and result["images"] == 4


def test_evaluate_perfect_predictions_score_zero(phantoms, monkeypatch):
    """With a stand-in network that outputs the true targets of whatever view the predictor
    shows it (both passes), every error is ~0."""
    from vam_gui.model import evaluate as ev
    from vam_gui.model import predictor as pr
    from vam_gui.model.targets import gaussian_heatmaps
    from vam_testing import tiny_config

    doc = json.loads((phantoms / "labels.json").read_text())
    truths = [np.array([[k["x"], k["y"]] for k in e["keypoints"]], dtype=np.float64) for e in doc["images"]]
    boxes, image_no = [], [-1]
    real_prepare = pr.prepare

    def recording_prepare(pixels, config, *, crop=None, **kw):
        tensor, box = real_prepare(pixels, config, crop=crop, **kw)
        if crop is None:
            image_no[0] += 1  # the first pass of the next image
        boxes.append((image_no[0], box))
        return tensor, box

    class Oracle(torch.nn.Module):
        def forward(self, x):
            shown, boxes[:] = boxes[-x.shape[0]:], []
            xy = torch.tensor(np.stack([box.to_model(truths[i]) for i, box in shown])).float()
            return gaussian_heatmaps(xy, tuple(x.shape[-2:]))

    monkeypatch.setattr(pr, "prepare", recording_prepare)
    crops = []
    real_refine = pr.Predictor.refine_crop
    monkeypatch.setattr(pr.Predictor, "refine_crop",
                        lambda self, *a, **k: crops.append(real_refine(self, *a, **k)) or crops[-1])
    # A tall input: a crop around L1-L5 is then closer than the whole film, so pass 2 runs.
    result = ev.evaluate((Oracle(), tiny_config(input_size=[128, 64])), phantoms, device="cpu")
    assert result["images"] == 4 and any(c is not None for c in crops)  # the second pass ran
    assert result["mre_pct_h"] < 0.02 and result["level_shifted_images"] == 0
    assert all(row["rate"] == 1.0 for row in result["sdr"])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_training_with_two_cpu_processes(phantoms, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
           str(_free_port()), "-m", "vam_gui", "train", str(phantoms / "dataset"), "--out", str(out),
           "--epochs", "1", "--batch-size", "1", "--device", "cpu", "--d-model", "32", "--bridge-layers", "1",
           "--vam-layers", "1", "--decoder-channels", "16,16,8,8", "--threads", "1", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    # 3 training items over 2 ranks with batch 1: each rank takes 2 steps
    assert summary["epochs_done"] == 1 and summary["steps"] == 2
    from vam_gui.model import load_checkpoint

    load_checkpoint(out / "last.safetensors")


def test_synth_is_deterministic_and_writes_dicom_and_study(tmp_path):
    from vam_gui.io import Study, load_radiograph
    from vam_gui.io.synth import synthesize

    a = synthesize(tmp_path / "a", 3, seed=5, dicom=True, study=True, difficulty=0.5)
    b = synthesize(tmp_path / "b", 3, seed=5, dicom=True, difficulty=0.5)
    la, lb = (json.loads(open(x["labels"]).read()) for x in (a, b))
    assert [i["keypoints"] for i in la["images"]] == [i["keypoints"] for i in lb["images"]]
    rads = [load_radiograph(tmp_path / "a" / e["file"]) for e in la["images"]]
    assert any(r.photometric == "MONOCHROME1" for r in rads)
    for r, e in zip(rads, la["images"]):
        assert r.spacing == pytest.approx(tuple(e["spacing"]), rel=1e-5)
        # bone is bright whatever the photometric interpretation: the corner region of L3 is
        # brighter than the image median
        x, y = e["keypoints"][9]["x"], e["keypoints"][9]["y"]
        assert r.pixels[int(y) + 4, int(x) - 4] > np.median(r.pixels)
    with Study.open(a["study"]) as study:
        assert len(study.image_ids()) == 3
        first = study.image_ids()[0]
        assert study.status(first).status == "accepted"
        assert np.allclose(study.annotation(first).xy[:, 0],
                           [k["x"] for k in la["images"][0]["keypoints"]])


def test_augmentation_moves_points_with_the_image():
    from vam_gui.core.schema import load_schema
    from vam_gui.model import dark_decode, gaussian_heatmaps
    from vam_gui.model.augment import Augment, flip_permutation

    schema = load_schema("lumbar-ap-20")
    perm = flip_permutation(schema)
    assert schema.keypoints[perm[0]] == "L1-UR" and schema.keypoints[perm[2]] == "L1-LR"
    assert (perm[perm] == np.arange(20)).all()
    lat = load_schema("lumbar-lat-22")
    assert (flip_permutation(lat) == np.arange(22)).all()  # anatomical names: no swap

    xy = np.array([[40.3, 50.2], [80.7, 55.1]] + [[64.0, 64.0]] * 18)
    img = gaussian_heatmaps(torch.tensor(xy[:1]).float(), 128, sigma=3.0)[0].numpy()
    aug = Augment(schema, 128, strength=0.0)  # geometry only, no appearance changes
    for seed in range(6):
        out, moved, vis = aug(img.copy(), xy.copy(), np.ones(20, bool), np.random.default_rng(seed))
        found = dark_decode(torch.from_numpy(out)[None, None], sigma=3.0)[0][0, 0].numpy()
        # the blob drawn at keypoint 0 is where keypoint 0 went, or where its flip partner went
        assert min(np.abs(found - moved[0]).max(), np.abs(found - moved[perm[0]]).max()) < 0.15


def test_dataset_items(phantoms):
    from vam_gui.model.dataset import VamDataset

    ds = VamDataset(phantoms / "dataset")
    item = ds[0]
    assert item["image"].shape == (3, 128, 128) and item["targets"].shape == (20, 128, 128)
    assert item["xy"].shape == (20, 2) and item["visible"].dtype == torch.bool
    assert torch.isfinite(item["mm_per_px"])
    regenerated = VamDataset(phantoms / "dataset", sigma=2.0 + 1e-9)[0]["targets"]
    assert (regenerated - item["targets"]).abs().max() < 2e-3  # float16 storage
    small = VamDataset(phantoms / "dataset", size=64)[0]
    assert small["image"].shape == (3, 64, 64)
    assert torch.allclose(small["xy"], (item["xy"] + 0.5) * 0.5 - 0.5, atol=1e-5)
    assert {e["split"] for e in ds.entries} <= {"train", "val"}


def test_shipped_demo_model_is_accurate_on_unseen_phantoms(tmp_path):
    """The bundled demo model (spine-ap-68, trained on phantom seeds 0..1399) on seeds it never
    saw, read out as a lumbar study through the full two-pass predictor."""
    from vam_gui.core.resources import resource_path
    from vam_gui.io.synth import synthesize
    from vam_gui.model.evaluate import evaluate

    demo = resource_path("models", "demo.safetensors")
    assert demo.is_file() and demo.stat().st_size <= 20 * 1024 * 1024
    synthesize(tmp_path, 4, schema="spine-ap-68", seed=950000)
    result = evaluate(demo, tmp_path, schema="lumbar-ap-20", device="cpu")
    assert result["images"] == 4
    assert result["mre_pct_h"] <= 1.0, result["mre_pct_h"]
    assert result["level_shifted_images"] == 0, result["level_shifted"]


def test_train_accepts_a_folder_of_images_with_labels_json(tmp_path):
    """A synth folder without a dataset (images + labels.json) is converted once, then trained."""
    from vam_gui.io.synth import synthesize
    from vam_gui.model.cli_commands import resolve_dataset

    synthesize(tmp_path / "s", 3, seed=77, difficulty=0.2)
    dataset = resolve_dataset(tmp_path / "s", size=64)
    assert dataset == tmp_path / "s" / "dataset-S64" and (dataset / "manifest.json").is_file()
    assert resolve_dataset(tmp_path / "s", size=64) == dataset  # reused, not rebuilt
    assert main(["train", str(tmp_path / "s"), "--out", str(tmp_path / "run"), "--size", "64", "--epochs", "1",
                 "--batch-size", "2", "--max-steps", "1", "--d-model", "32", "--bridge-layers", "1",
                 "--vam-layers", "1", "--decoder-channels", "16,16,8,8", "-q"]) == 0
    assert (tmp_path / "run" / "last.safetensors").is_file()
