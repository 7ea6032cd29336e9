"""The letterbox: original image pixels <-> the S x S model square (design.md §2, §3).

Pixel convention: the centre of pixel (row i, column j) is (x = j, y = i) in both frames.
With s = S / max(H, W) and the image centred,

    x_model = (x_orig + 0.5) * s - 0.5 + pad_x,   pad_x = (S - W * s) / 2   (same for y)

and the inverse is exact. Only numpy here; OpenCV is imported inside the image function.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Percentile estimates need no more pixels than this; more only costs time.
_PERCENTILE_SAMPLES = 1 << 20


@dataclass(frozen=True)
class Letterbox:
    size: int  # S
    height: int  # original H
    width: int  # original W
    scale: float  # s = S / max(H, W)
    pad_x: float
    pad_y: float

    @classmethod
    def fit(cls, height: int, width: int, size: int) -> Letterbox:
        if height <= 0 or width <= 0 or size <= 0:
            raise ValueError(f"cannot letterbox a {height}x{width} image into {size}x{size}")
        s = size / max(height, width)
        return cls(size=int(size), height=int(height), width=int(width), scale=s,
                   pad_x=(size - width * s) / 2.0, pad_y=(size - height * s) / 2.0)

    @property
    def pad(self) -> np.ndarray:
        return np.array([self.pad_x, self.pad_y])

    def to_model(self, xy: np.ndarray) -> np.ndarray:
        """(x, y) in original pixels [..., 2] -> model pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        return (xy + 0.5) * self.scale - 0.5 + self.pad

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """(x, y) in model pixels [..., 2] -> original pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        return (xy - self.pad + 0.5) / self.scale - 0.5

    def matrix(self) -> np.ndarray:
        """2x3 affine map original -> model, in OpenCV's warpAffine layout."""
        s = self.scale
        return np.array([[s, 0.0, 0.5 * s - 0.5 + self.pad_x], [0.0, s, 0.5 * s - 0.5 + self.pad_y]])

    def content_box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): the edges of the image inside the square, in model pixel edges."""
        return (self.pad_x, self.pad_y, self.pad_x + self.width * self.scale,
                self.pad_y + self.height * self.scale)

    def rescaled(self, size: int) -> Letterbox:
        """The same image in a square of another size (what resampling the square gives)."""
        return Letterbox.fit(self.height, self.width, size)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Letterbox:
        return cls(size=int(data["size"]), height=int(data["height"]), width=int(data["width"]),
                   scale=float(data["scale"]), pad_x=float(data["pad_x"]), pad_y=float(data["pad_y"]))


def intensity_range(pixels: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> tuple[float, float]:
    """Robust (low, high) of an image from a strided subsample of its pixels."""
    flat = np.asarray(pixels).reshape(-1)
    step = max(1, flat.size // _PERCENTILE_SAMPLES)
    sample = flat[::step]
    sample = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sample, [low_pct, high_pct])
    return float(lo), float(hi)


def letterbox_image(
    pixels: np.ndarray,
    size: int,
    *,
    low_pct: float = 0.5,
    high_pct: float = 99.5,
) -> tuple[np.ndarray, Letterbox]:
    """A grayscale image [H, W] -> the model's S x S input in [0, 1] (float32) and its letterbox.

    Intensities are clipped to the low/high percentiles and scaled to [0, 1]; the padding
    is 0. Downscaling first halves the image with Gaussian pyramid steps (pyrDown keeps
    pixel centres on the exact affine x_orig = 2 x_half, so the map stays exact) and then
    resamples bilinearly with the exact letterbox affine, which avoids aliasing without
    the rounding error of resizing to an integer content size.
    """
    import cv2

    img = np.asarray(pixels)
    if img.ndim != 2 or img.size == 0:
        raise ValueError(f"expected a non-empty [H, W] grayscale image, got shape {img.shape}")
    box = Letterbox.fit(img.shape[0], img.shape[1], size)
    img = img.astype(np.float32, copy=False)
    factor = 1
    while box.scale * factor * 2 <= 1.0 and min(img.shape) >= 2:
        img = cv2.pyrDown(img)
        factor *= 2
    lo, hi = intensity_range(img, low_pct, high_pct)
    span = hi - lo if hi > lo else 1.0
    img = np.clip((img - lo) * (1.0 / span), 0.0, 1.0, dtype=np.float32)
    # Compose: reduced -> original (x_orig = factor * x_red) -> model.
    m = box.matrix()
    m[:, :2] *= factor
    out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return out, box
