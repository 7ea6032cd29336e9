"""DARK decoding accuracy."""

import numpy as np
import pytest
import torch

from vam_gui.model import dark_decode, gaussian_heatmaps


def argmax_xy(maps):
    b, k, h, w = maps.shape
    idx = maps.reshape(b, k, -1).argmax(-1)
    return torch.stack([idx % w, idx // w], dim=-1).float()


def test_noise_free_subpixel_error_below_one_hundredth():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(4, 20, 2, generator=gen) * 100 + 14  # away from the border
    maps = gaussian_heatmaps(xy, 128)
    got, conf, spread = dark_decode(maps)
    assert got.shape == (4, 20, 2) and conf.shape == spread.shape == (4, 20)
    assert (got - xy).abs().max().item() < 0.01
    assert conf.min().item() > 0.85  # a sub-pixel centre lowers the sampled peak a little
    # spread of a clean sigma=2 target within +-3 sigma: just under sigma
    assert spread.mean().item() == pytest.approx(2.0, abs=0.05)


def test_beats_argmax_with_five_percent_noise():
    gen = torch.Generator().manual_seed(1)
    xy = torch.rand(8, 20, 2, generator=gen) * 100 + 14
    maps = gaussian_heatmaps(xy, 128)
    noisy = maps + 0.05 * torch.randn(maps.shape, generator=gen)
    dark_err = (dark_decode(noisy)[0] - xy).norm(dim=-1).mean().item()
    argmax_err = (argmax_xy(noisy) - xy).norm(dim=-1).mean().item()
    assert dark_err < 0.5 * argmax_err, (dark_err, argmax_err)
    assert dark_err < 0.15


def test_cross_term_matters_for_elongated_peaks():
    # An anisotropic, rotated Gaussian: without the Hessian's cross term the offset is wrong.
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    cx, cy = 30.4, 33.3
    dx, dy = xx - cx, yy - cy
    a, c, b = 1 / 8, 1 / 8, 0.09  # quadratic form with a strong xy coupling
    maps = torch.exp(-(a * dx**2 + 2 * b * dx * dy + c * dy**2))[None, None]
    got = dark_decode(maps)[0][0, 0]
    assert abs(got[0].item() - cx) < 0.05 and abs(got[1].item() - cy) < 0.05


def test_peaks_on_the_border_and_empty_maps_do_not_break():
    maps = gaussian_heatmaps(torch.tensor([[[0.0, 0.0], [63.0, 31.5]]]), 64)
    maps = torch.cat([maps, torch.zeros(1, 1, 64, 64)], dim=1)
    xy, conf, spread = dark_decode(maps)
    assert torch.isfinite(xy).all()
    assert (xy[0, 0] - torch.tensor([0.0, 0.0])).abs().max() < 0.5
    assert (xy[0, 1] - torch.tensor([63.0, 31.5])).abs().max() < 0.5
    assert conf[0, 2] == 0 and torch.isnan(spread[0, 2])


def test_accepts_numpy_and_half_precision():
    maps = gaussian_heatmaps(torch.tensor([[[20.3, 11.8]]]), 32).half().numpy()
    xy, _, _ = dark_decode(maps)
    assert np.allclose(xy.numpy()[0, 0], [20.3, 11.8], atol=0.05)


def test_search_window_finds_the_peak_near_a_prior():
    """Two peaks: the global maximum is the higher one; a search window around the lower one
    decodes the lower one as precisely as a map holding it alone."""
    import torch

    from vam_gui.model import dark_decode, gaussian_heatmaps

    true = torch.tensor([[[20.3, 30.6]]])
    other = torch.tensor([[[60.0, 70.0]]])
    maps = 0.8 * gaussian_heatmaps(true, (128, 96)) + gaussian_heatmaps(other, (128, 96))
    assert torch.allclose(dark_decode(maps)[0], other, atol=0.05)
    yy, xx = torch.meshgrid(torch.arange(128), torch.arange(96), indexing="ij")
    window = ((xx - 21) ** 2 + (yy - 30) ** 2 <= 36)[None, None]
    xy, conf, _ = dark_decode(maps, search=window)
    assert torch.allclose(xy, true, atol=0.05) and abs(float(conf) - 0.8) < 0.05  # the map at the argmax pixel


def test_disc_windows_decode_as_their_dense_mask():
    """``Discs`` (the predictor's second-pass windows) find each peak from the disc's bounding
    box on the CPU: the same points, confidences and spreads as the [B, K, H, W] mask they
    stand for, including discs reaching past the border, lying outside the map, holding no
    pixel, without a centre (the whole map), ties, and several images with their own radius."""
    from vam_gui.model.dark import Discs

    rng = np.random.default_rng(3)
    b, k, h, w = 3, 12, 64, 40
    maps = rng.random((b, k, h, w), dtype=np.float32)
    maps[0, 0] = 0.5  # a tie everywhere: the first pixel of the disc, row by row
    maps[1, 1, 10:14, 10:14] = 2.0  # a tied plateau inside a disc
    centre = np.stack([rng.uniform(-10, w + 10, (b, k)), rng.uniform(-10, h + 10, (b, k))], -1)
    centre[0, 0] = (20.0, 30.0)
    centre[1, 1] = (12.2, 11.7)
    centre[2, 2] = np.nan  # no prior: anywhere
    centre[2, 3] = (-40.0, 10.0)  # a disc beside the map: no pixel
    centre[0, 4] = (7.5, 9.5)  # a disc between pixels
    discs = Discs(centre.astype(np.float32), np.array([6.0, 7.3, 0.4]))
    heat = torch.from_numpy(maps)
    got = dark_decode(heat, search=discs)
    want = dark_decode(heat, search=discs.dense(h, w))
    for g, e in zip(got, want):
        assert torch.equal(torch.nan_to_num(g, nan=-1.0), torch.nan_to_num(e, nan=-1.0))


def test_the_cpu_peak_is_torchs_max_with_ties_and_nan():
    """Without a search window the CPU takes numpy's row argmax: the index and value torch's
    ``max(dim=1)`` gives, on maps full of ties and with a NaN."""
    from vam_gui.model.dark import _peaks

    rng = np.random.default_rng(0)
    for trial in range(100):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        flat = torch.from_numpy(rng.integers(0, 4, (5, h * w)).astype(np.float32))
        if trial % 3 == 0:
            flat[0, int(rng.integers(0, h * w))] = float("nan")
        want_value, want_index = flat.max(dim=1)
        value, index = _peaks(flat, None, h, w)
        assert torch.equal(index, want_index)
        assert torch.equal(torch.nan_to_num(value, nan=-9.0), torch.nan_to_num(want_value, nan=-9.0))
