"""The phantom's rasteriser: anti-aliased polygons, the drawing canvas, outline helpers, and
the few OpenCV drawing helpers the film overlays share.

Pixel convention: the centre of pixel (row i, column j) is (x = j, y = i); an edge lands at its
sub-pixel position (exact along x, 1 / (2 n_sub) px along y). OpenCV's pixel centres are the
same, so its sub-pixel drawing (``SUB_BITS`` fractional bits) needs no offset either.
Only numpy at import; OpenCV inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

SUB_BITS = 4  # fractional bits of OpenCV's sub-pixel drawing
ONE = float(1 << SUB_BITS)  # one pixel in OpenCV's sub-pixel units

# ---------------------------------------------------------------------------------------
# Rasterisation
# ---------------------------------------------------------------------------------------


def _coverage_roi(
    poly: np.ndarray, height: int, width: int, n_sub: int = 16
) -> tuple[int, int, np.ndarray] | None:
    """Anti-aliased coverage of a simple polygon, clipped to the image, as (row0, col0, patch).

    Exact covered length along x; ``n_sub`` point-sampled sub-scanlines along y. Handles
    non-convex simple polygons of either orientation (signed crossings accumulate to the
    winding number, which is +-1 inside and 0 outside).
    """
    poly = np.asarray(poly, dtype=np.float64)
    xmin, ymin = poly.min(axis=0)
    xmax, ymax = poly.max(axis=0)
    r0 = max(0, int(math.floor(ymin + 0.5)))
    r1 = min(height, int(math.floor(ymax + 0.5)) + 1)
    c0 = max(0, int(math.floor(xmin + 0.5)))
    c1 = min(width, int(math.floor(xmax + 0.5)) + 1)
    if r0 >= r1 or c0 >= c1:
        return None
    nr, nc = r1 - r0, c1 - c0
    n_lines = nr * n_sub
    y_first = r0 - 0.5 + 0.5 / n_sub
    xa, ya = poly[:, 0], poly[:, 1]
    q = np.roll(poly, -1, axis=0)
    xb, yb = q[:, 0], q[:, 1]
    # Sub-scanline k crosses edge e when lo <= y_k < hi (half-open: a shared vertex counts once).
    lo = np.minimum(ya, yb)
    hi = np.maximum(ya, yb)
    i_lo = np.clip(np.ceil((lo - y_first) * n_sub), 0, n_lines).astype(np.int64)
    i_hi = np.clip(np.ceil((hi - y_first) * n_sub), 0, n_lines).astype(np.int64)
    counts = i_hi - i_lo
    total = int(counts.sum())
    if total == 0:
        return None
    e = np.repeat(np.arange(len(poly)), counts)
    starts = np.cumsum(counts) - counts
    k = i_lo[e] + (np.arange(total) - starts[e])
    y = y_first + k / n_sub
    x = xa[e] + (y - ya[e]) * ((xb[e] - xa[e]) / (yb[e] - ya[e]))
    sgn = np.sign(yb[e] - ya[e])
    row = k // n_sub
    # A crossing at x adds a step: the part of its pixel right of x, and all pixels after it.
    xl = x - (c0 - 0.5)
    jf = np.floor(xl)
    frac = (jf + 1.0) - xl
    j = jf.astype(np.int64)
    stride = nc + 1
    inside = (j >= 0) & (j < nc)
    acc = np.bincount(
        row[inside] * stride + j[inside], weights=sgn[inside] * frac[inside],
        minlength=nr * stride,
    )
    jc = np.maximum(j + 1, 0)
    ok = jc <= nc
    steps = np.bincount(row[ok] * stride + jc[ok], weights=sgn[ok], minlength=nr * stride)
    acc = acc.reshape(nr, stride) + np.cumsum(steps.reshape(nr, stride), axis=1)
    area2 = float(np.sum(xa * yb - xb * ya))
    cov = acc[:, :nc] * (-math.copysign(1.0, area2) / n_sub)
    return r0, c0, np.clip(cov, 0.0, 1.0).astype(np.float32)


def polygon_coverage(poly: np.ndarray, shape: tuple[int, int], *, n_sub: int = 16) -> np.ndarray:
    """Fractional pixel coverage [H, W] float32 of a simple polygon given as [N, 2] (x, y).

    Uses the vam_gui pixel convention, so a polygon vertex at (x, y) lands at that sub-pixel
    position: e.g. the coverage-weighted centroid of a rectangle is its centre.
    """
    height, width = int(shape[0]), int(shape[1])
    out = np.zeros((height, width), dtype=np.float32)
    res = _coverage_roi(np.asarray(poly, dtype=np.float64), height, width, n_sub)
    if res is not None:
        r0, c0, patch = res
        out[r0 : r0 + patch.shape[0], c0 : c0 + patch.shape[1]] = patch
    return out


def _signed_area2(poly: np.ndarray) -> float:
    q = np.roll(poly, -1, axis=0)
    return float(np.sum(poly[:, 0] * q[:, 1] - q[:, 0] * poly[:, 1]))


def _inset(poly: np.ndarray, dist: float) -> np.ndarray:
    """Offset every edge of a closed polygon inwards by ``dist`` (mitred vertices)."""
    p = np.asarray(poly, dtype=np.float64)
    nxt = np.roll(p, -1, axis=0)
    e = nxt - p
    e /= np.maximum(np.hypot(e[:, 0], e[:, 1]), 1e-12)[:, None]
    sign = 1.0 if _signed_area2(p) > 0 else -1.0
    n = sign * np.stack([-e[:, 1], e[:, 0]], axis=1)  # inward normal of edge i (p_i -> p_i+1)
    n_prev = np.roll(n, 1, axis=0)
    denom = np.maximum(1.0 + np.sum(n * n_prev, axis=1), 0.25)
    out: np.ndarray = p + dist * (n + n_prev) / denom[:, None]
    return out


class Canvas:
    """A float32 image that polygons are added into."""

    def __init__(self, height: int, width: int) -> None:
        self.h = height
        self.w = width
        self.img = np.zeros((height, width), dtype=np.float32)

    def add(self, poly: np.ndarray, value: float, n_sub: int = 8,
            texture: np.ndarray | None = None, tex_amp: float = 0.0) -> None:
        res = _coverage_roi(poly, self.h, self.w, n_sub)
        if res is None:
            return
        r0, c0, cov = res
        sl = (slice(r0, r0 + cov.shape[0]), slice(c0, c0 + cov.shape[1]))
        if texture is not None and tex_amp:
            self.img[sl] += cov * (value * (1.0 + tex_amp * texture[sl]))
        else:
            self.img[sl] += value * cov

    def add_shell(self, poly: np.ndarray, thickness: float, rim: float, fill: float,
                  n_sub: int = 8, texture: np.ndarray | None = None,
                  tex_amp: float = 0.0) -> None:
        """Fill with ``fill`` (optionally textured) plus ``rim`` on a band just inside the edge."""
        self.add(poly, fill + rim, n_sub, texture, tex_amp * fill / max(fill + rim, 1e-6))
        self.add(_inset(poly, thickness), -rim, n_sub)


# ---------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------


def bowed_side(a: np.ndarray, b: np.ndarray, bulge: float, m: int) -> np.ndarray:
    """Points a (included) .. b (excluded) on a quadratic bow bulging ``bulge`` towards (0, 0)."""
    t = np.arange(m, dtype=np.float64)[:, None] / m
    chord = b - a
    n = np.array([-chord[1], chord[0]]) / max(float(np.hypot(*chord)), 1e-12)
    mid = 0.5 * (a + b)
    if float(n @ (-mid)) < 0:
        n = -n
    out: np.ndarray = a + t * chord + (4.0 * t * (1.0 - t)) * bulge * n
    return out


def ellipse(cx: float, cy: float, rx: float, ry: float, m: int = 20,
             angle: float = 0.0) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, m, endpoint=False)
    ca, sa = math.cos(angle), math.sin(angle)
    x, y = rx * np.cos(t), ry * np.sin(t)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], axis=1)


def chaikin(poly: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Corner-cutting smoothing of a closed polygon (for organic, non-landmark outlines)."""
    p = np.asarray(poly, dtype=np.float64)
    for _ in range(iterations):
        q = np.roll(p, -1, axis=0)
        p = np.stack([0.75 * p + 0.25 * q, 0.25 * p + 0.75 * q], axis=1).reshape(-1, 2)
    return p


