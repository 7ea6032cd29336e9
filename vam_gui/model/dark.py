"""DARK decoding: sub-pixel keypoints from heatmaps (distribution-aware refinement).

For each heatmap: argmax; Gaussian blur (only the neighbourhood of the peak is blurred,
which gives the same values there as blurring the whole map); log; a second-order Taylor
expansion of the log-heatmap at the peak with the gradient and the full 2x2 Hessian (cross
term included): offset = -H^-1 grad. For a Gaussian peak the log is an exact quadratic, so
the refinement recovers the centre to a small fraction of a pixel.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import torch


def blur_kernel_size(sigma: float) -> int:
    """Odd blur width covering +-2.5 sigma: 11 for the default sigma = 2."""
    return 2 * math.ceil(2.5 * sigma) + 1


def _gaussian_taps(size: int, sigma: float, device, dtype) -> torch.Tensor:
    t = torch.arange(size, device=device, dtype=dtype) - size // 2
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    return g / g.sum()


def _centre_blur_matrix(taps: torch.Tensor, patch: int) -> torch.Tensor:
    """[patch, 3] matrix whose columns blur a 1-D profile at the patch centre - 1, 0, + 1."""
    half = taps.numel() // 2
    c = patch // 2
    m = torch.zeros(patch, 3, device=taps.device, dtype=taps.dtype)
    for col, shift in enumerate((-1, 0, 1)):
        start = c + shift - half
        m[start:start + taps.numel(), col] = taps
    return m


@functools.lru_cache(maxsize=32)
def _blur_matrix(ks: int, sigma: float, patch: int, device: torch.device) -> torch.Tensor:
    """``_centre_blur_matrix`` of the ``ks``-tap Gaussian, made once per size and device (a
    decode of one image's maps is a few dozen small tensor operations; these were ten of them)."""
    return _centre_blur_matrix(_gaussian_taps(ks, sigma, device, torch.float32), patch)


def _reflect(index: torch.Tensor, n: int) -> torch.Tensor:
    if n == 1:
        return torch.zeros_like(index)
    index = index.abs()
    index = torch.where(index > n - 1, 2 * (n - 1) - index, index)
    return index.clamp(0, n - 1)  # patches wider than the map: fall back to the edge


class Discs(NamedTuple):
    """Search windows as discs: each map's peak is looked for where ``(x - cx)^2 + (y - cy)^2
    <= radius^2`` (heatmap px, float32 arithmetic); a non-finite centre searches the whole map.
    The same windows as ``dense`` gives, found without making a [B, K, H, W] mask on the CPU
    (the mask and the masked argmax were 3-4 ms of a second prediction pass)."""

    centre: np.ndarray  # [B, K, 2] (x, y)
    radius: np.ndarray  # [B]

    def dense(self, h: int, w: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The windows as a bool [B, K, H, W] mask."""
        yy = torch.arange(h, dtype=torch.float32, device=device)[:, None]
        xx = torch.arange(w, dtype=torch.float32, device=device)[None, :]
        out = []
        for centres, r in zip(self.centre, self.radius):
            c = torch.as_tensor(np.asarray(centres, np.float32), device=device)
            d2 = (xx[None] - c[:, 0, None, None]) ** 2 + (yy[None] - c[:, 1, None, None]) ** 2
            win = d2 <= float(r) * float(r)
            win[~torch.isfinite(c).all(dim=1)] = True  # no centre: search everywhere
            out.append(win)
        return torch.stack(out)


def _disc_argmax(maps: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Flat index of each [H, W] map's maximum within its disc (``Discs``), read from the
    disc's bounding box: the first in row-major order, as the argmax of the masked map; 0 when
    the disc holds no pixel (the masked map is all -inf there)."""
    n, h, w = maps.shape
    out = np.zeros(n, np.int64)
    for i in range(n):
        cx, cy = np.float32(centres[i, 0]), np.float32(centres[i, 1])
        if not (np.isfinite(cx) and np.isfinite(cy)):
            out[i] = int(maps[i].argmax())
            continue
        r = float(radii[i])
        # the box, a pixel wider than the disc: float32 rounding decides the rim inside it
        x0, x1 = max(0, math.floor(cx - r) - 1), min(w, math.ceil(cx + r) + 2)
        y0, y1 = max(0, math.floor(cy - r) - 1), min(h, math.ceil(cy + r) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        dx = np.arange(x0, x1, dtype=np.float32) - cx
        dy = np.arange(y0, y1, dtype=np.float32) - cy
        inside = (dx * dx)[None, :] + (dy * dy)[:, None] <= np.float32(r * r)
        if inside.any():
            j = int(np.where(inside, maps[i, y0:y1, x0:x1], -np.inf).argmax())
            out[i] = (y0 + j // (x1 - x0)) * w + x0 + j % (x1 - x0)
    return out


def _peaks(flat: torch.Tensor, search: torch.Tensor | Discs | None, h: int,
           w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(peak value, flat index) of every map [N, H*W], the argmax within ``search`` if given."""
    if search is None:
        if flat.device.type != "cpu":
            return flat.max(dim=1)
        # numpy's row argmax: the same first maximum, 0.07 ms where torch's max took 0.8 for 20 maps
        idx = torch.from_numpy(flat.numpy().argmax(axis=1))
        return flat.gather(1, idx[:, None])[:, 0], idx
    if isinstance(search, Discs):
        if flat.device.type == "cpu":
            n = flat.shape[0]
            centres = np.asarray(search.centre, np.float32).reshape(n, 2)
            radii = np.repeat(np.asarray(search.radius, np.float64), n // len(search.radius))
            idx = torch.from_numpy(_disc_argmax(flat.numpy().reshape(n, h, w), centres, radii))
            return flat.gather(1, idx[:, None])[:, 0], idx
        search = search.dense(h, w, flat.device)
    allowed = search.reshape(flat.shape).to(flat.device)
    idx = torch.where(allowed, flat, torch.full_like(flat, -torch.inf)).argmax(dim=1)
    return flat.gather(1, idx[:, None])[:, 0], idx


def _peak_patches(flat: torch.Tensor, py: torch.Tensor, px: torch.Tensor, radius: int, h: int, w: int):
    """(patch [N, p, p] float, rows [N, p], cols [N, p]): the (2r+1)^2 pixels around every peak,
    with the unmirrored row and column indices (outside [0, h) or [0, w) beyond the border).

    Beyond the border the map is mirrored (OpenCV's default BORDER_REFLECT_101), so a peak on
    the edge is not pushed off it; the caller masks mirrored pixels out for the spread."""
    p = 2 * radius + 1
    offs = torch.arange(-radius, radius + 1, device=flat.device)
    rows_raw = py[:, None] + offs
    cols_raw = px[:, None] + offs
    rows = _reflect(rows_raw, h)
    cols = _reflect(cols_raw, w)
    gather = (rows[:, :, None] * w + cols[:, None, :]).reshape(flat.shape[0], p * p)
    patch = torch.gather(flat, 1, gather).reshape(flat.shape[0], p, p).float()
    return patch, rows_raw, cols_raw


def _taylor_offset(patch: torch.Tensor, ks: int, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(ox, oy) in [-1, 1]: -H^-1 grad of the blurred log-map at the patch centre, zero where
    the centre is not a maximum."""
    m = _blur_matrix(ks, float(sigma), patch.shape[-1], patch.device)  # [p, 3]
    blurred = m.T @ patch @ m  # [N, 3, 3]: the blurred map at the peak and its 8 neighbours
    lg = torch.log(blurred.clamp_min(1e-10))

    dx = 0.5 * (lg[:, 1, 2] - lg[:, 1, 0])
    dy = 0.5 * (lg[:, 2, 1] - lg[:, 0, 1])
    dxx = lg[:, 1, 2] - 2 * lg[:, 1, 1] + lg[:, 1, 0]
    dyy = lg[:, 2, 1] - 2 * lg[:, 1, 1] + lg[:, 0, 1]
    dxy = 0.25 * (lg[:, 2, 2] - lg[:, 2, 0] - lg[:, 0, 2] + lg[:, 0, 0])
    det = dxx * dyy - dxy * dxy
    # Only a maximum (negative-definite Hessian) is refined; elsewhere keep the argmax.
    ok = (det > 1e-12) & (dxx < 0)
    safe = torch.where(ok, det, torch.ones_like(det))
    ox = torch.where(ok, -(dyy * dx - dxy * dy) / safe, torch.zeros_like(det)).clamp(-1, 1)
    oy = torch.where(ok, -(dxx * dy - dxy * dx) / safe, torch.zeros_like(det)).clamp(-1, 1)
    return ox, oy


def _spread(patch: torch.Tensor, rows_raw: torch.Tensor, cols_raw: torch.Tensor, x: torch.Tensor,
            y: torch.Tensor, *, radius: int, reach: int, h: int, w: int) -> torch.Tensor:
    """Second moment of the positive part within +-reach of the peak, mirrored pixels left out."""
    inner = slice(radius - reach, radius + reach + 1)
    win = patch[:, inner, inner].clamp_min(0)
    rin = rows_raw[:, inner]
    cin = cols_raw[:, inner]
    inside = ((rin >= 0) & (rin < h))[:, :, None] & ((cin >= 0) & (cin < w))[:, None, :]
    win = win * inside
    ddx = cin.float() - x[:, None]
    ddy = rin.float() - y[:, None]
    mass = win.sum(dim=(1, 2))
    m2 = (win * (ddx[:, None, :] ** 2 + ddy[:, :, None] ** 2)).sum(dim=(1, 2))
    return torch.sqrt(0.5 * m2 / mass)  # NaN where the map has no positive mass


@torch.no_grad()
def dark_decode(
    heatmaps: torch.Tensor | np.ndarray,
    sigma: float = 2.0,
    *,
    kernel_size: int | None = None,
    search: torch.Tensor | Discs | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decode heatmaps [B, K, H, W] to (xy [B, K, 2], confidence [B, K], spread [B, K]).

    ``search`` (bool [B, K, H, W], or ``Discs``) restricts where each peak is looked for (a
    window around a point already known roughly); the refinement and the spread still read
    the heatmap.

    All in heatmap (model) pixels with the pixel convention of design.md §2. confidence is
    the heatmap's peak value. spread is an isotropic standard deviation: the square root of
    the mean of the x and y second moments of max(h, 0) about the decoded point within
    +-3 sigma of the peak (about 0.99 sigma for a clean target; NaN for an empty map).
    """
    hm = torch.as_tensor(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be [B, K, H, W], got {list(hm.shape)}")
    b, k, h, w = hm.shape
    ks = kernel_size or blur_kernel_size(sigma)
    if ks % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {ks}")
    reach = math.ceil(3 * sigma)
    radius = max(reach, ks // 2 + 1)

    flat = hm.reshape(b * k, h * w)
    conf, idx = _peaks(flat, search, h, w)
    py, px = idx // w, idx % w
    patch, rows_raw, cols_raw = _peak_patches(flat, py, px, radius, h, w)
    ox, oy = _taylor_offset(patch, ks, sigma)
    x = px.float() + ox
    y = py.float() + oy
    spread = _spread(patch, rows_raw, cols_raw, x, y, radius=radius, reach=reach, h=h, w=w)

    xy = torch.stack([x, y], dim=-1).reshape(b, k, 2)
    return xy, conf.float().reshape(b, k), spread.reshape(b, k)
