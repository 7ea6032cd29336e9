"""The display window is computed only where it is displayed: reading a radiograph for
prediction (or for a study) never computes it; the first read of ``window`` does, once."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vam_gui.core import radiograph as core_radiograph
from vam_gui.core.radiograph import Radiograph, Window
from vam_gui.io.dicom_write import dx_dataset
from vam_gui.io.radiograph import load_radiograph


@pytest.fixture
def calls(monkeypatch):
    """Counts the calls of Window.from_pixels (the percentile window of the pixels)."""
    counted: list[int] = []
    original = Window.from_pixels.__func__

    def counting(cls, pixels, *args, **kwargs):
        counted.append(1)
        return original(cls, pixels, *args, **kwargs)

    monkeypatch.setattr(core_radiograph.Window, "from_pixels", classmethod(counting))
    return counted


def test_loading_a_png_computes_no_window_until_it_is_shown(tmp_path, calls):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 65535, (300, 200), dtype=np.uint16))
    rad = load_radiograph(path)
    assert calls == []
    window = rad.window
    assert calls == [1] and window == Window.from_pixels(rad.pixels)
    assert rad.window is window and len(calls) == 2  # kept: the second read computes nothing


def test_a_dicom_without_voi_tags_computes_no_window_until_it_is_shown(tmp_path, calls):
    arr = np.random.default_rng(1).integers(0, 4096, (64, 48), dtype=np.uint16)
    path = tmp_path / "a.dcm"
    dx_dataset(arr, spacing=(0.1, 0.1), bits_stored=12).save_as(path, enforce_file_format=True)
    rad = load_radiograph(path)
    assert calls == []
    assert rad.window.width > 0 and calls == [1]


def test_a_dicom_window_from_its_tags_is_kept(tmp_path, calls):
    arr = np.random.default_rng(2).integers(0, 4096, (64, 48), dtype=np.uint16)
    path = tmp_path / "b.dcm"
    dx_dataset(arr, spacing=(0.1, 0.1), bits_stored=12, window=(2000, 1000)).save_as(path, enforce_file_format=True)
    assert load_radiograph(path).window == Window(2000, 1000) and calls == []


def test_prediction_of_files_computes_no_window(tmp_path, calls, tiny_model_config):
    import torch

    from vam_gui.model import Predictor, build_model
    from vam_gui.model.batch_predict import predict_files

    paths = []
    for i in range(2):
        paths.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(paths[-1]), np.random.default_rng(i).integers(0, 255, (80, 60), dtype=np.uint8))
    torch.manual_seed(0)
    predictor = Predictor((build_model(tiny_model_config), tiny_model_config), device="cpu", refine=False)
    result, _ = predict_files(paths, predictor, keep_names=True)
    assert len(result["images"]) == 2 and calls == []


def test_a_window_given_must_be_a_window():
    with pytest.raises(TypeError, match="window must be a Window"):
        Radiograph(pixels=np.zeros((2, 2), np.uint16), spacing=None, window=(1, 2), photometric="MONOCHROME2",
                   image_id="i", source=None)


def test_the_window_of_integer_pixels_is_numpys_percentile_to_the_last_bit():
    """Window.from_pixels takes the percentiles of 8/16-bit pixels from a histogram: the same
    values, bit for bit, as np.percentile of the float64 sample."""
    from vam_gui.core.percentiles import integer_percentiles

    rng = np.random.default_rng(3)
    for trial in range(600):
        n = int(rng.integers(1, 2000))
        values = [rng.integers(0, 65536, n), rng.integers(0, 256, n), np.clip(rng.normal(30000, 40, n), 0, 65535),
                  rng.integers(0, 3, n)][trial % 4].astype(np.uint8 if trial % 4 == 1 else np.uint16)
        pcts = (0.5, 99.5) if trial % 2 else tuple(rng.uniform(0, 100, 2))
        assert integer_percentiles(values, pcts) == list(np.percentile(values.astype(np.float64), pcts))
    big = rng.integers(0, 4096, (1500, 1100)).astype(np.uint16)  # subsampled: a strided view
    lo, hi = np.percentile(big[::2, ::2].astype(np.float64), [0.5, 99.5])
    assert Window.from_pixels(big) == Window.from_bounds(lo, hi)
