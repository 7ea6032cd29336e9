"""The letterbox: original image pixels <-> the model's H x W input (design.md §2, §3, §12).

Pixel convention: the centre of pixel (row i, column j) is (x = j, y = i) in both frames.
A letterbox fits a region of the original image (the whole image, or a crop of it for the
second prediction pass) into the model input, uniformly scaled and centred:

    x_model = (x_orig - crop_x + 0.5) * s - 0.5 + pad_x,   s = min(out_w / crop_w, out_h / crop_h)
    pad_x = (out_w - crop_w * s) / 2                        (same for y)

where the crop's left pixel edge is at x = crop_x - 0.5. With no crop (crop_x = 0, crop_w = W)
this is the plain letterbox of the whole image; the inverse is exact either way. Every
coordinate conversion between the two frames goes through this one type. Only numpy here;
OpenCV is imported inside the image function.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vam_gui.core.percentiles import integer_percentiles

# Percentile estimates need no more pixels than this; more only costs time.
_PERCENTILE_SAMPLES = 1 << 20

Size = int | tuple[int, int]


def size_hw(size: Size | list[int]) -> tuple[int, int]:
    """S or (H, W) -> (H, W)."""
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"a size is S or (H, W), got {size!r}")
        return int(size[0]), int(size[1])
    return int(size), int(size)


@dataclass(frozen=True)
class Letterbox:
    size: int  # max(out_h, out_w): S for a square input
    height: int  # original image H
    width: int  # original image W
    scale: float  # s
    pad_x: float
    pad_y: float
    out_h: int = 0  # model input H (0: size)
    out_w: int = 0  # model input W (0: size)
    crop_x: float = 0.0  # the crop's left pixel edge is at x = crop_x - 0.5 (original px)
    crop_y: float = 0.0
    crop_w: float = 0.0  # crop extent in original px (0: the whole image)
    crop_h: float = 0.0

    def __post_init__(self) -> None:
        # Old records (square, no crop) leave the new fields at 0: fill them in.
        if not self.out_h:
            object.__setattr__(self, "out_h", int(self.size))
        if not self.out_w:
            object.__setattr__(self, "out_w", int(self.size))
        if not self.crop_w:
            object.__setattr__(self, "crop_w", float(self.width))
        if not self.crop_h:
            object.__setattr__(self, "crop_h", float(self.height))

    @classmethod
    def fit(cls, height: int, width: int, size: Size,
            crop: tuple[float, float, float, float] | None = None) -> Letterbox:
        """Fit the image (or ``crop`` = (x0, y0, x1, y1), its pixel edges in original px)
        into a model input of ``size`` (S or (H, W))."""
        out_h, out_w = size_hw(size)
        if height <= 0 or width <= 0 or out_h <= 0 or out_w <= 0:
            raise ValueError(f"cannot letterbox a {height}x{width} image into {out_h}x{out_w}")
        if crop is None:
            cx, cy, cw, ch = 0.0, 0.0, float(width), float(height)
        else:
            x0, y0, x1, y1 = (float(v) for v in crop)
            if not (np.isfinite([x0, y0, x1, y1]).all() and x1 > x0 and y1 > y0):
                raise ValueError(f"not a crop box: {crop!r}")
            cx, cy, cw, ch = x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0
        s = min(out_w / cw, out_h / ch)
        return cls(size=max(out_h, out_w), height=int(height), width=int(width), scale=s,
                   pad_x=(out_w - cw * s) / 2.0, pad_y=(out_h - ch * s) / 2.0, out_h=out_h, out_w=out_w,
                   crop_x=cx, crop_y=cy, crop_w=cw, crop_h=ch)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the model input."""
        return self.out_h, self.out_w

    @property
    def is_crop(self) -> bool:
        return (self.crop_x, self.crop_y, self.crop_w, self.crop_h) != (0.0, 0.0, float(self.width),
                                                                         float(self.height))

    @property
    def pad(self) -> np.ndarray:
        return np.array([self.pad_x, self.pad_y])

    @property
    def offset(self) -> np.ndarray:
        return np.array([self.crop_x, self.crop_y])

    def to_model(self, xy: npt.ArrayLike) -> np.ndarray:
        """(x, y) in original pixels [..., 2] -> model pixels."""
        pts = np.asarray(xy, dtype=np.float64)
        out: np.ndarray = (pts - self.offset + 0.5) * self.scale - 0.5 + self.pad
        return out

    def to_original(self, xy: npt.ArrayLike) -> np.ndarray:
        """(x, y) in model pixels [..., 2] -> original pixels."""
        pts = np.asarray(xy, dtype=np.float64)
        out: np.ndarray = (pts - self.pad + 0.5) / self.scale - 0.5 + self.offset
        return out

    def matrix(self) -> np.ndarray:
        """2x3 affine map original -> model, in OpenCV's warpAffine layout."""
        s = self.scale
        return np.array([[s, 0.0, (0.5 - self.crop_x) * s - 0.5 + self.pad_x],
                         [0.0, s, (0.5 - self.crop_y) * s - 0.5 + self.pad_y]])

    def content_box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): the edges of the image content inside the model input, in model
        pixel edges (the crop clipped to the image; an empty box, x0 == x1 or y0 == y1, when
        the crop misses the image)."""
        x0, y0 = self.to_model([-0.5, -0.5]) + 0.5
        x1, y1 = self.to_model([self.width - 0.5, self.height - 0.5]) + 0.5
        x0, y0 = min(max(float(x0), 0.0), float(self.out_w)), min(max(float(y0), 0.0), float(self.out_h))
        return (x0, y0, min(max(float(x1), x0), float(self.out_w)), min(max(float(y1), y0), float(self.out_h)))

    def rescaled(self, size: Size) -> Letterbox:
        """The same region in a model input of another size (what resampling the input gives
        when the aspect is kept)."""
        x0, y0 = self.crop_x - 0.5, self.crop_y - 0.5
        crop = None if not self.is_crop else (x0, y0, x0 + self.crop_w, y0 + self.crop_h)
        return Letterbox.fit(self.height, self.width, size, crop)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Letterbox:
        extra: dict[str, Any] = {k: (int if k.startswith("out_") else float)(data[k])
                 for k in ("out_h", "out_w", "crop_x", "crop_y", "crop_w", "crop_h") if k in data}
        return cls(size=int(data["size"]), height=int(data["height"]), width=int(data["width"]),
                   scale=float(data["scale"]), pad_x=float(data["pad_x"]), pad_y=float(data["pad_y"]), **extra)


# The model input's intensity recipe (design.md §3): clip to these percentiles of the whole
# image, scale to [0, 1]. The one place it is defined; model configs (checkpoints) and dataset
# manifests both record it through intensity_recipe().
LOW_PCT = 0.5
HIGH_PCT = 99.5


def intensity_recipe() -> dict[str, Any]:
    """The intensity part of the input recipe, as recorded in checkpoints and manifests."""
    return {"intensity": "percentile", "low_pct": LOW_PCT, "high_pct": HIGH_PCT}


def intensity_range(pixels: np.ndarray, low_pct: float = LOW_PCT, high_pct: float = HIGH_PCT) -> tuple[float, float]:
    """Robust (low, high) of an image from a strided subsample of its pixels."""
    flat = np.asarray(pixels).reshape(-1)
    step = max(1, flat.size // _PERCENTILE_SAMPLES)
    sample = flat[::step]
    sample = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    if sample.size == 0:
        return 0.0, 1.0
    if sample.dtype == np.uint16 or sample.dtype == np.uint8:
        lo, hi = integer_percentiles(sample, (low_pct, high_pct))  # the same values, from a histogram
    else:
        lo, hi = np.percentile(sample, [low_pct, high_pct])
    return float(lo), float(hi)


def letterbox_image(
    pixels: np.ndarray,
    size: Size,
    *,
    low_pct: float = LOW_PCT,
    high_pct: float = HIGH_PCT,
    crop: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, Letterbox]:
    """A grayscale image [H, W] -> the model's input [H_m, W_m] in [0, 1] (float32) and its
    letterbox. ``size`` is S or (H_m, W_m); ``crop`` = (x0, y0, x1, y1) pixel edges in original
    px fits only that region (the second prediction pass); outside the image is padding.

    Intensities are clipped to the low/high percentiles of the whole image (not of the crop,
    so both passes and the training samples cut from a whole-image export see the same grey
    levels) and scaled to [0, 1]; the padding is 0. Downscaling first halves the image with
    Gaussian pyramid steps (pyrDown keeps pixel centres on the exact affine x_orig = 2 x_half,
    so the map stays exact) and then resamples bilinearly with the exact letterbox affine,
    which avoids aliasing without the rounding error of resizing to an integer content size.
    """
    import cv2

    img = np.asarray(pixels)
    if img.ndim != 2 or img.size == 0:
        raise ValueError(f"expected a non-empty [H, W] grayscale image, got shape {img.shape}")
    box = Letterbox.fit(img.shape[0], img.shape[1], size, crop)
    stored = img
    img = img.astype(np.float32, copy=False)
    factor = 1
    while box.scale * factor * 2 <= 1.0 and min(img.shape) >= 2:
        img = cv2.pyrDown(img)
        factor *= 2
    # Unreduced 8/16-bit pixels: their percentiles from the stored integers, the same values as
    # of their float32 copy (a histogram instead of a partition: 0.3 ms, not 4, on a film)
    whole = factor == 1 and stored.dtype in (np.uint8, np.uint16)
    lo, hi = intensity_range(stored if whole else img, low_pct, high_pct)
    span = hi - lo if hi > lo else 1.0
    # Compose: reduced -> original (x_orig = factor * x_red) -> model.
    m = box.matrix()
    m[:, :2] *= factor
    out = cv2.warpAffine(img, m, (box.out_w, box.out_h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=lo)
    return np.clip((out - lo) * (1.0 / span), 0.0, 1.0, dtype=np.float32), box
