"""Predictor and `vam-gui predict`: coordinates come back in original pixels."""

import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn

from vam_gui.cli import main
from vam_gui.core.letterbox import Letterbox
from vam_gui.model import Predictor, build_model, gaussian_heatmaps, save_checkpoint
from vam_gui.model.batch_predict import expand_inputs, parse_shard, select_shard
from vam_testing import tiny_config


class KnownHeatmaps(nn.Module):
    """Stands in for a perfect network: Gaussians at known model-pixel positions."""

    def __init__(self, xy_model, size):
        super().__init__()
        self.xy = torch.as_tensor(xy_model, dtype=torch.float32)
        self.size = size

    def forward(self, x):
        return gaussian_heatmaps(self.xy.expand(x.shape[0], -1, -1), self.size)


@pytest.mark.parametrize("h,w", [(300, 200), (180, 640), (128, 128)])
def test_predictor_maps_back_to_original_pixels(h, w):
    config = tiny_config(input_size=128)
    rng = np.random.default_rng(0)
    box = Letterbox.fit(h, w, 128)
    # keypoints at least 8 model px inside the square, where DARK's patch sees no border
    lo = box.to_original(np.array([8.0, 8.0]))
    hi = box.to_original(np.array([119.0, 119.0]))
    lo, hi = np.maximum(lo, 0), np.minimum(hi, [w - 1, h - 1])
    truth = rng.uniform(lo, hi, size=(20, 2))
    predictor = Predictor((KnownHeatmaps(box.to_model(truth), 128), config), device="cpu")
    pred = predictor.predict(rng.random((h, w)).astype(np.float32))
    assert pred.xy.shape == (20, 2)
    assert np.abs(pred.xy - truth).max() < 0.01 / box.scale
    assert pred.letterbox == box
    assert pred.heatmaps.shape == (20, 128, 128)
    # spread in original pixels: sigma = 2 model px is 2 / s original px
    assert np.allclose(pred.spread, 2.0 / box.scale, rtol=0.05)
    assert pred.keypoints[0] == "L1-UL" and len(pred.keypoints) == 20


def test_predict_many_progress_and_cancel():
    config = tiny_config()
    predictor = Predictor((build_model(config), config), device="cpu")
    images = [np.random.rand(50, 40).astype(np.float32) for _ in range(5)]
    seen = []
    preds = predictor.predict_many(images, batch_size=2, progress=lambda d, t: seen.append((d, t)))
    assert len(preds) == 5 and seen[-1] == (5, 5)
    stop = iter([False, True])
    preds = predictor.predict_many(images, batch_size=2, cancel=lambda: next(stop))
    assert len(preds) == 2


def test_explicit_cuda_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    config = tiny_config()
    with pytest.raises(ValueError, match="CUDA was requested"):
        Predictor((build_model(config), config), device="cuda")


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    config = tiny_config()
    return save_checkpoint(tmp_path / "tiny.safetensors", build_model(config), config)


def write_png(path, h, w, bits=8):
    rng = np.random.default_rng(abs(hash(path.name)) % 1000)
    dtype = np.uint8 if bits == 8 else np.uint16
    img = rng.integers(0, np.iinfo(dtype).max, size=(h, w), dtype=dtype)
    cv2.imwrite(str(path), img)
    return path


def test_cli_predict_png(tmp_path, checkpoint):
    png = write_png(tmp_path / "spine.png", 240, 160, bits=16)
    out = tmp_path / "preds.json"
    assert main(["predict", str(png), "--checkpoint", str(checkpoint), "--out", str(out), "-q",
                 "--device", "cpu"]) == 0
    result = json.loads(out.read_text())
    assert result["schema"] == "lumbar-ap-20" and not result["errors"]
    [image] = result["images"]
    assert image["width"] == 160 and image["height"] == 240
    names = [p["name"] for p in image["keypoints"]]
    assert names == [f"L{v}-{c}" for v in range(1, 6) for c in ("UL", "UR", "LL", "LR")]
    # the same numbers as the Python API, in original pixels
    from vam_gui.io import load_radiograph

    expected = Predictor(checkpoint, device="cpu").predict(load_radiograph(png)).xy
    got = np.array([[p["x"], p["y"]] for p in image["keypoints"]])
    assert np.abs(got - expected).max() < 1e-3
    box = Letterbox.fit(240, 160, 64)
    assert np.all(got[:, 0] >= box.to_original([[-0.5, 0]])[0, 0] - 1e-6)
    assert np.all(got[:, 0] <= box.to_original([[63.5, 0]])[0, 0] + 1e-6)


