"""Letterbox geometry and the model input recipe."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vam_gui.core.letterbox import Letterbox, letterbox_image


@settings(deadline=None, max_examples=200)
@given(h=st.integers(1, 6000), w=st.integers(1, 6000), size=st.sampled_from([64, 256, 512, 1024]),
       x=st.floats(-10, 7000), y=st.floats(-10, 7000))
def test_round_trip(h, w, size, x, y):
    box = Letterbox.fit(h, w, size)
    xy = np.array([x, y])
    assert np.abs(box.to_original(box.to_model(xy)) - xy).max() < 1e-4
    assert np.abs(box.to_model(box.to_original(xy)) - xy).max() < 1e-4


@pytest.mark.parametrize("h,w", [(2000, 1500), (1500, 2000), (333, 777), (512, 512), (7, 3)])
def test_centre_lands_on_centre(h, w):
    box = Letterbox.fit(h, w, 512)
    assert np.allclose(box.to_model([(w - 1) / 2, (h - 1) / 2]), [255.5, 255.5])
    # the image edges touch the square on the long side
    x0, y0, x1, y1 = box.content_box()
    assert min(x0, y0) == pytest.approx(0) and max(x1, y1) == pytest.approx(512)


def test_identity_when_side_is_already_s():
    box = Letterbox.fit(256, 256, 256)
    pts = np.array([[0.0, 0.0], [10.0, 20.0], [255.0, 255.0]])
    assert np.allclose(box.to_model(pts), pts)
    img = np.random.default_rng(0).random((256, 256)).astype(np.float32)
    out, _ = letterbox_image(img, 256, low_pct=0, high_pct=100)
    lo, hi = img.min(), img.max()
    assert np.allclose(out, (img - lo) / (hi - lo), atol=1e-5)  # pixel centres onto pixel centres


def test_pixel_edges_map_to_pixel_edges():
    box = Letterbox.fit(100, 50, 200)  # s = 2, pad_x = 50
    assert box.scale == 2 and box.pad_x == 50 and box.pad_y == 0
    # the left edge of pixel 0 (x = -0.5) lands on the left edge of model pixel 50
    assert np.allclose(box.to_model([-0.5, -0.5]), [49.5, -0.5])


@pytest.mark.parametrize("h,w", [(1600, 2000), (2000, 1371), (301, 97)])
def test_image_content_follows_the_coordinate_map(h, w):
    """A blob drawn at a known original position is found at to_model(position)."""
    from vam_gui.model import dark_decode

    sigma = max(h, w) / 60
    cx, cy = w * 0.37 + 0.3, h * 0.61 + 0.7
    yy, xx = np.mgrid[:h, :w]
    img = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)).astype(np.float32)
    out, box = letterbox_image(img, 256, low_pct=0, high_pct=100)
    assert out.shape == (256, 256) and out.dtype == np.float32
    xy = dark_decode(out[None, None], sigma=sigma * box.scale)[0].numpy()[0, 0]
    assert np.abs(xy - box.to_model([cx, cy])).max() < 0.05


def test_intensity_recipe():
    rng = np.random.default_rng(0)
    img = rng.integers(1000, 3000, size=(400, 300)).astype(np.uint16)
    img[0, 0] = 65535  # a hot pixel must not set the scale
    out, box = letterbox_image(img, 128)
    x0, y0, x1, y1 = box.content_box()
    assert out.min() >= 0 and out.max() <= 1
    assert out[:, : int(x0) - 1].max() == 0 and out[:, int(np.ceil(x1)) + 1:].max() == 0  # zero padding
    inside = out[int(y0) + 2: int(y1) - 2, int(x0) + 2: int(x1) - 2]
    assert 0.4 < inside.mean() < 0.6


def test_bad_input():
    with pytest.raises(ValueError):
        letterbox_image(np.zeros((0, 5)), 64)
    with pytest.raises(ValueError):
        letterbox_image(np.zeros((4, 5, 6)), 64)


def test_the_intensity_range_of_integer_pixels_is_numpys_percentile_to_the_last_bit():
    from vam_gui.core.letterbox import intensity_range

    rng = np.random.default_rng(11)
    for dtype, top in ((np.uint16, 65535), (np.uint8, 255)):
        for shape in ((7, 5), (300, 211), (1100, 1000)):
            pixels = np.clip(rng.normal(top / 2, top / 9, shape), 0, top).astype(dtype)
            flat = pixels.reshape(-1)
            sample = flat[::max(1, flat.size // (1 << 20))]
            lo, hi = np.percentile(sample.astype(np.float64), [0.5, 99.5])
            assert intensity_range(pixels) == (float(lo), float(hi))


@pytest.mark.parametrize("dtype,top", [(np.uint16, 4095), (np.uint8, 255)])
@pytest.mark.parametrize("crop", [None, (60.0, 400.0, 250.0, 800.0)])
def test_integer_pixels_give_the_input_their_float32_copy_gives(dtype, top, crop):
    """Unreduced 8/16-bit pixels take their percentiles from the integers (a histogram): the
    model input is the one their float32 copy gives, bit for bit, whole film or crop."""
    rng = np.random.default_rng(5)
    pixels = np.clip(rng.normal(top / 2, top / 7, (828, 344)), 0, top).astype(dtype)
    for size in ((256, 128), (1024, 512)):  # reduced first (a pyramid step) and not
        got, box = letterbox_image(pixels, size, crop=crop)
        want, want_box = letterbox_image(pixels.astype(np.float32), size, crop=crop)
        assert box == want_box and got.dtype == want.dtype and np.array_equal(got, want)
