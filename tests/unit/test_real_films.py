"""Real full-length films: crops and rectangular inputs, subset schemas, two-pass prediction,
fine-tuning at another size, interrupted training and evaluation in the users' units."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vam_gui.cli import main
from vam_gui.core.crop import column_crop, vertebral_height
from vam_gui.core.letterbox import Letterbox, letterbox_image
from vam_gui.core.schema import SchemaError, load_schema
from vam_testing import tiny_config

TINY_FLAGS = ["--d-model", "32", "--bridge-layers", "1", "--vam-layers", "1", "--decoder-channels", "16,16,8,8"]


@pytest.fixture(scope="module")
def spine(tmp_path_factory):
    """Three whole-column phantoms: images + labels.json, and a dataset stored at S = 128."""
    from vam_gui.io.synth import synthesize

    out = tmp_path_factory.mktemp("spine")
    synthesize(out, 3, schema="spine-ap-68", seed=21, dataset_size=128, difficulty=0.3)
    return out


def _truth(folder, i=None):
    doc = json.loads((folder / "labels.json").read_text())
    images = doc["images"] if i is None else [doc["images"][i]]
    out = [(np.array([[np.nan if k["x"] is None else k["x"], np.nan if k["y"] is None else k["y"]]
                      for k in e["keypoints"]]), e["height"], e["width"]) for e in images]
    return out if i is None else out[0]


# -- the letterbox with a crop ------------------------------------------------------------------

sizes = st.one_of(st.integers(2, 40).map(lambda n: 32 * n),
                  st.tuples(st.integers(2, 40), st.integers(2, 40)).map(lambda t: (32 * t[0], 32 * t[1])))


@st.composite
def crops(draw, height, width):
    """None, or a crop box (x0, y0, x1, y1) in pixel edges that may reach past the image."""
    if draw(st.booleans()):
        return None
    fx0, fy0 = draw(st.floats(-0.5, 1.2)), draw(st.floats(-0.5, 1.2))
    fw, fh = draw(st.floats(0.01, 1.8)), draw(st.floats(0.01, 1.8))
    x0, y0 = fx0 * width - 0.5, fy0 * height - 0.5
    return (x0, y0, x0 + max(fw * width, 0.5), y0 + max(fh * height, 0.5))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), height=st.integers(1, 6000), width=st.integers(1, 6000), size=sizes)
def test_crop_letterbox_round_trip(data, height, width, size):
    crop = data.draw(crops(height, width))
    box = Letterbox.fit(height, width, size, crop)
    out_h, out_w = (size, size) if isinstance(size, int) else size
    assert box.shape == (out_h, out_w) and box.size == max(out_h, out_w)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    p = rng.uniform(-0.5, 1.5, (16, 2)) * [width, height]
    assert np.abs(box.to_original(box.to_model(p)) - p).max() < 1e-4
    q = rng.uniform(-0.5, 1.5, (16, 2)) * [out_w, out_h]
    assert np.abs(box.to_model(box.to_original(q)) - q).max() < 1e-4
    # the crop's (or the image's) centre lands on the input's centre
    x0, y0, x1, y1 = crop if crop is not None else (-0.5, -0.5, width - 0.5, height - 0.5)
    centre = box.to_model([(x0 + x1) / 2, (y0 + y1) / 2])
    assert np.allclose(centre, [(out_w - 1) / 2, (out_h - 1) / 2], atol=1e-6)
    # the region fits inside the input and touches it on two opposite sides
    edges = box.to_model(np.array([[x0, y0], [x1, y1]])) + 0.5
    assert (edges[0] >= -1e-6).all() and edges[1][0] <= out_w + 1e-6 and edges[1][1] <= out_h + 1e-6
    assert min(abs(edges[1][0] - edges[0][0] - out_w), abs(edges[1][1] - edges[0][1] - out_h)) < 1e-6
    # OpenCV's matrix is the same map
    m = box.matrix()
    assert np.allclose(p @ m[:, :2].T + m[:, 2], box.to_model(p), atol=1e-6)
    # records survive, also through JSON
    assert Letterbox.from_dict(box.to_dict()) == box
    assert Letterbox.from_dict(json.loads(json.dumps(box.to_dict()))) == box
    assert box.rescaled(size) == box
    cx0, cy0, cx1, cy1 = box.content_box()
    assert 0 <= cx0 <= cx1 <= out_w and 0 <= cy0 <= cy1 <= out_h
    # a crop that is exactly the image is the plain letterbox
    assert Letterbox.fit(height, width, size, (-0.5, -0.5, width - 0.5, height - 0.5)) == \
        Letterbox.fit(height, width, size)
    assert box.is_crop == (crop is not None and box != Letterbox.fit(height, width, size))


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 6000), width=st.integers(1, 6000), size=st.integers(2, 40).map(lambda n: 32 * n))
def test_old_letterbox_records_load_as_the_plain_letterbox(height, width, size):
    box = Letterbox.fit(height, width, size)
    old = {k: box.to_dict()[k] for k in ("size", "height", "width", "scale", "pad_x", "pad_y")}
    loaded = Letterbox.from_dict(old)
    assert loaded == box and not loaded.is_crop and loaded.shape == (size, size)
    p = np.array([[0.0, 0.0], [width - 1.0, height - 1.0], [width / 3, height / 7]])
    assert np.allclose(loaded.to_model(p), (p + 0.5) * box.scale - 0.5 + [box.pad_x, box.pad_y])


@pytest.mark.parametrize("crop,position", [
    ((100.3, 150.7, 300.2, 550.9), (201.37, 402.81)),  # inside the image
    ((-60.0, 300.0, 140.0, 700.0), (60.3, 420.6)),  # reaches past the left and bottom edges
    ((250.5, -40.2, 450.5, 359.8), (390.6, 75.45)),  # past the top and right edges
])
def test_letterbox_image_with_a_crop_puts_a_blob_where_the_box_says(crop, position):
    from vam_gui.model.dark import dark_decode

    h, w, size = 600, 400, (256, 128)
    box = Letterbox.fit(h, w, size, crop)
    sigma_model = 2.0
    sigma = sigma_model / box.scale  # the blob is sigma_model wide in the input
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.exp(-((xx - position[0]) ** 2 + (yy - position[1]) ** 2) / (2 * sigma ** 2)).astype(np.float32)
    out, got = letterbox_image(img, size, crop=crop, low_pct=0.0, high_pct=100.0)
    assert got == box and out.shape == size and out.dtype == np.float32
    found = dark_decode(torch.from_numpy(out)[None, None], sigma=sigma_model)[0][0, 0].numpy()
    assert np.abs(found - box.to_model(position)).max() < 0.05
    # outside the image is padding (0)
    cx0, _, _, cy1 = box.content_box()
    if cx0 >= 1:
        assert (out[:, : int(cx0) - 1] == 0).all()
    if cy1 <= size[0] - 1:
        assert (out[int(np.ceil(cy1)) + 1:] == 0).all()


# -- where the second pass looks -----------------------------------------------------------------

@pytest.mark.parametrize("out_hw", [(128, 64), (256, 128), (64, 128), (96, 96)])
def test_column_crop_holds_the_points_with_margin_and_the_input_aspect(spine, out_hw):
    schema = load_schema("spine-ap-68")
    vert, corner = schema.vertebra_array(), schema.corner_array()
    for xy, h, w in _truth(spine):
        subsets = {"all": np.ones(schema.k, bool), "lumbar": vert >= 12, "T11-L1": (vert >= 10) & (vert <= 12),
                   "some points": (np.arange(schema.k) % 7 != 3) & (vert >= 4)}
        for name, keep in subsets.items():
            pts = np.where(keep[:, None], xy, np.nan)
            crop = column_crop(pts, vert, corner, out_hw)
            vh = vertebral_height(pts, vert, corner)
            assert crop is not None and vh is not None and vh > 5, name
            x0, y0, x1, y1 = crop
            known = pts[keep]
            assert x0 <= known[:, 0].min() - vh and x1 >= known[:, 0].max() + vh, name
            assert y0 <= known[:, 1].min() - vh and y1 >= known[:, 1].max() + vh, name
            assert (y1 - y0) / (x1 - x0) == pytest.approx(out_hw[0] / out_hw[1], rel=1e-9), name
            # fitted into the input, the crop fills it exactly
            box = Letterbox.fit(h, w, out_hw, crop)
            e = box.to_model(np.array([[x0, y0], [x1, y1]])) + 0.5
            assert np.allclose(e, [[0, 0], [out_hw[1], out_hw[0]]], atol=1e-6), name
    one = np.full((schema.k, 2), np.nan)
    one[0] = (10.0, 10.0)
    assert column_crop(one, vert, corner, (128, 64)) is None  # one point says nothing about extent


# -- subset schemas --------------------------------------------------------------------------------

def test_lumbar_is_a_subset_of_the_whole_column_by_name():
    lumbar, spine, lateral = load_schema("lumbar-ap-20"), load_schema("spine-ap-68"), load_schema("lumbar-lat-22")
    idx = lumbar.indices_in(spine)
    assert idx.tolist() == list(range(48, 68))
    assert [spine.keypoints[i] for i in idx] == list(lumbar.keypoints)
    assert lumbar.is_subset_of(spine) and not spine.is_subset_of(lumbar)
    assert lumbar.is_subset_of(lumbar) and lumbar.indices_in(lumbar).tolist() == list(range(20))
    assert not lateral.is_subset_of(spine)
    with pytest.raises(SchemaError, match="different views"):
        lateral.indices_in(spine)
    with pytest.raises(SchemaError, match="not a subset"):
        spine.indices_in(lumbar)


# -- two-pass prediction ---------------------------------------------------------------------------

def _lumbar_column(centre=(150.0, 200.0), height=20.0, width=30.0, gap=6.0):
    """L1-L5 corners (UL, UR, LL, LR per vertebra) of an upright, compact column."""
    pts = []
    top = centre[1] - 2.5 * height - 2 * gap
    for v in range(5):
        y0 = top + v * (height + gap)
        for x, y in ((-width / 2, 0.0), (width / 2, 0.0), (-width / 2, height), (width / 2, height)):
            pts.append((centre[0] + x, y0 + y))
    return np.array(pts)


def test_predictor_subset_schema_rectangular_input_and_crop_pass(monkeypatch):
    from vam_gui.model import Predictor, build_model
    from vam_gui.model.predictor import SEARCH_RADIUS

    lumbar, spine = load_schema("lumbar-ap-20"), load_schema("spine-ap-68")
    config = tiny_config(schema="spine-ap-68", input_size=[128, 64])
    assert config.input_hw == (128, 64)
    model = build_model(config)
    img = np.random.default_rng(0).random((400, 300)).astype(np.float32)

    full = Predictor((model, config), device="cpu", refine=False).predict(img)
    assert full.xy.shape == (68, 2) and full.keypoints == spine.keypoints and full.heatmaps.shape == (68, 128, 64)
    one = Predictor((model, config), device="cpu", refine=False).predict(img, schema=lumbar)
    assert one.xy.shape == (20, 2) and one.keypoints == lumbar.keypoints
    assert one.heatmaps.shape == (20, 128, 64) and not one.letterbox.is_crop
    assert np.array_equal(one.heatmaps, full.heatmaps[48:68]) and np.allclose(one.xy, full.xy[48:68])

    # Pass 1 finds a compact column: pass 2 looks again at a crop around it.
    column = _lumbar_column()
    real_pass, crops_seen = Predictor._pass, []

    def first_pass_finds_the_column(self, images, crops, schema, priors=None):
        preds = real_pass(self, images, crops, schema, priors)
        crops_seen.append(list(crops))
        if all(c is None for c in crops):
            for p in preds:
                p.xy = column.copy()
        return preds

    monkeypatch.setattr(Predictor, "_pass", first_pass_finds_the_column)
    two = Predictor((model, config), device="cpu", schema=lumbar).predict(img)
    assert two.xy.shape == (20, 2) and two.keypoints == lumbar.keypoints and two.heatmaps.shape == (20, 128, 64)
    assert two.letterbox.is_crop and two.letterbox.shape == (128, 64)
    expected = column_crop(column, lumbar.vertebra_array(), lumbar.corner_array(), (128, 64))
    assert crops_seen[-1] == [expected] and two.letterbox == Letterbox.fit(400, 300, (128, 64), expected)
    assert two.letterbox.scale > 2 * one.letterbox.scale  # closer than the whole film
    inside = two.letterbox.to_model(column)
    assert (inside >= 0).all() and (inside[:, 0] <= 63).all() and (inside[:, 1] <= 127).all()

    # The second pass keeps every corner within its search window around the first pass's point
    # (or falls back to that point): a random network cannot hand a corner to a neighbour.
    height = vertebral_height(column, lumbar.vertebra_array(), lumbar.corner_array())
    radius_px = max(SEARCH_RADIUS * height, 3 * config.sigma / two.letterbox.scale)
    assert np.hypot(*(two.xy - column).T).max() <= radius_px

    crops_seen.clear()
    single = Predictor((model, config), device="cpu", schema=lumbar, refine=False).predict(img)
    assert crops_seen == [[None]] and not single.letterbox.is_crop

    with pytest.raises(SchemaError):
        Predictor((model, config), device="cpu", schema=load_schema("lumbar-lat-22"))


# -- training ----------------------------------------------------------------------------------

def test_train_init_at_another_size_and_schema(spine, tmp_path):
    from vam_gui.model import build_model, load_checkpoint, save_checkpoint
    from vam_gui.model.transfer import transfer_state

    torch.manual_seed(0)
    src_config = tiny_config(input_size=64)  # lumbar-ap-20
    src = build_model(src_config)
    ck = save_checkpoint(tmp_path / "lumbar64.safetensors", src, src_config)

    # the transfer itself: L1-L5 carried over by name, the query grid resampled
    dst_config = tiny_config(schema="spine-ap-68", input_size=[96, 64])
    dst = build_model(dst_config)
    state, counts = transfer_state(src.state_dict(), src_config, dst.state_dict(), dst_config)
    dst.load_state_dict(state)
    assert counts["resampled"] == 2 and counts["mapped"] >= 1 and counts["copied"] > 0
    w_src = src.decoder.query_to_spatial.channel_proj.weight
    w_dst = dst.decoder.query_to_spatial.channel_proj.weight
    assert torch.equal(w_dst[:, 48:68], w_src) and w_dst.shape[1] == 68
    assert dst.decoder.query_to_spatial.query_proj.weight.shape[0] == 3 * 2

    # and through the command line: 2 steps at 96x64 on whole-column data
    out = tmp_path / "run"
    assert main(["train", str(spine / "dataset"), "--out", str(out), "--init", str(ck), "--size", "96x64",
                 "--epochs", "1", "--max-steps", "2", "--batch-size", "1", "--device", "cpu", "--threads", "1",
                 "-q"]) == 0
    model, config = load_checkpoint(out / "last.safetensors")
    assert config.input_size == [96, 64] and config.input_hw == (96, 64) and config.schema == "spine-ap-68"
    assert config.training["steps"] == 2
    init = config.training["init"]
    assert init["from"] == str(ck) and init["transfer"]["resampled"] >= 1 and init["transfer"]["mapped"] >= 1
    assert model(torch.zeros(1, 3, 96, 64)).shape == (1, 68, 96, 64)


def test_sigterm_stops_training_with_a_loadable_checkpoint(spine, tmp_path):
    from vam_gui.model import load_checkpoint

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "vam_gui", "train", str(spine / "dataset"), "--out", str(out), "--size", "64",
           "--epochs", "100000", "--batch-size", "1", "--device", "cpu", "--threads", "1", "-q", *TINY_FLAGS]
    log = tmp_path / "stderr.txt"
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        try:
            metrics = out / "metrics.csv"
            deadline = time.monotonic() + 50
            while proc.poll() is None and time.monotonic() < deadline:
                if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:  # one epoch done
                    break
                time.sleep(0.2)
            assert proc.poll() is None, log.read_text()[-3000:]
            assert len(metrics.read_text().splitlines()) >= 2, "no epoch finished in time"
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert rc == 130, log.read_text()[-3000:]
    assert "interrupted" in log.read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["steps"] >= 2
    _, config = load_checkpoint(out / "last.safetensors")
    assert config.schema == "spine-ap-68" and config.input_size == 64
    assert (out / "train_state.pt").is_file()


def test_max_minutes_anneals_the_learning_rate_to_the_deadline():
    from vam_gui.model.train import TrainOptions, _lr_factor, _progress

    timed = TrainOptions(dataset="d", out="o", max_minutes=10.0)
    untimed = TrainOptions(dataset="d", out="o")
    # by steps alone the run would be 10 % through; the clock says 50 %
    assert _progress(100, 1000, 5.0, timed) == pytest.approx(0.5)
    assert _progress(100, 1000, 5.0, untimed) == pytest.approx(0.1)
    assert _progress(900, 1000, 1.0, timed) == pytest.approx(0.9)  # steps first: they win
    assert _progress(100, 1000, 12.0, timed) == 1.0
    warm = 10
    assert _lr_factor(0, 0.0, warm) == pytest.approx(0.1) and _lr_factor(9, 0.0, warm) == pytest.approx(1.0)
    assert _lr_factor(50, 0.0, warm) == pytest.approx(1.0)
    assert _lr_factor(50, 0.5, warm) == pytest.approx(0.5)
    at_deadline = _lr_factor(100, _progress(100, 1000, 10.0, timed), warm)
    assert at_deadline == pytest.approx(0.0, abs=1e-12)
    factors = [_lr_factor(100, _progress(100, 1000, m, timed), warm) for m in np.linspace(0, 10, 21)]
    assert all(a >= b for a, b in pairwise(factors))  # decays monotonically with the clock


def _blob_centre(img, sigma):
    """Intensity centroid in a window of 4 sigma around the brightest pixel; None when the
    window does not fit in the image."""
    r = math.ceil(4 * sigma) + 1
    h, w = img.shape
    cy, cx = np.unravel_index(np.argmax(img), img.shape)
    ya, yb, xa, xb = cy - r, cy + r + 1, cx - r, cx + r + 1
    if ya < 0 or xa < 0 or yb > h or xb > w:
        return None
    yy, xx = np.mgrid[ya:yb, xa:xb]
    wgt = img[ya:yb, xa:xb].astype(np.float64)
    return np.array([(wgt * xx).sum(), (wgt * yy).sum()]) / wgt.sum()


def test_crop_views_move_points_with_the_image(tmp_path):
    """A blob drawn at keypoint 0 in the stored image is where the sample says keypoint 0 is
    (or its flip partner), for crop views with rotation, scale, shift and flips."""
    import cv2

    from vam_gui.io.dataset import DatasetSource, entry_arrays, write_dataset
    from vam_gui.model.augment import Augment, Views, flip_permutation
    from vam_gui.model.dataset import VamDataset
    from vam_gui.synth import make_phantom

    schema = load_schema("lumbar-ap-20")
    ph = make_phantom(schema, seed=4, difficulty=0.3)
    write_dataset([DatasetSource("a", ph.pixels, ph.xy, ph.visible, ph.spacing)], tmp_path, schema, size=256,
                  sigma=2.0, targets=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    xy_stored, _, stored = entry_arrays(manifest["items"][0], schema.k)
    blob_sigma = 3.0  # stored px
    yy, xx = np.mgrid[0:256, 0:256]
    blob = np.exp(-((xx - xy_stored[0, 0]) ** 2 + (yy - xy_stored[0, 1]) ** 2) / (2 * blob_sigma ** 2))
    cv2.imwrite(str(tmp_path / manifest["items"][0]["image"]), np.round(blob * 65535).astype(np.uint16))

    out_hw = (128, 64)
    perm = flip_permutation(schema)
    ds = VamDataset(tmp_path, size=out_hw, views=Views(schema, out_hw, crop_p=1.0),
                    augment=Augment(schema, out_hw, strength=0.0))
    checked = crops = 0
    for seed in range(24):
        img, xy, visible, view = ds.sample(0, np.random.default_rng(seed))
        assert img.shape == out_hw and xy.shape == (20, 2)
        crops += view.is_crop
        inside = np.isfinite(xy).all(axis=1) & (xy >= 0).all(axis=1) & (xy[:, 0] <= 63) & (xy[:, 1] <= 127)
        assert (visible <= inside).all()  # points that left the view are not trained on
        sigma = blob_sigma * view.scale / stored.scale * 1.1
        cands = [xy[i] for i in (0, perm[0]) if visible[i]]
        if not cands or img.max() < 0.5:  # keypoint 0 (the blob) left the view
            continue
        found = _blob_centre(img, sigma)
        if found is None:  # too near the edge to measure
            continue
        assert min(np.abs(found - c).max() for c in cands) < 0.05, (seed, found, cands)
        checked += 1
    assert crops >= 20 and checked >= 8, (crops, checked)
    # and the item a trainer sees: targets on the moved points
    item = ds[0]
    assert item["image"].shape == (3, 128, 64) and item["targets"].shape == (20, 128, 64)


# -- evaluation ----------------------------------------------------------------------------------

def test_evaluate_a_labels_folder_from_the_command_line(spine, tmp_path, capsys):
    from vam_gui.model import build_model, save_checkpoint

    config = tiny_config(schema="spine-ap-68", input_size=[128, 64])
    ck = save_checkpoint(tmp_path / "tiny.safetensors", build_model(config), config)
    assert main(["evaluate", str(spine), "-c", str(ck), "--json", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("mre_pct_h", "median_pct_h", "level_shifted_images", "images", "mre_px", "sdr", "per_vertebra"):
        assert key in result, key
    assert result["images"] == 3 and result["schema"] == "spine-ap-68" and len(result["per_keypoint"]) == 68
    assert result["input_size"] == [128, 64] and result["refine"] is True

    assert main(["evaluate", str(spine), "-c", str(ck), "--json", "--schema", "lumbar-ap-20", "--sdr", "0.5,1%h",
                 "--no-refine"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["schema"] == "lumbar-ap-20" and result["model_schema"] == "spine-ap-68"
    assert [k["name"] for k in result["per_keypoint"]] == list(load_schema("lumbar-ap-20").keypoints)
    assert [(s["threshold"], s["unit"]) for s in result["sdr"]] == [(0.5, "%h"), (1.0, "%h")]
    assert result["points"] == 3 * 20 and result["refine"] is False
    assert isinstance(result["level_shifted_images"], int) and result["mre_pct_h"] > 0


def test_train_on_a_labels_folder_keeps_the_default_input_size(spine, tmp_path, monkeypatch):
    """Films are stored large (--store-size) for the crops, but a new run's input is not the stored S."""
    import shutil

    import vam_gui.model.train as train_module

    folder = tmp_path / "films"
    shutil.copytree(spine / "images", folder / "images")
    shutil.copy(spine / "labels.json", folder / "labels.json")
    seen = []
    monkeypatch.setattr(train_module, "train", lambda opts, progress=None: seen.append(opts) or {"steps": 0})
    base = ["train", str(folder), "--out", str(tmp_path / "run"), "--store-size", "192", "-q"]
    assert main(base) == 0 and main([*base, "--size", "128x64"]) == 0
    assert seen[0].dataset == str(folder / "dataset-S192") and seen[0].model["input_size"] == 256
    assert seen[1].model["input_size"] == [128, 64]
    assert main([*base, "--init", "model.safetensors"]) == 0
    assert "input_size" not in seen[2].model  # --init keeps the checkpoint's size
