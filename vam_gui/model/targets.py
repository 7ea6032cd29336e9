"""Gaussian heatmap targets (design.md §3.5) and the seed's loop as the numerical reference."""

from __future__ import annotations

import numpy as np
import torch


def _as_size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def gaussian_heatmaps(
    xy: torch.Tensor | np.ndarray,
    size: int | tuple[int, int],
    sigma: float = 2.0,
    visible: torch.Tensor | np.ndarray | None = None,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """One 2D Gaussian (peak 1, std ``sigma`` px) per keypoint, centred at (x, y) with the
    pixel convention of design.md §2 (pixel (i, j) has centre x = j, y = i).

    xy: [B, K, 2] (or [K, 2]) in heatmap pixels. A keypoint that is not visible, or whose
    coordinates are not finite, gets an all-zero map. Returns [B, K, H, W] (or [K, H, W])
    on xy's device.

    The Gaussian is separable, so it is built as the outer product of a row and a column
    profile: one multiply per output pixel, which keeps the cost at the memory-write floor.
    """
    xy_t = torch.as_tensor(xy)
    squeeze = xy_t.ndim == 2
    if squeeze:
        xy_t = xy_t.unsqueeze(0)
    if xy_t.ndim != 3 or xy_t.shape[-1] != 2:
        raise ValueError(f"xy must be [B, K, 2] or [K, 2], got {list(xy_t.shape)}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    h, w = _as_size(size)
    device = xy_t.device
    xy_t = xy_t.to(torch.float32)
    ok = torch.isfinite(xy_t).all(dim=-1)
    if visible is not None:
        vis = torch.as_tensor(visible, device=device)
        if squeeze and vis.ndim == 1:
            vis = vis.unsqueeze(0)
        ok = ok & vis.to(torch.bool).reshape(ok.shape)
    xy_t = torch.where(ok.unsqueeze(-1), xy_t, torch.zeros_like(xy_t))

    inv = -0.5 / float(sigma) ** 2
    xs = torch.arange(w, device=device, dtype=torch.float32)
    ys = torch.arange(h, device=device, dtype=torch.float32)
    gx = torch.exp((xs - xy_t[..., 0:1]) ** 2 * inv)  # [B, K, W]
    gy = torch.exp((ys - xy_t[..., 1:2]) ** 2 * inv) * ok.unsqueeze(-1)  # [B, K, H]
    out = torch.empty((*ok.shape, h, w), device=device, dtype=dtype)
    torch.mul(gy.to(dtype).unsqueeze(-1), gx.to(dtype).unsqueeze(-2), out=out)
    return out[0] if squeeze else out


def reference_heatmaps_loop(keypoints_batch: torch.Tensor, height: int, width: int,
                            sigma: float = 2.0) -> torch.Tensor:
    """The seed's ``generate_heatmap_batch``, kept verbatim in behaviour: the reference that
    tests and ``vam-gui bench`` compare :func:`gaussian_heatmaps` against."""
    b, k, _ = keypoints_batch.shape
    heatmaps = torch.zeros(b, k, height, width, device=keypoints_batch.device)
    y_grid, x_grid = torch.meshgrid(
        torch.arange(height, device=keypoints_batch.device),
        torch.arange(width, device=keypoints_batch.device),
        indexing="ij",
    )
    y_grid = y_grid.float()
    x_grid = x_grid.float()
    for bi in range(b):
        for ki in range(k):
            x, y = keypoints_batch[bi, ki]
            heatmaps[bi, ki] = torch.exp(-((x_grid - x) ** 2 + (y_grid - y) ** 2) / (2 * sigma**2))
    return heatmaps
