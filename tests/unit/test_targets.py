"""Gaussian targets against the seed's loop."""

import numpy as np
import pytest
import torch

from vam_gui.model import gaussian_heatmaps
from vam_gui.model.targets import reference_heatmaps_loop


def test_matches_seed_loop_everywhere():
    gen = torch.Generator().manual_seed(3)
    # sub-pixel centres all over the map, on the border and a little outside it
    xy = torch.rand(3, 20, 2, generator=gen) * 140 - 6
    ours = gaussian_heatmaps(xy, 128)
    ref = reference_heatmaps_loop(xy, 128, 128)
    assert ours.shape == ref.shape == (3, 20, 128, 128)
    assert (ours - ref).abs().max().item() < 1e-3


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.5])
def test_matches_seed_loop_for_other_sigmas_and_rectangles(sigma):
    xy = torch.tensor([[[10.25, 40.5], [63.0, 0.0], [31.7, 22.2]]])
    ours = gaussian_heatmaps(xy, (48, 64), sigma=sigma)
    ref = reference_heatmaps_loop(xy, 48, 64, sigma=sigma)
    assert ours.shape == (1, 3, 48, 64)
    assert (ours - ref).abs().max().item() < 1e-3


def test_peak_and_pixel_convention():
    maps = gaussian_heatmaps(torch.tensor([[5.0, 9.0]]), 16)  # [K, 2] -> [K, H, W]
    assert maps.shape == (1, 16, 16)
    i, j = np.unravel_index(int(maps[0].argmax()), (16, 16))
    assert (i, j) == (9, 5)  # pixel (row 9, column 5) is centred at x = 5, y = 9
    assert maps[0, 9, 5].item() == pytest.approx(1.0)
    assert maps[0, 9, 7].item() == pytest.approx(np.exp(-4 / 8))


def test_missing_keypoints_give_zero_maps():
    xy = torch.tensor([[[10.0, 10.0], [float("nan"), float("nan")], [20.0, 5.0]]])
    visible = torch.tensor([[True, True, False]])
    maps = gaussian_heatmaps(xy, 32, visible=visible)
    assert maps[0, 0].max() == pytest.approx(1.0)
    assert torch.count_nonzero(maps[0, 1]) == 0  # NaN coordinates
    assert torch.count_nonzero(maps[0, 2]) == 0  # not visible
    assert torch.isfinite(maps).all()


def test_numpy_input_and_dtype():
    maps = gaussian_heatmaps(np.array([[[3.0, 4.0]]]), 8, dtype=torch.float16)
    assert maps.dtype == torch.float16 and maps.shape == (1, 1, 8, 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_agrees_with_cpu():
    xy = torch.rand(2, 20, 2) * 255
    cpu = gaussian_heatmaps(xy, 256)
    gpu = gaussian_heatmaps(xy.cuda(), 256)
    assert gpu.device.type == "cuda"
    assert (gpu.cpu() - cpu).abs().max().item() < 1e-5


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.5])
def test_numpy_gaussian_window_agrees_with_torch(sigma):
    """core.gaussian (numpy, what the dataset writer uses) and the model's generator are one
    formula: same pixel convention, same values."""
    from vam_gui.core.gaussian import gaussian_windows

    gen = torch.Generator().manual_seed(5)
    xy = torch.rand(20, 2, generator=gen) * 80 - 8
    xy[4] = float("nan")
    ours = gaussian_windows(xy.numpy(), (48, 64), sigma=sigma)
    ref = gaussian_heatmaps(xy, (48, 64), sigma=sigma).numpy()
    assert ours.shape == ref.shape == (20, 48, 64) and ours.dtype == np.float32
    assert np.abs(ours - ref).max() < 1e-6
    assert not ours[4].any()
    half = gaussian_windows(xy.numpy(), 16, sigma=sigma, dtype=np.float16)
    ref_half = gaussian_heatmaps(xy, 16, sigma=sigma, dtype=torch.float16).numpy()
    assert half.dtype == np.float16 and np.array_equal(half, ref_half)


def test_sparse_targets_match_full_maps_near_each_point():
    from vam_gui.io.dataset import sparse_targets

    rng = np.random.default_rng(2)
    xy = rng.uniform(-10, 74, (20, 2))
    xy[3] = np.nan
    visible = rng.random(20) > 0.2
    sparse = sparse_targets(xy, visible, 64, 2.0).astype(np.float32)
    full = gaussian_heatmaps(torch.from_numpy(xy).float(), 64, visible=torch.from_numpy(visible)).numpy()
    # equal up to float16 rounding where the window reaches; beyond it the full map is < exp(-8)
    assert np.abs(sparse - full).max() < max(np.exp(-8), 1e-3)
    assert not sparse[3].any() and not sparse[~visible].any()