# ---------------------------------------------------------------------------------------
# OpenCV drawing (opaque objects composited over the normalised film)
# ---------------------------------------------------------------------------------------


def cv_points(pts: np.ndarray) -> np.ndarray:
    """Points for OpenCV's sub-pixel drawing, [N, 1, 2] int32."""
    return np.round(np.asarray(pts, dtype=np.float64) * ONE).astype(np.int32).reshape(-1, 1, 2)


def rect(c: np.ndarray, e: np.ndarray, half_along: float, half_across: float) -> np.ndarray:
    """Corners of a rectangle centred at ``c`` with its long axis along the unit vector ``e``."""
    n = np.array([-e[1], e[0]])
    return np.array([c - half_along * e - half_across * n, c + half_along * e - half_across * n,
                     c + half_along * e + half_across * n, c - half_along * e + half_across * n])


def mask(shape: tuple[int, int], draw: Callable[[np.ndarray], object], blur: float) -> np.ndarray:
    """[H, W] float32 alpha of what ``draw`` paints (255) into a uint8 layer, blurred if > 0.3."""
    import cv2

    layer = np.zeros(shape, dtype=np.uint8)
    draw(layer)
    m = layer.astype(np.float32) * (1.0 / 255.0)
    out: np.ndarray = cv2.GaussianBlur(m, (0, 0), blur) if blur > 0.3 else m
    return out


def paint(img: np.ndarray, draw: Callable[[np.ndarray], object], value: float, blur: float) -> None:
    """Composite one opaque layer (drawn by ``draw`` into a uint8 mask) at ``value``, in place."""
    import cv2

    layer = np.zeros(img.shape, dtype=np.uint8)
    draw(layer)
    alpha = layer.astype(np.float32) * (1.0 / 255.0)
    if blur > 0.3:
        alpha = np.asarray(cv2.GaussianBlur(alpha, (0, 0), blur))
    img += alpha * (value - img)