def test_cli_predict_skips_bad_files_and_shards(tmp_path, checkpoint):
    folder = tmp_path / "archive"
    (folder / "sub").mkdir(parents=True)
    for i in range(5):
        write_png(folder / ("sub" if i % 2 else ".") / f"img{i}.png", 64, 48)
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")
    files = expand_inputs([folder])
    assert len(files) == 6 and files == sorted(files, key=str)
    shards = [select_shard(files, (i, 3)) for i in range(3)]
    assert sorted(sum(shards, []), key=str) == files
    assert not set(shards[0]) & set(shards[1])

    out = tmp_path / "p.json"
    rc = main(["predict", str(folder), "-c", str(checkpoint), "-o", str(out), "-q", "--shard", "0/1"])
    result = json.loads(out.read_text())
    assert rc == 1  # one unreadable file is reported, the rest are predicted
    assert len(result["images"]) == 5
    key = json.loads(out.with_suffix(".key.json").read_text())["ids"]
    assert [key[e["id"]]["file"] for e in result["errors"]] == [str(folder / "broken.png")]
    assert result["shard"] == {"index": 0, "count": 1}


def test_cli_predict_is_pseudonymous_unless_asked(tmp_path, checkpoint):
    """Like every export: ids in the JSON, the id -> file key in a separate file beside it."""
    folder = tmp_path / "DOE^JOHN"
    folder.mkdir()
    pngs = [write_png(folder / f"scan{i}.png", 64, 48) for i in range(2)]
    out = tmp_path / "preds.json"
    assert main(["predict", str(folder), "-c", str(checkpoint), "-o", str(out), "-q", "--device", "cpu"]) == 0
    text = out.read_text()
    result = json.loads(text)
    assert result["pseudonymous"] is True
    assert "DOE^JOHN" not in text and "scan0" not in text and "sha256:" not in text
    assert all(set(im) >= {"id", "keypoints"} and "file" not in im and "image_id" not in im
               for im in result["images"])
    key = json.loads(out.with_suffix(".key.json").read_text())
    assert key["predictions"] == "preds.json"
    assert sorted(v["file"] for v in key["ids"].values()) == sorted(str(p) for p in pngs)
    assert {im["id"] for im in result["images"]} == set(key["ids"])

    kept = tmp_path / "kept.json"
    assert main(["predict", str(folder), "-c", str(checkpoint), "-o", str(kept), "-q", "--keep-names"]) == 0
    result = json.loads(kept.read_text())
    assert result["pseudonymous"] is False and not kept.with_suffix(".key.json").exists()
    assert sorted(im["file"] for im in result["images"]) == sorted(str(p) for p in pngs)


def test_parse_shard():
    assert parse_shard("2/4") == (2, 4)
    for bad in ["4/4", "-1/2", "1", "a/b", "0/0"]:
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_cli_errors_are_one_line(tmp_path, capsys, checkpoint):
    assert main(["predict", str(tmp_path / "none.png"), "-c", str(tmp_path / "no.safetensors"),
                 "-o", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vam-gui: error: checkpoint not found")
    assert main(["predict", str(tmp_path), "-c", str(checkpoint), "-o", str(tmp_path / "o.json"),
                 "--shard", "9/2"]) == 2


def test_cuda_out_of_memory_falls_back_to_cpu_with_a_warning():
    """The fallback path, driven by a model whose first call runs out of (CUDA) memory."""
    config = tiny_config()
    model = build_model(config).eval()
    real_forward = model.forward
    calls = []

    def flaky(x):
        calls.append(x.device.type)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(x)

    model.forward = flaky
    predictor = Predictor((model, config), device="cpu")
    with pytest.warns(RuntimeWarning, match="continuing on the CPU"):
        pred = predictor.predict(np.random.rand(60, 40).astype(np.float32))
    assert pred.xy.shape == (20, 2) and len(calls) == 2 and predictor.device.type == "cpu"


def test_cli_predict_refuses_an_unwritable_output_before_predicting(tmp_path, capsys, checkpoint):
    png = write_png(tmp_path / "a.png", 40, 30)
    assert main(["predict", str(png), "-c", str(checkpoint), "-o", str(tmp_path / "no" / "such" / "o.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a writable folder" in err[0]
